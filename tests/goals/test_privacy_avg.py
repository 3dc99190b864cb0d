"""AVG self-service in goals (CONTRACT.md Rule 16): a resident's proposals and supports, and their
erasure with a fresh sign-in."""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import jwt
import pytest

from services.goals.app import create_app
from shared.clock import FixedClock
from shared.db import asyncpg_dsn
from tests.goals.conftest import NOW, Goals, goals_settings, new_area
from tests.support import AUDIENCE, ISSUER, Infra, eventually, serve


def person(infra: Infra, role: str, sub: str, *, auth_age: float | None = None) -> dict[str, str]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER, "aud": AUDIENCE, "sub": sub, "roles": [role], "municipalities": ["GM0479"],
        "iat": now, "exp": now + 600,
    }  # fmt: skip
    if auth_age is not None:
        claims["auth_time"] = int(now - auth_age)
    token = jwt.encode(claims, infra.keys.signing_key(), algorithm="RS256", headers={"kid": infra.keys.kid})
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
async def goals_app(infra: Infra) -> AsyncIterator[Goals]:
    clock = FixedClock(NOW)
    settings = goals_settings(infra, erasure_interval_seconds=0.2)
    async with serve(create_app(settings, clock=clock)) as client:
        yield Goals(client, settings, clock)


async def test_a_resident_reads_and_erases_their_proposals_and_supports(goals_app: Goals, infra: Infra) -> None:
    sub = f"resident-{secrets.token_hex(4)}"
    me = person(infra, "resident", sub)
    area = new_area()
    base = {"municipality": "GM0479", "area": area, "year": 2026}
    decided = (
        await goals_app.client.post("/v1/goal-proposals", json={**base, "title": "Tuin nr 3 verloedert"}, headers=me)
    ).json()
    still_open = (
        await goals_app.client.post("/v1/goal-proposals", json={**base, "title": "Hond nr 8 blaft"}, headers=me)
    ).json()
    neighbours = (
        await goals_app.client.post(
            "/v1/goal-proposals", json={**base, "title": "Meer bankjes"}, headers=person(infra, "resident", "other")
        )
    ).json()
    supported = await goals_app.client.post(f"/v1/goal-proposals/{neighbours['id']}/support", headers=me)
    assert supported.status_code in (200, 201), supported.text
    coordinator = person(infra, "coordinator", "coordinator-1")
    declined = await goals_app.client.post(
        f"/v1/goal-proposals/{decided['id']}/decline", json={"reason": "Geen doel voor de wijk"}, headers=coordinator
    )
    assert declined.status_code == 200, declined.text

    data = (await goals_app.client.get("/v1/me/data", headers=me)).json()
    assert {p["title"] for p in data["proposals"]} == {"Tuin nr 3 verloedert", "Hond nr 8 blaft"}
    assert [s["proposalId"] for s in data["supports"]] == [neighbours["id"]]

    assert (await goals_app.client.delete("/v1/me", headers=me)).status_code == 403  # not signed in just now
    erased = await goals_app.client.delete("/v1/me", headers=person(infra, "resident", sub, auth_age=30))
    assert erased.status_code == 202 and erased.json() == {"proposals": 2, "supports": 1}

    conn = await asyncpg.connect(
        asyncpg_dsn(infra.database_url), server_settings={"search_path": goals_app.settings.db_schema}
    )
    try:
        rows = {str(r["id"]): r for r in await conn.fetch("SELECT id, proposer, title FROM proposals")}
        supports = await conn.fetchval("SELECT count(*) FROM proposal_supports WHERE supporter = $1", sub)
    finally:
        await conn.close()
    assert supports == 0
    assert rows[decided["id"]]["proposer"] != sub and rows[still_open["id"]]["proposer"] != sub
    assert "nr 3" not in rows[decided["id"]]["title"]  # decided: its text goes at once
    assert rows[still_open["id"]]["title"] == "Hond nr 8 blaft"  # open: kept until decided
    assert (await goals_app.client.get("/v1/me/data", headers=me)).json()["proposals"] == []

    later = await goals_app.client.post(
        f"/v1/goal-proposals/{still_open['id']}/decline", json={"reason": "Niet haalbaar"}, headers=coordinator
    )
    assert later.status_code == 200, later.text

    async def text_gone() -> bool:
        shown = (await goals_app.client.get(f"/v1/goal-proposals/{still_open['id']}", headers=coordinator)).json()
        return "nr 8" not in str(shown.get("title"))

    await eventually(text_gone)
