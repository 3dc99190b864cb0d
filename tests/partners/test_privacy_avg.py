"""Partners keeps nothing about a person under their subject but idempotency scopes and the audit:
`DELETE /v1/me` replaces the subject there too (CONTRACT.md Rule 16), with a fresh sign-in only."""

from __future__ import annotations

import secrets
import time
from typing import Any

import asyncpg
import jwt

from shared.db import asyncpg_dsn
from tests.partners.conftest import Partners
from tests.support import AUDIENCE, ISSUER


def person(partners: Partners, sub: str, *, auth_age: float | None = None) -> dict[str, str]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER, "aud": AUDIENCE, "sub": sub, "roles": ["group_admin"], "municipalities": ["GM0479"],
        "iat": now, "exp": now + 600,
    }  # fmt: skip
    if auth_age is not None:
        claims["auth_time"] = int(now - auth_age)
    keys = partners.infra.keys
    return {"Authorization": f"Bearer {jwt.encode(claims, keys.signing_key(), 'RS256', headers={'kid': keys.kid})}"}


async def test_erasure_replaces_the_subject_in_idempotency_scopes(partners: Partners) -> None:
    sub = f"group-admin-{secrets.token_hex(4)}"
    conn = await asyncpg.connect(
        asyncpg_dsn(partners.infra.database_url), server_settings={"search_path": partners.settings.db_schema}
    )
    try:
        await conn.execute(
            "INSERT INTO idempotency_keys (scope, key, request_hash, status_code, response)"
            " VALUES ($1, 'k', 'h', 201, '{}')",
            f"contact:{secrets.token_hex(4)}:{sub}",
        )
        data = await partners.client.get("/v1/me/data", headers=person(partners, sub))
        assert data.status_code == 200 and data.json() == {"audit": []}
        stale = await partners.client.delete("/v1/me", headers=person(partners, sub, auth_age=900))
        assert stale.status_code == 403
        erased = await partners.client.delete("/v1/me", headers=person(partners, sub, auth_age=1))
        assert erased.status_code == 202
        scopes = [
            r["scope"] for r in await conn.fetch("SELECT scope FROM idempotency_keys WHERE scope LIKE 'contact:%'")
        ]
    finally:
        await conn.close()
    assert scopes and not any(s.endswith(sub) for s in scopes)
