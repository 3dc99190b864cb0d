"""Residents reporting the same thing at the same moment: the intake takes them in turns (a lock in
PostgreSQL per municipality, area and category), so exactly one becomes the signal and the others
merge into it, also when they carry locations within 250 m of each other."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaProducer

from services.signals.app import create_app
from services.signals.domain import DUPLICATE_RADIUS_M, distance_m
from shared.clock import FixedClock
from shared.db import asyncpg_dsn, lock_key
from tests.signals.conftest import MUNICIPALITY, Partners, SignalsApp, fresh_area, signals_settings
from tests.support import Infra, eventually, serve

# Around a point in GM0479; 0.0009° of latitude and 0.0014° of longitude are about 100 m there.
HERE = (52.4400, 4.8200)
NEAR = [(0.0, 0.0), (0.0009, 0.0), (-0.0009, 0.0), (0.0, 0.0014), (0.0, -0.0014)]
FAR = (0.0100, 0.0)  # about 1.1 km north


RACE_NOTE = (
    "simultaneous reports of one thing did not merge into one signal. Suspected cause: "
    "services/signals/api.py:156 reads the clock (`now`) before store.intake_context takes the "
    "intake lock (services/signals/store.py:452/459), and services/signals/domain.py:238 only "
    "merges into a signal reported at or before `now`; a report that read the clock first but got "
    "the lock second sees an original 'from the future' and becomes a signal of its own"
)


def located(offset: tuple[float, float]) -> dict[str, float]:
    return {"lat": round(HERE[0] + offset[0], 6), "lon": round(HERE[1] + offset[1], 6)}


@asynccontextmanager
async def intake_gate(app: SignalsApp, area: str, category: str) -> AsyncIterator[Callable[[int], Awaitable[None]]]:
    """Hold the intake's lock for (municipality, area, category) from a connection of our own.

    Reports started meanwhile wait inside their transactions; `all_waiting(n)` returns once n of
    them are queued on the lock, so they are provably in flight at the same moment. Leaving the
    block releases them.
    """
    conn = await asyncpg.connect(asyncpg_dsn(app.infra.database_url))
    key = lock_key(f"intake:{MUNICIPALITY}:{area}:{category}")
    await conn.execute("SELECT pg_advisory_lock($1)", key)

    async def all_waiting(n: int) -> None:
        async def queued() -> bool:
            waiting = await conn.fetchval(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                " AND classid::bigint = $1 AND objid::bigint = $2 AND objsubid = 1",
                key >> 32,
                key & 0xFFFFFFFF,
            )
            assert waiting <= n, f"{waiting} reports wait on the intake lock, more than the {n} sent"
            return bool(waiting == n)

        try:
            await eventually(queued, timeout=20)
        except AssertionError as exc:
            raise AssertionError(
                f"not all {n} reports were waiting on the intake lock intake:{MUNICIPALITY}:{area}:{category} "
                "together (did the lock's name change?)"
            ) from exc

    try:
        yield all_waiting
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", key)
        await conn.close()


async def report_together(
    app: SignalsApp, area: str, fields: list[dict[str, Any]], *, category: str = "vandalism"
) -> list[dict[str, Any]]:
    """One report per entry of `fields`, each by another resident, all in flight at once."""
    async with intake_gate(app, area, category) as all_waiting:
        tasks = [
            asyncio.ensure_future(app.report(app.headers("resident"), area=area, category=category, **f))
            for f in fields
        ]
        try:
            await all_waiting(len(tasks))
        except BaseException:
            for task in tasks:
                task.cancel()
            raise
    answers: list[httpx.Response] = await asyncio.gather(*tasks)
    assert [a.status_code for a in answers] == [201] * len(answers), [a.text for a in answers]
    return [a.json() for a in answers]


def originals_of(answers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [a["signal"] for a in answers if a["duplicate"] is False]


def describe(answers: list[dict[str, Any]]) -> str:
    return str(
        [
            (a["signal"]["reference"], a["signal"]["reportedAt"], a["duplicate"], a["signal"]["duplicateOf"])
            for a in answers
        ]
    )


async def assert_merged_into_one(app: SignalsApp, answers: list[dict[str, Any]]) -> dict[str, Any]:
    """Exactly one original; every other answer is `merged` into it; its report count is the total."""
    originals = originals_of(answers)
    assert len(originals) == 1, (
        f"{len(originals)} originals of {len(answers)} reports: {RACE_NOTE}; {describe(answers)}"
    )
    [original] = originals
    assert original["status"] == "received" and original["duplicateOf"] is None
    for answer in answers:
        if answer["signal"]["id"] != original["id"]:
            assert answer["duplicate"] is True
            assert answer["signal"]["status"] == "merged"
            assert answer["signal"]["duplicateOf"] == original["id"]
    got = await app.client.get(f"/v1/signals/{original['id']}", headers=app.headers("coordinator"))
    assert got.json()["reportCount"] == len(answers), got.text
    return original


@pytest.mark.parametrize("n", [2, 5])
async def test_residents_reporting_the_same_thing_at_once_merge_into_one_signal(app: SignalsApp, n: int) -> None:
    _, bu = fresh_area()
    answers = await report_together(app, bu, [{} for _ in range(n)])
    original = await assert_merged_into_one(app, answers)
    rows = await app.sql("SELECT id, report_count FROM signals WHERE area = $1 AND duplicate_of IS NULL", bu)
    assert [(str(r["id"]), r["report_count"]) for r in rows] == [(original["id"], n)]


async def test_simultaneous_reports_within_250_m_merge_and_one_farther_away_stays_its_own(app: SignalsApp) -> None:
    _, bu = fresh_area()
    near = [located(o) for o in NEAR]
    far = located(FAR)
    assert all(distance_m(a["lat"], a["lon"], b["lat"], b["lon"]) <= DUPLICATE_RADIUS_M for a in near for b in near)
    assert all(distance_m(a["lat"], a["lon"], far["lat"], far["lon"]) > 4 * DUPLICATE_RADIUS_M for a in near)
    answers = await report_together(app, bu, [*near, far])
    by_place = {(a["signal"]["lat"], a["signal"]["lon"]): a for a in answers}
    far_answer = by_place[(far["lat"], far["lon"])]
    assert far_answer["duplicate"] is False, f"a report 1.1 km away was merged: {describe(answers)}"
    assert far_answer["signal"]["reportCount"] == 1
    await assert_merged_into_one(app, [a for a in answers if a is not far_answer])


async def test_reports_sent_at_once_without_a_gate_still_merge_into_one(app: SignalsApp) -> None:
    """The plain race, as clients cause it: five requests started together on one event loop."""
    _, bu = fresh_area()
    in_flight, most = 0, 0

    async def one() -> dict[str, Any]:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        try:
            answer = await app.report(app.headers("resident"), area=bu, **located(NEAR[0]))
        finally:
            in_flight -= 1
        assert answer.status_code == 201, answer.text
        body: dict[str, Any] = answer.json()
        return body

    answers = await asyncio.gather(*(one() for _ in range(5)))
    assert most == 5, f"only {most} of the 5 requests were in flight together"
    await assert_merged_into_one(app, answers)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def pinned(infra: Infra, producer: AIOKafkaProducer) -> AsyncIterator[tuple[SignalsApp, FixedClock]]:
    """A signals app of its own on a clock that stands still (own schema and consumer group)."""
    clock = FixedClock(datetime(2026, 12, 1, 11, 0, tzinfo=UTC))
    schema = f"signals_{secrets.token_hex(3)}"
    settings = signals_settings(infra, schema, consumer_group_prefix=f"{infra.group_prefix}race.")
    async with serve(create_app(settings, clock=clock)) as client:
        yield SignalsApp(client, settings, Partners(infra, schema, producer), infra), clock


async def test_a_report_that_read_the_clock_earlier_but_got_the_intake_lock_later_still_merges(
    pinned: tuple[SignalsApp, FixedClock],
) -> None:
    """The race of the tests above, made deterministic: the report that reaches the intake lock
    first (queued first behind the gate) is the one that read the later time; the other read the
    clock a millisecond earlier but waits its turn. They must still merge into one signal."""
    app, clock = pinned
    _, bu = fresh_area()
    start = clock.now()
    try:
        async with intake_gate(app, bu, "vandalism") as all_waiting:
            clock.set(start + timedelta(milliseconds=1))
            later = asyncio.ensure_future(app.report(app.headers("resident"), area=bu))
            await all_waiting(1)
            clock.set(start)
            earlier = asyncio.ensure_future(app.report(app.headers("resident"), area=bu))
            await all_waiting(2)
        answers = [(await later).json(), (await earlier).json()]
    finally:
        clock.set(start)
    await assert_merged_into_one(app, answers)
