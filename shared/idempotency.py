"""`Idempotency-Key` on creating POSTs: same key and body, same answer; other body, 422.

`claim` runs first in the creating transaction. The first caller inserts the key and goes on
to create; a concurrent second caller blocks on the key's unique index until the first
commits, then gets the stored answer (so two retries racing never create twice).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from shared.errors import IdempotencyMismatch


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: Any


def request_hash(body: Any) -> str:
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


async def claim(session: AsyncSession, scope: str, key: str, body_hash: str) -> StoredResponse | None:
    """None: this request owns the key and must `complete` it; else the first answer."""
    inserted = await session.execute(
        text(
            "INSERT INTO idempotency_keys (scope, key, request_hash, status_code, response)"
            " VALUES (:scope, :key, :hash, 0, 'null'::jsonb) ON CONFLICT DO NOTHING RETURNING 1"
        ),
        {"scope": scope, "key": key, "hash": body_hash},
    )
    if inserted.scalar() is not None:
        return None
    row = (
        await session.execute(
            text(
                "SELECT request_hash, status_code, response FROM idempotency_keys WHERE scope = :scope AND key = :key"
            ),
            {"scope": scope, "key": key},
        )
    ).one()
    if row.request_hash != body_hash:
        raise IdempotencyMismatch("this Idempotency-Key was used with another request body")
    return StoredResponse(row.status_code, row.response)


async def complete(session: AsyncSession, scope: str, key: str, status_code: int, body: Any) -> None:
    await session.execute(
        text(
            "UPDATE idempotency_keys SET status_code = :status, response = CAST(:body AS jsonb)"
            " WHERE scope = :scope AND key = :key"
        ),
        {"scope": scope, "key": key, "status": status_code, "body": orjson.dumps(body).decode()},
    )
