"""goal.review_due: once per active goal and ended quarter, with two instances and across restarts."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import httpx

from services.goals.app import create_app
from shared.clock import FixedClock
from tests.goals.conftest import goals_settings, new_area
from tests.support import Infra, TopicReader, serve

IN_Q3 = datetime(2026, 9, 20, 10, 0, tzinfo=UTC)
JUST_INTO_Q4 = datetime.fromisoformat("2026-10-01T00:30:00+02:00")
JUST_INTO_2027 = datetime.fromisoformat("2027-01-01T00:30:00+01:00")


def goal(area: str, year: int = 2026) -> dict[str, Any]:
    return {
        "municipality": "GM0479",
        "area": area,
        "year": year,
        "title": "Minder jeugdoverlast",
        "categories": ["youth_nuisance"],
        "indicators": [{"kind": "signal_count", "category": "youth_nuisance", "target": 5, "direction": "decrease"}],
    }


async def settle(reader: TopicReader, seconds: float) -> None:
    """Keep reading for `seconds` (several ticks of every instance)."""
    deadline = time.monotonic() + seconds
    await reader.until(lambda _: time.monotonic() > deadline, timeout=seconds + 10)


def due(reader: TopicReader, ids: set[str]) -> Counter[tuple[str, str]]:
    return Counter((str(d.goal_id), d.quarter) for _, d, _ in reader.seen if str(d.goal_id) in ids)


async def test_review_due_is_emitted_once_per_goal_and_quarter_with_two_instances(infra: Infra) -> None:
    settings = goals_settings(infra, review_due_interval_seconds=0.1)
    clock = FixedClock(IN_Q3)
    coordinator = infra.headers("coordinator")
    area, other = new_area(), new_area()
    async with TopicReader(infra, "goal.review_due") as reader:
        async with serve(create_app(settings, clock=clock)) as a, serve(create_app(settings, clock=clock)) as b:
            first = await post(a, goal(area), coordinator)
            second = await post(b, goal(area), coordinator)
            dropped = await post(a, goal(other), coordinator)
            next_year = await post(b, goal(other, year=2027), coordinator)
            r = await a.patch(f"/v1/goals/{dropped}", json={"status": "dropped"}, headers=coordinator)
            assert r.status_code == 200
            ids = {first, second, dropped, next_year}

            await settle(reader, 0.6)
            assert due(reader, ids) == Counter(), "nothing ended since these goals were set"

            clock.set(JUST_INTO_Q4)
            await reader.until(lambda _: len(due(reader, ids)) == 2)
            await settle(reader, 1.5)
            assert due(reader, ids) == Counter({(first, "2026-Q3"): 1, (second, "2026-Q3"): 1})
            event = next(e for e, d, _ in reader.seen if str(d.goal_id) == first)
            assert event.municipality == "GM0479" and event.subject == first

        # A restart on the same database tells nobody again; the next quarter's end does, once.
        async with serve(create_app(settings, clock=clock)):
            await settle(reader, 1.0)
            assert due(reader, ids) == Counter({(first, "2026-Q3"): 1, (second, "2026-Q3"): 1})
            clock.set(JUST_INTO_2027)
            await reader.until(lambda _: len(due(reader, ids)) == 4)
            await settle(reader, 1.0)
    assert due(reader, ids) == Counter(
        {(first, "2026-Q3"): 1, (second, "2026-Q3"): 1, (first, "2026-Q4"): 1, (second, "2026-Q4"): 1}
    )


async def post(client: httpx.AsyncClient, body: dict[str, Any], headers: dict[str, str]) -> str:
    r = await client.post("/v1/goals", json=body, headers=headers)
    assert r.status_code == 201, r.text
    goal_id: str = r.json()["id"]
    return goal_id
