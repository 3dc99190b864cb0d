"""Indicators beyond complaints: reporters' satisfaction, residents' initiatives and their
participants (from events on the real wire), and values a coordinator records by hand."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

from shared.events.catalog import (
    InitiativeCompleted,
    InitiativeParticipantsChanged,
    InitiativeStarted,
    InitiativeStopped,
    SignalRated,
)
from shared.events.codes import Category, InitiativeKind, InitiativeStatus, SignalStatus, Urgency
from tests.goals.conftest import NOW, Goals, Wire, new_area
from tests.goals.test_api import goal_body
from tests.support import Infra, eventually

INDICATORS = [
    {"kind": "satisfied_share", "target": 0.8, "direction": "increase"},
    {"kind": "initiatives", "target": 3, "direction": "increase"},
    {"kind": "participants", "target": 30, "direction": "increase"},
    {"kind": "manual", "baseline": 6.1, "target": 7, "direction": "increase"},
]


async def rated(wire: Wire, area: str, satisfied: bool, *, rating_id: UUID | None = None, later: int = 0) -> UUID:
    rating_id = rating_id or uuid4()
    data = SignalRated(
        signal_id=uuid4(),
        reference=f"SIG-2026-{secrets.randbelow(10**6):06d}",
        municipality="GM0479",
        area=area,
        category=Category.YOUTH_NUISANCE,
        urgency=Urgency.NORMAL,
        status=SignalStatus.RESOLVED,
        rating_id=rating_id,
        satisfied=satisfied,
        rated_at=NOW + timedelta(minutes=later),
        resolved_at=NOW - timedelta(days=1),
    )
    await wire.send(wire.envelope(data, 10 + later))
    return rating_id


async def initiative(wire: Wire, area: str, participants: int, end: str | None = None) -> None:
    facts: dict[str, Any] = {
        "initiative_id": uuid4(),
        "municipality": "GM0479",
        "area": area,
        "kind": InitiativeKind.CLEANUP,
    }
    started = NOW - timedelta(days=3)
    events: list[Any] = [
        InitiativeStarted(**facts, status=InitiativeStatus.ACTIVE, participant_count=1, started_at=started),
        InitiativeParticipantsChanged(
            **facts, status=InitiativeStatus.ACTIVE, participant_count=participants, changed_at=started
        ),
    ]
    if end == "done":
        events.append(
            InitiativeCompleted(**facts, status=InitiativeStatus.DONE, participant_count=participants, completed_at=NOW)
        )
    elif end == "stopped":
        events.append(
            InitiativeStopped(**facts, status=InitiativeStatus.STOPPED, participant_count=participants, stopped_at=NOW)
        )
    for sequence, data in reversed(list(enumerate(events, start=1))):  # out of order: the newest wins anyway
        await wire.send(wire.envelope(data, sequence, source="neighbourhoods"))


async def test_satisfaction_initiatives_participants_and_manual_values_are_measured(
    goals: Goals, wire: Wire, infra: Infra
) -> None:
    area = new_area()
    bu = "BU" + area[2:] + "03"
    coordinator = infra.headers("coordinator")
    body = goal_body(area, categories=["youth_nuisance"], indicators=INDICATORS)
    r = await goals.client.post("/v1/goals", json=body, headers=coordinator)
    assert r.status_code == 201, r.text
    goal = r.json()

    again = await rated(wire, bu, False)
    await rated(wire, bu, True, rating_id=again, later=5)  # rating again replaces
    await rated(wire, bu, True)
    await rated(wire, area, False)
    await initiative(wire, bu, 12)
    await initiative(wire, area, 5, end="done")
    await initiative(wire, bu, 40, end="stopped")  # stopped: not counted

    url = f"/v1/goals/{goal['id']}/measurements"
    record = {"indicator": 3, "quarter": "2026-Q3", "value": 6.4, "source": "Veiligheidsmonitor 2025"}
    assert (await goals.client.post(url, json=record, headers=infra.headers("resident"))).status_code == 403
    wrong = await goals.client.post(
        url, json={"indicator": 0, "quarter": "2027-Q1", "value": 1, "source": " "}, headers=coordinator
    )
    assert wrong.status_code == 400
    assert {p["name"] for p in wrong.json()["invalidParams"]} == {"indicator", "quarter", "source"}
    for quarter, value in (("2026-Q3", 6.4), ("2026-Q4", 6.0), ("2026-Q4", 6.9)):
        r = await goals.client.post(url, json={**record, "quarter": quarter, "value": value}, headers=coordinator)
        assert r.status_code == 200 and r.json()["id"] == goal["id"], r.text

    expected = [(2 / 3, None), (2.0, 0.0), (17.0, 0.0), (6.9, 6.4)]

    async def measured() -> bool:
        found = (await goals.client.get(url, headers=coordinator)).json()
        return [(m["value"], m["previous"]) for m in found] == expected

    await eventually(measured, timeout=30, interval=0.2)
    found = (await goals.client.get(url, headers=coordinator)).json()
    assert [m["onTrack"] for m in found] == [False, False, False, False]
    assert all(m["partial"] for m in found)
    trend = await goals.client.get(f"/v1/goals/{goal['id']}/trend.svg", headers=coordinator)
    assert trend.status_code == 200 and "Aandeel tevreden melders" in trend.text
