"""A stored proposal answer keeps the id only, not the resident's text (issue 18, item 2); a replay
with the same Idempotency-Key answers the proposal as it is now."""

from __future__ import annotations

import secrets

import asyncpg

from shared.db import asyncpg_dsn
from tests.goals.conftest import Goals, new_area
from tests.support import Infra


async def test_a_stored_proposal_answer_keeps_no_free_text(goals: Goals, infra: Infra) -> None:
    sub = f"resident-{secrets.token_hex(4)}"
    proposer = {**infra.headers("resident", sub=sub), "Idempotency-Key": secrets.token_hex(8)}
    body = {
        "municipality": "GM0479",
        "area": new_area(),
        "year": 2026,
        "title": "De familie op nummer 7 laat de tuin verloederen",
    }
    first = await goals.client.post("/v1/goal-proposals", json=body, headers=proposer)
    assert first.status_code == 201, first.text
    again = await goals.client.post("/v1/goal-proposals", json=body, headers=proposer)
    assert again.status_code == 201 and again.json() == first.json()

    conn = await asyncpg.connect(
        asyncpg_dsn(infra.database_url), server_settings={"search_path": goals.settings.db_schema}
    )
    try:
        stored = await conn.fetchval(
            "SELECT response::text FROM idempotency_keys WHERE scope = $1", f"goals.propose:{sub}"
        )
    finally:
        await conn.close()
    assert stored is not None and "nummer 7" not in stored and first.json()["id"] in stored
