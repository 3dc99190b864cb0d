"""A partner's webhook secret is shown in the first answer only (issue 18, item 2): a replay of the
same registration with the same Idempotency-Key answers the partner without the secret, and the
stored answer does not hold it, sealed or not."""

from __future__ import annotations

import secrets

import asyncpg

from shared.db import asyncpg_dsn
from tests.partners.conftest import Partners, new_municipality, registration


async def test_a_replayed_registration_does_not_show_the_webhook_secret_again(partners: Partners) -> None:
    m = new_municipality()
    body = registration(m)
    sub = f"coordinator-{secrets.token_hex(4)}"
    headers = {**partners.headers("coordinator", [m], sub=sub), "Idempotency-Key": secrets.token_hex(8)}
    first = await partners.client.post("/v1/partners", json=body, headers=headers)
    assert first.status_code == 201 and first.json()["webhookSecret"]

    replayed = await partners.client.post("/v1/partners", json=body, headers=headers)
    assert replayed.status_code == 201
    assert replayed.json()["partner"] == first.json()["partner"]
    assert "webhookSecret" not in replayed.json()

    conn = await asyncpg.connect(
        asyncpg_dsn(partners.infra.database_url), server_settings={"search_path": partners.settings.db_schema}
    )
    try:
        stored = await conn.fetchval("SELECT response::text FROM idempotency_keys WHERE scope = $1", f"register:{sub}")
    finally:
        await conn.close()
    assert stored is not None and "Secret" not in stored
