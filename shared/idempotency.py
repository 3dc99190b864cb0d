"""`Idempotency-Key` on creating POSTs: same key and body, same answer; other body, 422.

`claim` runs first in the creating transaction. The first caller inserts the key and goes on
to create; a concurrent second caller blocks on the key's unique index until the first
commits, then gets the stored answer (so two retries racing never create twice).

`create_once` is the whole step for a creating use case: claim, create, keep the answer, commit.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import UnitOfWork
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


@dataclass(frozen=True)
class Once:
    """A creating command's Idempotency-Key (None: none given) and the hash of its body."""

    key: str | None
    body_hash: str


@dataclass(frozen=True)
class Created:
    body: dict[str, Any]
    status: int = 201


async def create_once(
    uow: UnitOfWork,
    once: Once,
    scope: str,
    create: Callable[[], Awaitable[dict[str, Any]]],
    reread: Callable[[UUID], Awaitable[dict[str, Any]]] | None = None,
) -> Created:
    """The first answer again when the key was used before; else create, keep the answer, commit.
    With `reread`, only the id is kept (a resident's free text is not copied past its retention)
    and a replay reads the object as it is now."""
    if once.key is not None:
        stored = await claim(uow.session, scope, once.key, once.body_hash)
        if stored is not None:
            if reread is not None and isinstance(stored.body, dict) and set(stored.body) == {"id"}:
                return Created(await reread(UUID(str(stored.body["id"]))), stored.status_code)
            return Created(stored.body, stored.status_code)
    body = await create()
    if once.key is not None:
        kept = {"id": body["id"]} if reread is not None else body
        await complete(uow.session, scope, once.key, 201, kept)
    await uow.commit()
    return Created(body)
