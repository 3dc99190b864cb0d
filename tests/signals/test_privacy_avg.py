"""AVG self-service in signals (CONTRACT.md Rule 16): the caller's own data, erasure with a fresh
sign-in, and the audit of a signal for coordinators."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import jwt
import pytest
from aiokafka import AIOKafkaProducer

from services.signals.app import create_app
from shared.db import asyncpg_dsn
from shared.events.codes import Category, PartnerKind
from tests.signals.conftest import MUNICIPALITY, Partners, _signing_key, fresh_area, signals_settings
from tests.support import AUDIENCE, ISSUER, Infra, eventually, serve


class Privacy:
    def __init__(self, client: Any, infra: Infra, schema: str) -> None:
        self.client, self.infra, self.schema = client, infra, schema

    def headers(
        self, role: str, sub: str, *, auth_age: float | None = None, partner_id: str | None = None
    ) -> dict[str, str]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER, "aud": AUDIENCE, "sub": sub, "roles": [role], "municipalities": [MUNICIPALITY],
            "iat": now, "exp": now + 600,
        }  # fmt: skip
        if partner_id:
            claims["partner_id"] = partner_id
        if auth_age is not None:
            claims["auth_time"] = int(now - auth_age)
        token = jwt.encode(claims, _signing_key(self.infra), algorithm="RS256", headers={"kid": self.infra.keys.kid})
        return {"Authorization": f"Bearer {token}"}

    async def sql(self, query: str, *args: Any) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(asyncpg_dsn(self.infra.database_url), server_settings={"search_path": self.schema})
        try:
            return list(await conn.fetch(query, *args))
        finally:
            await conn.close()


@pytest.fixture(scope="module")
async def signals(infra: Infra) -> AsyncIterator[Privacy]:
    schema = f"signals_{secrets.token_hex(3)}"
    settings = signals_settings(infra, schema, retention_interval_seconds=0.2)
    async with serve(create_app(settings)) as client:
        yield Privacy(client, infra, schema)


async def report(p: Privacy, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    _, bu = fresh_area()
    body = {"municipality": MUNICIPALITY, "area": bu, "category": "vandalism", "urgency": "normal", **fields}
    r = await p.client.post("/v1/signals", json=body, headers=headers)
    assert r.status_code == 201, r.text
    signal: dict[str, Any] = r.json()["signal"]
    return signal


async def test_a_resident_reads_their_data_erases_it_and_coordinators_see_the_audit(signals: Privacy) -> None:
    sub = f"resident-{secrets.token_hex(4)}"
    me = signals.headers("resident", sub)
    coordinator = signals.headers("coordinator", "coordinator-1")
    closed = await report(
        signals, {**me, "Idempotency-Key": "k1"}, description="buurman A op 4", contactEmail="ik@example.nl"
    )
    still_open = await report(signals, me, description="buurman B op 6", contactEmail="ik@example.nl")
    rejected = await signals.client.post(
        f"/v1/signals/{closed['id']}/rejection", json={"reason": "geen zaak voor ons"}, headers=coordinator
    )
    assert rejected.status_code == 200, rejected.text

    data = (await signals.client.get("/v1/me/data", headers=me)).json()
    mine = {s["id"]: s for s in data["signals"]}
    assert set(mine) == {closed["id"], still_open["id"]}
    assert mine[closed["id"]]["description"] == "buurman A op 4"
    assert mine[closed["id"]]["contactEmail"] == "ik@example.nl"

    stale = await signals.client.delete("/v1/me", headers=signals.headers("resident", sub, auth_age=600))
    assert stale.status_code == 403
    assert (await signals.client.delete("/v1/me", headers=me)).status_code == 403  # no auth_time at all
    assert (
        await signals.client.delete("/v1/me", headers=signals.headers("coordinator", sub, auth_age=0))
    ).status_code == 403
    erased = await signals.client.delete("/v1/me", headers=signals.headers("resident", sub, auth_age=10))
    assert erased.status_code == 202 and erased.json() == {"signals": 2}

    rows = {str(r["id"]): r for r in await signals.sql("SELECT id, reporter, description, contact FROM signals")}
    assert all(r["reporter"] != sub for r in rows.values())
    assert rows[closed["id"]]["description"] is None  # final: its text goes at once
    assert rows[still_open["id"]]["description"] == "buurman B op 6"  # open: kept until final
    assert rows[closed["id"]]["contact"] is None and rows[still_open["id"]]["contact"] is None
    assert rows[closed["id"]]["reporter"] == rows[still_open["id"]]["reporter"] != sub
    scopes = [r["scope"] for r in await signals.sql("SELECT scope FROM idempotency_keys")]
    assert scopes and not any(sub in s for s in scopes)
    assert (await signals.client.get("/v1/me/data", headers=me)).json()["signals"] == []

    audit = await signals.client.get("/v1/audit", params={"objectId": closed["id"]}, headers=coordinator)
    assert audit.status_code == 200, audit.text
    assert [e["action"] for e in audit.json()["results"]] == ["export", "erasure"]
    assert sub not in json.dumps(audit.json())
    assert (await signals.client.get("/v1/audit", params={"objectId": closed["id"]}, headers=me)).status_code == 403

    closing = await signals.client.post(
        f"/v1/signals/{still_open['id']}/rejection", json={"reason": "dubbel"}, headers=coordinator
    )
    assert closing.status_code == 200, closing.text

    async def text_gone() -> bool:
        found = await signals.sql("SELECT description FROM signals WHERE id = $1", still_open["id"])
        return found[0]["description"] is None

    await eventually(text_gone)  # the erasure sweep, once the open signal became final


async def test_a_partners_read_of_a_description_is_in_the_audit(signals: Privacy, producer: AIOKafkaProducer) -> None:
    wk, bu = fresh_area()
    partners = Partners(signals.infra, signals.schema, producer)
    police = await partners.publish(areas=[wk], kind=PartnerKind.POLICE, categories=[Category.VANDALISM])
    coordinator = signals.headers("coordinator", "coordinator-2")
    r = await signals.client.post(
        "/v1/signals",
        json={
            "municipality": MUNICIPALITY,
            "area": bu,
            "category": "vandalism",
            "urgency": "normal",
            "description": "x",
        },
        headers=signals.headers("resident", f"resident-{secrets.token_hex(4)}"),
    )
    sid = r.json()["signal"]["id"]
    escalated = await signals.client.post(f"/v1/signals/{sid}/escalation", json={}, headers=coordinator)
    assert escalated.status_code == 200, escalated.text
    agent = signals.headers("partner_agent", "agent-7", partner_id=str(police))
    assert (await signals.client.get(f"/v1/signals/{sid}", headers=agent)).json()["description"] == "x"
    assert (await signals.client.get(f"/v1/signals/{sid}", headers=coordinator)).status_code == 200

    audit = (await signals.client.get("/v1/audit", params={"objectId": sid}, headers=coordinator)).json()
    assert [(e["action"], e["actor"]) for e in audit["results"]] == [("description_read", f"partner:{police}/agent-7")]
