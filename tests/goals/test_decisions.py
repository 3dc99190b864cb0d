"""Decisions that take effect, goals that continue, partial quarters, rejected signals counted
nowhere, and residents' proposals counted where they live (CONTRACT.md "Goals: residents'
proposals counted where they live"), against the real PostgreSQL and Kafka."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any
from uuid import uuid4

import asyncpg
import pytest

from services.goals.app import create_app
from shared.clock import FixedClock
from shared.crypto import resident_ref
from shared.db import asyncpg_dsn
from shared.events.catalog import ResidentJoined, ResidentLeft, SignalReceived, SignalRejected
from shared.events.codes import Category, SignalSource, SignalStatus, Urgency
from tests.goals.conftest import NOW, Goals, Wire, goals_settings, new_area
from tests.goals.test_api import goal_body
from tests.support import Infra, TopicReader, eventually, serve

REF_KEY = secrets.token_urlsafe(32)


@pytest.fixture(scope="module")
async def goals(infra: Infra) -> AsyncIterator[Goals]:
    clock = FixedClock(NOW)
    settings = goals_settings(infra, secrets_key=secrets.token_urlsafe(32), resident_ref_key=REF_KEY)
    async with serve(create_app(settings, clock=clock)) as client:
        yield Goals(client, settings, clock)


COORDINATOR_ROLE = "coordinator"


async def review(goals: Goals, infra: Infra, goal_id: str, decision: str, quarter: str = "2026-Q4") -> Any:
    body = {"quarter": quarter, "assessment": "on_track", "decision": decision}
    return await goals.client.post(f"/v1/goals/{goal_id}/reviews", json=body, headers=infra.headers(COORDINATOR_ROLE))


async def test_replace_drops_the_goal_and_frees_its_slot_achieved_achieves(goals: Goals, infra: Infra) -> None:
    area = new_area()
    coordinator = infra.headers(COORDINATOR_ROLE)
    ids = []
    for i in range(3):
        r = await goals.client.post("/v1/goals", json=goal_body(area, title=f"Doel {i}"), headers=coordinator)
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    assert (await goals.client.post("/v1/goals", json=goal_body(area), headers=coordinator)).status_code == 409

    assert (await review(goals, infra, ids[0], "replace")).status_code == 201
    assert (await goals.client.get(f"/v1/goals/{ids[0]}", headers=coordinator)).json()["status"] == "dropped"
    fourth = await goals.client.post("/v1/goals", json=goal_body(area, title="In de plaats"), headers=coordinator)
    assert fourth.status_code == 201, fourth.text

    assert (await review(goals, infra, ids[1], "achieved")).status_code == 201
    assert (await goals.client.get(f"/v1/goals/{ids[1]}", headers=coordinator)).json()["status"] == "achieved"
    assert (await review(goals, infra, ids[2], "continue")).status_code == 201
    assert (await goals.client.get(f"/v1/goals/{ids[2]}", headers=coordinator)).json()["status"] == "active"


async def signal_received(wire: Wire, area: str, when: datetime) -> Any:
    data = SignalReceived(
        signal_id=uuid4(),
        reference=f"SIG-2026-{secrets.randbelow(10**6):06d}",
        municipality="GM0479",
        area=area,
        category=Category.LITTER_DUMPING,
        urgency=Urgency.NORMAL,
        status=SignalStatus.RECEIVED,
        source=SignalSource.APP,
        received_at=when,
    )
    await wire.send(wire.envelope(data, 1))
    return data


async def test_rejected_signals_count_in_no_indicator_and_a_running_quarter_is_partial(
    goals: Goals, wire: Wire, infra: Infra
) -> None:
    area = new_area()
    bu = "BU" + area[2:] + "01"
    coordinator = infra.headers(COORDINATOR_ROLE)
    goal = (await goals.client.post("/v1/goals", json=goal_body(area), headers=coordinator)).json()
    when = NOW - timedelta(days=2)
    kept = await signal_received(wire, bu, when)
    rejected = await signal_received(wire, bu, when)
    facts = {k: getattr(rejected, k) for k in ("signal_id", "reference", "municipality", "area", "category", "urgency")}
    await wire.send(wire.envelope(SignalRejected(**facts, status=SignalStatus.REJECTED, rejected_at=NOW), 2))
    assert kept.signal_id != rejected.signal_id

    conn = await asyncpg.connect(
        asyncpg_dsn(infra.database_url), server_settings={"search_path": goals.settings.db_schema}
    )
    try:

        async def both_applied() -> bool:  # the kept one reported, the other rejected
            rows = await conn.fetch(
                "SELECT status FROM signal_facts WHERE signal_id = ANY($1) AND received_at IS NOT NULL",
                [kept.signal_id, rejected.signal_id],
            )
            return sorted(r["status"] for r in rows) == ["received", "rejected"]

        await eventually(both_applied, timeout=30, interval=0.2)
    finally:
        await conn.close()
    stats = await goals.client.get(
        "/v1/area-statistics", params={"area": bu, "quarter": "2026-Q4"}, headers=coordinator
    )
    assert stats.json()["signalCount"] == 1
    current = (await goals.client.get(f"/v1/goals/{goal['id']}/measurements", headers=coordinator)).json()
    assert [(m["value"], m["partial"]) for m in current] == [(1.0, True)]
    past = (await goals.client.get(f"/v1/goals/{goal['id']}/measurements?quarter=2026-Q3", headers=coordinator)).json()
    assert [(m["value"], m["partial"]) for m in past] == [(0.0, False)]


async def test_a_goal_continues_into_the_next_year_with_its_last_value_as_baseline(
    goals: Goals, wire: Wire, infra: Infra
) -> None:
    area = new_area()
    coordinator = infra.headers(COORDINATOR_ROLE)
    goal = (await goals.client.post("/v1/goals", json=goal_body(area), headers=coordinator)).json()
    await signal_received(wire, area, NOW - timedelta(days=1))

    async def measured() -> bool:
        r = await goals.client.get(f"/v1/goals/{goal['id']}/measurements", headers=coordinator)
        return bool(r.json()[0]["value"] == 1.0)

    await eventually(measured, timeout=30, interval=0.2)
    url = f"/v1/goals/{goal['id']}/continuation"
    assert (await goals.client.post(url, json={"year": 2027}, headers=infra.headers("resident"))).status_code == 403
    wrong = await goals.client.post(url, json={"year": 2028}, headers=coordinator)
    assert wrong.status_code == 400 and [p["name"] for p in wrong.json()["invalidParams"]] == ["year"]
    async with TopicReader(infra, "goal.set") as reader:
        r = await goals.client.post(url, json={"year": 2027}, headers=coordinator)
        assert r.status_code == 201, r.text
        successor = r.json()
        seen = await reader.until(lambda s: any(str(d.goal_id) == successor["id"] for _, d, _ in s))
    assert (successor["year"], successor["status"], successor["title"]) == (2027, "active", goal["title"])
    assert successor["indicators"][0]["baseline"] == 1.0 and successor["indicators"][0]["target"] == 10.0
    event = next(d for _, d, _ in seen if str(d.goal_id) == successor["id"])
    assert str(event.continues_goal_id) == goal["id"]
    # it counts towards 2027's three
    for i in range(2):
        body = goal_body(area, year=2027, title=f"Nog een {i}")
        assert (await goals.client.post("/v1/goals", json=body, headers=coordinator)).status_code == 201
    assert (await goals.client.post(url, json={"year": 2027}, headers=coordinator)).status_code == 409


async def test_support_from_the_area_counts_residents_who_joined_it_and_decisions_are_told(
    goals: Goals, wire: Wire, infra: Infra
) -> None:
    area = new_area()
    bu = "BU" + area[2:] + "07"
    neighbour, elsewhere, proposer = (f"resident-{secrets.token_hex(4)}" for _ in range(3))
    for who, where in ((neighbour, bu), (elsewhere, "BU04799901")):
        joined = ResidentJoined(resident=resident_ref(REF_KEY, who), municipality="GM0479", area=where, joined_at=NOW)
        await wire.send(wire.envelope(joined, 1, source="neighbourhoods"))
    email = f"{secrets.token_hex(4)}@example.org"
    body = {"municipality": "GM0479", "area": area, "year": 2026, "title": "Meer groen", "contactEmail": email}
    r = await goals.client.post("/v1/goal-proposals", json=body, headers=infra.headers("resident", sub=proposer))
    assert r.status_code == 201, r.text
    proposal = r.json()
    assert "contactEmail" not in proposal and email not in r.text
    bad = await goals.client.post(
        "/v1/goal-proposals", json={**body, "contactEmail": "geen adres"}, headers=infra.headers("resident")
    )
    assert bad.status_code == 400 and [p["name"] for p in bad.json()["invalidParams"]] == ["contactEmail"]

    url = f"/v1/goal-proposals/{proposal['id']}"
    for who in (neighbour, elsewhere):
        supported = await goals.client.post(f"{url}/support", headers=infra.headers("resident", sub=who))
        assert supported.status_code == 200, supported.text

    async def counted(expected: int) -> bool:
        found = (await goals.client.get(url, headers=infra.headers("resident"))).json()
        return bool(found["supportCount"] == 2 and found["supportFromArea"] == expected)

    await eventually(lambda: counted(1), timeout=30, interval=0.2)
    left = ResidentLeft(
        resident=resident_ref(REF_KEY, neighbour), municipality="GM0479", area=bu, left_at=NOW + timedelta(minutes=1)
    )
    await wire.send(wire.envelope(left, 2, source="neighbourhoods"))
    await eventually(lambda: counted(0), timeout=30, interval=0.2)

    # the address is sealed at rest and opened for the notifications service only
    conn = await asyncpg.connect(
        asyncpg_dsn(infra.database_url), server_settings={"search_path": goals.settings.db_schema}
    )
    try:
        sealed = await conn.fetchval("SELECT contact_sealed FROM proposals WHERE id = $1", proposal["id"])
    finally:
        await conn.close()
    assert sealed is not None and email.encode() not in bytes(sealed)
    contact = f"/internal/v1/goal-proposals/{proposal['id']}/contact"
    assert (await goals.client.get(contact, headers=infra.headers(COORDINATOR_ROLE))).status_code == 403
    service = {"Authorization": f"Bearer {infra.token('service', [], sub='notifications', roles=['service'])}"}
    assert (await goals.client.get(contact, headers=service)).json() == {"email": email}

    async with TopicReader(infra, "goal.proposal_decided") as reader:
        declined = await goals.client.post(
            f"{url}/decline", json={"reason": "Past niet bij de wijkaanpak"}, headers=infra.headers(COORDINATOR_ROLE)
        )
        assert declined.status_code == 200, declined.text
        seen = await reader.until(lambda s: any(str(d.proposal_id) == proposal["id"] for _, d, _ in s))
    envelope, data, _ = next(e for e in seen if str(e[1].proposal_id) == proposal["id"])
    assert (data.decision, data.area, data.goal_id, data.decided_at) == ("declined", area, None, NOW)
    raw = envelope.model_dump_json()
    assert "Past niet" not in raw and email not in raw and proposer not in raw


async def test_adopting_a_proposal_tells_its_goal(goals: Goals, infra: Infra) -> None:
    area = new_area()
    body = {"municipality": "GM0479", "area": area, "year": 2026, "title": "Veilig oversteken"}
    proposal = (await goals.client.post("/v1/goal-proposals", json=body, headers=infra.headers("resident"))).json()
    async with TopicReader(infra, "goal.proposal_decided") as reader:
        adopted = await goals.client.post(
            f"/v1/goal-proposals/{proposal['id']}/adoption", json={}, headers=infra.headers(COORDINATOR_ROLE)
        )
        assert adopted.status_code == 201, adopted.text
        seen = await reader.until(lambda s: any(str(d.proposal_id) == proposal["id"] for _, d, _ in s))
    envelope, data, _ = next(e for e in seen if str(e[1].proposal_id) == proposal["id"])
    assert (data.decision, str(data.goal_id), int(envelope.sequence)) == ("adopted", adopted.json()["id"], 2)
