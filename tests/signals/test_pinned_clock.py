"""The running signals service keeps domain time by the clock it is given.

Each test starts the service with a `FixedClock` of its own (one schema for the module, fresh
areas per test), so no periodic tick of another test's clock runs in it, whatever the order;
it pins the clock to the instants that matter and moves it: routing by availability
window, the acknowledge-by deadline and `signal.overdue`, the reopen window, automatic closing
and retention with their real lengths in days. Nothing sleeps: a claim that something did not
happen is checked once a witness, due just before it, shows the periodic task ran at that
instant. Tokens stay on the wall clock (JWT expiry), as intended.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest_asyncio
from aiokafka import AIOKafkaProducer

from services.signals.app import create_app
from shared.clock import AMSTERDAM, FixedClock
from shared.events.codes import PartnerKind
from tests.signals.conftest import Partners, SignalsApp, fresh_area, signals_settings
from tests.support import Infra, TopicReader, eventually, serve

DAY = 86400.0
TICKS = {"overdue_interval_seconds": 0.1, "close_interval_seconds": 0.1, "retention_interval_seconds": 0.1}


def local(text: str) -> datetime:
    """An Amsterdam wall-clock time with its offset written out (an offset Amsterdam did not
    have then fails here)."""
    at = datetime.fromisoformat(text)
    assert at.utcoffset() is not None and at.utcoffset() == at.astimezone(AMSTERDAM).utcoffset(), text
    return at


def z(at: datetime) -> str:
    """As the API writes times: UTC with a Z."""
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class Ground:
    """What the tests of this module share: the servers, one schema, the partner events."""

    infra: Infra
    schema: str
    partners: Partners


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def ground(infra: Infra, producer: AIOKafkaProducer) -> Ground:
    schema = f"signals_{secrets.token_hex(3)}"
    return Ground(infra, schema, Partners(infra, schema, producer))


@asynccontextmanager
async def pinned(ground: Ground, at: datetime, **settings: float) -> AsyncIterator[tuple[SignalsApp, FixedClock]]:
    """The signals service on a clock standing at `at`, with its periodic tasks ticking fast
    (the lengths of days stay the service's defaults unless given)."""
    clock = FixedClock(at)
    config = signals_settings(ground.infra, ground.schema, **{**TICKS, **settings})
    async with serve(create_app(config, clock=clock)) as client:
        yield SignalsApp(client, config, ground.partners, ground.infra), clock


async def report(app: SignalsApp, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    r = await app.report(headers, **fields)
    assert r.status_code == 201, r.text
    signal: dict[str, Any] = r.json()["signal"]
    return signal


async def get(app: SignalsApp, sid: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    r = await app.client.get(f"/v1/signals/{sid}", headers=headers or app.headers("coordinator"))
    assert r.status_code == 200, r.text
    signal: dict[str, Any] = r.json()
    return signal


async def escalate(app: SignalsApp, sid: str) -> dict[str, Any]:
    r = await app.client.post(f"/v1/signals/{sid}/escalation", json={}, headers=app.headers("coordinator"))
    assert r.status_code == 200, r.text
    signal: dict[str, Any] = r.json()
    return signal


async def resolve(app: SignalsApp, sid: str, partner: UUID) -> dict[str, Any]:
    agent = app.headers("partner_agent", partner_id=str(partner))
    r = await app.client.post(f"/v1/signals/{sid}/resolution", json={"feedback": "Opgelost"}, headers=agent)
    assert r.status_code == 200, r.text
    signal: dict[str, Any] = r.json()
    return signal


def subjects(reader: TopicReader) -> list[str]:
    return [e.subject for e, _, _ in reader.seen]


def history(signal: dict[str, Any], action: str) -> list[str]:
    return [h["at"] for h in signal["history"] if h["action"] == action]


# --- routing by availability ---------------------------------------------------------------------

OFFICE_HOURS = [(d, "09:00", "17:00") for d in range(1, 6)]  # weekdays
NIGHT_SHIFT = [(d, "17:00", "09:00") for d in range(1, 8)]  # every evening into the next morning


async def test_a_report_on_sunday_night_goes_to_the_night_partner_and_at_weekday_noon_to_the_office(
    ground: Ground,
) -> None:
    _, bu = fresh_area()
    sunday_night = local("2026-11-29T23:30+01:00")
    async with pinned(ground, sunday_night) as (app, clock):
        office = await app.partners.publish(areas=[bu], kind=PartnerKind.MUNICIPALITY, availability=OFFICE_HOURS)
        night = await app.partners.publish(areas=[bu], kind=PartnerKind.POLICE, availability=NIGHT_SHIFT)
        resident = app.headers("resident")

        at_night = await report(app, resident, area=bu, category="youth_nuisance")
        clock.set(local("2026-12-02T12:00+01:00"))  # Wednesday noon
        at_noon = await report(app, resident, area=bu, category="youth_nuisance")
        clock.set(local("2026-12-06T14:00+01:00"))  # Sunday afternoon: neither is on duty
        on_sunday = await report(app, resident, area=bu, category="youth_nuisance")

        unrouted = await app.client.get(f"/v1/signals?unrouted=true&area={bu}", headers=app.headers("coordinator"))
    assert (at_night["routedPartnerId"], at_night["reportedAt"]) == (str(night), "2026-11-29T22:30:00Z")
    assert (at_noon["routedPartnerId"], at_noon["reportedAt"]) == (str(office), "2026-12-02T11:00:00Z")
    assert (on_sunday["routedPartnerId"], on_sunday["reportedAt"]) == (None, "2026-12-06T13:00:00Z")
    assert [s["id"] for s in unrouted.json()["results"]] == [on_sunday["id"]]


async def test_on_both_daylight_saving_sundays_a_morning_partner_takes_reports_from_nine_local_time(
    ground: Ground,
) -> None:
    _, bu = fresh_area()
    async with pinned(ground, local("2026-03-29T08:59+02:00")) as (app, clock):
        morning = await app.partners.publish(areas=[bu], availability=[(7, "09:00", "12:00")])
        resident = app.headers("resident")
        # 06:59 / 07:00 UTC when summer time has started; 07:59 / 08:00 UTC when it has ended.
        seen = {}
        for instant, category in [
            ("2026-03-29T08:59+02:00", "vandalism"),
            ("2026-03-29T09:00+02:00", "noise_nuisance"),
            ("2026-10-25T08:59+01:00", "vandalism"),
            ("2026-10-25T09:00+01:00", "noise_nuisance"),
        ]:
            clock.set(local(instant))
            seen[instant] = (await report(app, resident, area=bu, category=category))["routedPartnerId"]
    assert seen == {
        "2026-03-29T08:59+02:00": None,
        "2026-03-29T09:00+02:00": str(morning),
        "2026-10-25T08:59+01:00": None,
        "2026-10-25T09:00+01:00": str(morning),
    }


# --- acknowledge-by and overdue ------------------------------------------------------------------


async def test_overdue_is_emitted_only_once_the_pinned_clock_has_passed_the_acknowledge_by_deadline(
    ground: Ground,
) -> None:
    (_, slow_area), (_, quick_area) = fresh_area(), fresh_area()
    escalated_at = local("2026-12-01T23:30+01:00")  # Tuesday night; the deadline falls after midnight
    async with pinned(ground, escalated_at) as (app, clock):
        slow_partner = await app.partners.publish(areas=[slow_area], minutes=60)
        await app.partners.publish(areas=[quick_area], minutes=30)
        resident = app.headers("resident")
        slow = await escalate(app, (await report(app, resident, area=slow_area))["id"])
        quick = await escalate(app, (await report(app, resident, area=quick_area))["id"])
        deadline = local("2026-12-02T00:30+01:00")
        assert (slow["acknowledgeBy"], slow["overdue"]) == (z(deadline), False)
        assert quick["acknowledgeBy"] == z(deadline - timedelta(minutes=30))

        async with TopicReader(app.infra, "signal.overdue") as reader:
            clock.set(deadline)  # the quick one's deadline passed half an hour ago; the slow one's is now
            await reader.until(lambda _: quick["id"] in subjects(reader))
            assert slow["id"] not in subjects(reader), "overdue at its deadline, not after it"
            assert (await get(app, slow["id"]))["overdue"] is False

            late = clock.advance(timedelta(seconds=1))
            await reader.until(lambda _: slow["id"] in subjects(reader))
            listed = await app.client.get(
                f"/v1/signals?overdue=true&area={slow_area}", headers=app.headers("coordinator")
            )
            now_overdue = await get(app, slow["id"])
    event, data, _ = next(r for r in reader.seen if r[0].subject == slow["id"])
    assert (data.partner_id, data.acknowledge_by, event.time) == (slow_partner, deadline, late)
    assert subjects(reader).count(slow["id"]) == 1
    assert now_overdue["overdue"] is True and history(now_overdue, "overdue") == [z(late)]
    assert [s["id"] for s in listed.json()["results"]] == [slow["id"]]


# --- the reopen window ---------------------------------------------------------------------------


async def test_a_resident_can_reopen_13_days_after_resolution_but_not_15(ground: Ground) -> None:
    _, bu = fresh_area()
    resolved_at = local("2026-10-18T12:00+02:00")  # Sunday; winter time returns within the window
    # Automatic closing after 30 days here, so the window and not the closing is what refuses.
    async with pinned(ground, resolved_at, close_after_seconds=30 * DAY) as (app, clock):
        partner = await app.partners.publish(areas=[bu], kind=PartnerKind.MUNICIPALITY)
        resident = app.headers("resident", sub=f"resident-{secrets.token_hex(4)}")
        early = await report(app, resident, area=bu, category="litter_dumping")
        late = await report(app, resident, area=bu, category="traffic_safety")
        for signal in (early, late):
            await escalate(app, signal["id"])
            await resolve(app, signal["id"], partner)

        reopened_at = clock.advance(timedelta(days=13))
        in_time = await app.client.post(
            f"/v1/signals/{early['id']}/reopening", json={"reason": "Weer vol"}, headers=resident
        )
        clock.set(resolved_at + timedelta(days=15))
        too_late = await app.client.post(
            f"/v1/signals/{late['id']}/reopening", json={"reason": "Weer gevaarlijk"}, headers=resident
        )
        still = await get(app, late["id"], resident)
    assert in_time.status_code == 200, in_time.text
    assert history(in_time.json(), "reopened") == [z(reopened_at)]
    assert in_time.json()["status"] == "escalated", "a reporter's reopening goes back to the partner"
    assert in_time.json()["acknowledgeBy"] == z(reopened_at + timedelta(minutes=60))
    assert too_late.status_code == 409
    assert too_late.headers["content-type"].startswith("application/problem+json")
    assert "14 days" in too_late.json()["detail"]
    assert still["status"] == "resolved"


# --- automatic closing ---------------------------------------------------------------------------


async def test_a_resolved_signal_closes_14_days_after_resolution_and_not_an_hour_earlier(ground: Ground) -> None:
    _, bu = fresh_area()
    first_resolved = local("2026-10-11T22:00+02:00")  # Sunday; 14 days later is the night winter time returned
    async with pinned(ground, first_resolved) as (app, clock):
        partner = await app.partners.publish(areas=[bu], kind=PartnerKind.MUNICIPALITY)
        resident = app.headers("resident")
        first = await report(app, resident, area=bu, category="vandalism")
        second = await report(app, resident, area=bu, category="litter_dumping")
        for signal in (first, second):
            await escalate(app, signal["id"])
        await resolve(app, first["id"], partner)
        clock.advance(timedelta(hours=1))
        await resolve(app, second["id"], partner)

        async with TopicReader(app.infra, "signal.closed") as reader:
            # 14 x 24 hours after the first resolution: 21:00:01 by the clock, winter time again.
            closes_first = local("2026-10-25T21:00:01+01:00")
            clock.set(closes_first)
            await reader.until(lambda _: first["id"] in subjects(reader))
            assert second["id"] not in subjects(reader), "closed an hour short of 14 days"
            assert (await get(app, second["id"]))["status"] == "resolved"

            closes_second = clock.advance(timedelta(hours=1))
            await reader.until(lambda _: second["id"] in subjects(reader))
            closed = [await get(app, s["id"]) for s in (first, second)]
    times = {e.subject: (d.closed_at, d.partner_id) for e, d, _ in reader.seen}
    assert times[first["id"]] == (closes_first, partner)
    assert times[second["id"]] == (closes_second, partner)
    assert [c["status"] for c in closed] == ["closed", "closed"]
    assert [history(c, "closed") for c in closed] == [[z(closes_first)], [z(closes_second)]]


# --- retention -----------------------------------------------------------------------------------


async def test_contacts_are_erased_30_days_after_close_and_descriptions_a_year_after(ground: Ground) -> None:
    _, bu = fresh_area()
    resolved_at = local("2026-03-01T10:00+01:00")  # the first 30 days run across the start of summer time
    async with pinned(ground, resolved_at) as (app, clock):
        partner = await app.partners.publish(areas=[bu], kind=PartnerKind.MUNICIPALITY)
        resident = app.headers("resident")
        ids = []
        for category in ("drugs_nuisance", "noise_nuisance"):
            signal = await report(app, resident, area=bu, category=category, contactEmail="bewoner@example.nl")
            await escalate(app, signal["id"])
            ids.append(signal["id"])
        first, second = ids
        notifications = app.headers("service", [], sub="notifications")
        coordinator = app.headers("coordinator")

        async def contacts(sid: str) -> int:
            r = await app.client.get(f"/internal/v1/signals/{sid}/contacts", headers=notifications)
            assert r.status_code == 200, r.text
            return len(r.json()["contacts"])

        async def description(sid: str) -> str | None:
            found: str | None = (await get(app, sid, coordinator))["description"]
            return found

        async def close_at(sid: str, at: datetime) -> datetime:
            """Let the clock pass 14 days after `sid`'s resolution and wait for it to close."""
            clock.set(at)

            async def closed() -> bool:
                return bool((await get(app, sid, coordinator))["status"] == "closed")

            await eventually(closed, timeout=20)
            return at

        await resolve(app, first, partner)
        clock.advance(timedelta(days=1))
        await resolve(app, second, partner)
        first_closed = await close_at(first, resolved_at + timedelta(days=14, seconds=1))
        second_closed = await close_at(second, resolved_at + timedelta(days=15, seconds=1))
        assert [await contacts(first), await contacts(second)] == [1, 1]

        # 30 days after the first closed: its contact goes; the second's (closed a day later) stays.
        clock.set(first_closed + timedelta(days=30, seconds=1))
        await eventually(lambda: _is(contacts(first), 0), timeout=20)
        assert await contacts(second) == 1
        assert [await description(first), await description(second)] == ["kapot", "kapot"]

        # A year after the first closed: its description goes, the second's stays a day longer.
        clock.set(first_closed + timedelta(days=365, seconds=1))
        await eventually(lambda: _is(description(first), None), timeout=20)
        assert await description(second) == "kapot"
        assert await contacts(second) == 0

        clock.set(second_closed + timedelta(days=365, seconds=1))
        await eventually(lambda: _is(description(second), None), timeout=20)
        kept = await get(app, first, coordinator)
    assert (kept["status"], kept["category"], kept["area"]) == ("closed", "drugs_nuisance", bu)
    assert kept["reportedAt"] == z(resolved_at)


async def _is(value: Awaitable[object], expected: object) -> bool:
    return await value == expected
