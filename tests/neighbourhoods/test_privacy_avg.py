"""AVG self-service in neighbourhoods (CONTRACT.md Rule 16): a resident reads their memberships and
the initiatives they lead (with the contact address they gave) or joined, and erases them with a
fresh sign-in: memberships end with `resident_left`, participations in active initiatives end,
texts of their ended initiatives go at once and of active ones once ended, and their pseudonym
gives way to a random one everywhere."""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

import jwt
import pytest_asyncio
from aiokafka import AIOKafkaProducer

from services.neighbourhoods.app import create_app
from services.neighbourhoods.privacy import ERASED_TITLE
from shared.clock import FixedClock
from shared.crypto import resident_ref
from tests.neighbourhoods.conftest import (
    RESIDENT_REF_KEY,
    START,
    NeighbourhoodsApp,
    Partners,
    bu,
    fresh_district,
    nbh_settings,
)
from tests.support import AUDIENCE, ISSUER, Infra, TopicReader, eventually, serve


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def avg_app(infra: Infra, producer: AIOKafkaProducer) -> AsyncIterator[NeighbourhoodsApp]:
    schema = f"neighbourhoods_{secrets.token_hex(3)}"
    settings = nbh_settings(infra, schema, erasure_interval_seconds=0.2)
    clock = FixedClock(START)
    async with serve(create_app(settings, clock=clock)) as client:
        yield NeighbourhoodsApp(client, settings, Partners(infra, schema, producer), infra, clock)


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


def _start(area: str, title: str, **extra: Any) -> dict[str, Any]:
    return {"municipality": "GM0479", "area": area, "title": title, "kind": "cleanup", **extra}


async def _started(app: NeighbourhoodsApp, headers: dict[str, str], body: dict[str, Any], **more: str) -> str:
    r = await app.client.post("/v1/initiatives", json=body, headers={**headers, **more})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def test_a_resident_reads_their_memberships_and_initiatives_with_the_address_they_gave(
    avg_app: NeighbourhoodsApp,
) -> None:
    app, district = avg_app, fresh_district()
    sub = f"resident-{secrets.token_hex(4)}"
    me = person(app.infra, "resident", sub)
    assert (await app.client.put(f"/v1/me/neighbourhoods/{bu(district, 1)}", headers=me)).status_code == 200
    body = _start(bu(district, 1), "Bankje bij nr 7", description="De buurman van 7 helpt", contactEmail="ik@ex.test")
    led = await _started(app, me, body)
    neighbours = await _started(app, person(app.infra, "resident", f"other-{sub}"), _start(bu(district, 2), "Tuin"))
    assert (await app.client.post(f"/v1/initiatives/{neighbours}/join", headers=me)).status_code == 200

    data = await app.client.get("/v1/me/data", headers=me)
    assert data.status_code == 200, data.text
    found = data.json()
    assert [(m["area"], m["municipality"]) for m in found["memberships"]] == [(bu(district, 1), "GM0479")]
    [mine] = found["initiativesLed"]
    assert (mine["id"], mine["title"], mine["description"], mine["contactEmail"]) == (
        led, "Bankje bij nr 7", "De buurman van 7 helpt", "ik@ex.test",
    )  # fmt: skip
    assert [(j["id"], j["title"]) for j in found["initiativesJoined"]] == [(neighbours, "Tuin")]
    assert [(e["objectId"], e["action"], e["actor"]) for e in found["audit"]] == [(led, "export", "data_subject")]
    assert sub not in data.text and resident_ref(RESIDENT_REF_KEY, sub) not in data.text

    stranger = (await app.client.get("/v1/me/data", headers=person(app.infra, "resident", f"x-{sub}"))).json()
    assert (stranger["memberships"], stranger["initiativesLed"], stranger["initiativesJoined"]) == ([], [], [])
    service = await app.client.get("/v1/me/data", headers=app.headers("service", sub="notifications"))
    assert service.status_code == 403 and service.json()["code"] == "FORBIDDEN"


async def test_erasure_ends_memberships_and_participations_and_removes_texts_and_address(
    avg_app: NeighbourhoodsApp,
) -> None:
    app, district = avg_app, fresh_district()
    sub = f"resident-{secrets.token_hex(4)}"
    ref = resident_ref(RESIDENT_REF_KEY, sub)
    me = person(app.infra, "resident", sub)
    other = person(app.infra, "resident", f"other-{sub}")
    coordinator = app.headers("coordinator")
    await app.client.put(f"/v1/me/neighbourhoods/{bu(district, 1)}", headers=me)
    asks = [{"kind": "material", "note": "grijpers van nr 5"}]
    active = await _started(
        app, me, _start(bu(district, 1), "Actief bij nr 3", description="Jan helpt", contactEmail="ik@ex.test"),
        **{"Idempotency-Key": f"k-{sub}"},
    )  # fmt: skip
    done = await _started(app, me, _start(bu(district, 1), "Klaar bij nr 4", description="Piet", asks=asks))
    ended = await app.client.post(f"/v1/initiatives/{done}/complete", json={"outcome": "Kees deed mee"}, headers=me)
    assert ended.status_code == 200, ended.text
    still_running = await _started(app, other, _start(bu(district, 2), "Andermans actief"))
    stopped = await _started(app, other, _start(bu(district, 2), "Andermans gestopt"))
    for joined in (still_running, stopped):
        assert (await app.client.post(f"/v1/initiatives/{joined}/join", headers=me)).status_code == 200
    await app.client.post(f"/v1/initiatives/{stopped}/stop", json={"reason": "regen"}, headers=other)

    stale = await app.client.delete("/v1/me", headers=person(app.infra, "resident", sub, auth_age=3600))
    assert stale.status_code == 403 and stale.json()["code"] == "FORBIDDEN"
    partner = await app.client.delete("/v1/me", headers=person(app.infra, "partner_agent", sub, auth_age=5))
    assert partner.status_code == 403

    types = ("neighbourhood.resident_left", "initiative.participants_changed")
    async with TopicReader(app.infra, *types) as reader:
        erased = await app.client.delete("/v1/me", headers=person(app.infra, "resident", sub, auth_age=5))
        assert erased.status_code == 202, erased.text
        assert erased.json() == {"memberships": 1, "initiativesLed": 2, "participations": 2}
        seen = await reader.until(
            lambda s: (
                any(e.subject == ref for e, _, _ in s)
                and any(e.event_type == types[1] and str(d.initiative_id) == still_running for e, d, _ in s)
            )
        )
    [left] = [d for e, d, _ in seen if e.subject == ref]
    assert (left.resident, left.area) == (ref, bu(district, 1))  # goals' supportFromArea follows
    assert all(sub not in e.model_dump_json() for e, _, _ in seen)

    rows = {
        str(r["id"]): r
        for r in await app.sql(
            "SELECT id, leader, title, description, outcome, asks::text AS asks, contact, erased FROM initiatives"
            " WHERE id = ANY($1::uuid[])",
            [active, done],
        )
    }
    assert rows[active]["contact"] is None and rows[active]["title"] == "Actief bij nr 3"  # active: kept until it ends
    assert (rows[done]["title"], rows[done]["description"], rows[done]["outcome"]) == (ERASED_TITLE, None, None)
    assert "nr 5" not in rows[done]["asks"] and "material" in rows[done]["asks"]
    assert all(r["leader"].startswith("erased-") for r in rows.values())
    for table, column in (("memberships", "resident"), ("participants", "resident"), ("initiatives", "leader")):
        assert await app.sql(f"SELECT 1 FROM {table} WHERE {column} = $1", ref) == []
    assert await app.sql("SELECT 1 FROM idempotency_keys WHERE scope LIKE $1", f"%{ref}%") == []
    assert await app.sql("SELECT 1 FROM personal_data_audit WHERE data_subject = $1", ref) == []
    audit = await app.sql(
        "SELECT object_id FROM personal_data_audit WHERE action = 'erasure' AND data_subject LIKE 'erased-%'"
    )
    assert {active, done} <= {r["object_id"] for r in audit}

    counts = {
        i: (await app.client.get(f"/v1/initiatives/{i}", headers=other)).json()["participantCount"]
        for i in (still_running, stopped)
    }
    assert counts == {still_running: 1, stopped: 2}  # left the active one; an ended one keeps its count
    after = (await app.client.get("/v1/me/data", headers=me)).json()
    assert (after["memberships"], after["initiativesLed"], after["initiativesJoined"]) == ([], [], [])

    # The active initiative's texts go once it ends (a coordinator ends it: its leader is gone).
    closing = await app.client.post(f"/v1/initiatives/{active}/complete", json={"outcome": "Jan"}, headers=coordinator)
    assert closing.status_code == 200, closing.text

    async def blanked() -> bool:
        [row] = await app.sql("SELECT title, description, outcome FROM initiatives WHERE id = $1::uuid", active)
        return (row["title"], row["description"], row["outcome"]) == (ERASED_TITLE, None, None)

    await eventually(blanked, timeout=10)
    again = await app.client.delete("/v1/me", headers=person(app.infra, "resident", sub, auth_age=5))
    assert again.json() == {"memberships": 0, "initiativesLed": 0, "participations": 0}  # nothing left to erase
