"""Partners' availability windows and priority reach the signals service only as `partner.*`
events (its local read model); routing at report time decides with them. The service here runs
on a pinned clock, so which partner is available does not depend on when the suite runs."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest_asyncio
from aiokafka import AIOKafkaProducer

from services.signals.app import create_app
from shared.clock import AMSTERDAM, FixedClock
from shared.events.catalog import Availability, PartnerRegistered
from shared.events.codes import Category, PartnerKind
from shared.events.envelope import envelope, to_json
from tests.signals.conftest import MUNICIPALITY, Partners, SignalsApp, fresh_area, signals_settings
from tests.support import Infra, eventually, serve

TUESDAY = 2


def amsterdam(text: str) -> datetime:
    """A wall-clock time in Amsterdam ("2026-12-01 12:00" is a Tuesday, CET = UTC+1)."""
    return datetime.fromisoformat(text).replace(tzinfo=AMSTERDAM)


@dataclass
class Pinned:
    app: SignalsApp
    clock: FixedClock
    producer: AIOKafkaProducer

    async def partner_row(self, partner_id: UUID) -> dict[str, Any]:
        [row] = await self.app.sql(
            "SELECT version, availability::text AS availability, priority FROM partners WHERE partner_id = $1",
            partner_id,
        )
        return {"version": row["version"], "availability": json.loads(row["availability"]), "priority": row["priority"]}

    async def routed(self, area: str, category: str) -> str | None:
        r = await self.app.report(self.app.headers("resident"), area=area, category=category)
        assert r.status_code == 201, r.text
        assert r.json()["duplicate"] is False
        partner: str | None = r.json()["signal"]["routedPartnerId"]
        return partner


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def pinned(infra: Infra, producer: AIOKafkaProducer) -> AsyncIterator[Pinned]:
    clock = FixedClock(amsterdam("2026-12-01 12:00"))
    schema = f"signals_{secrets.token_hex(3)}"
    settings = signals_settings(infra, schema)
    async with serve(create_app(settings, clock=clock)) as client:
        yield Pinned(SignalsApp(client, settings, Partners(infra, schema, producer), infra), clock, producer)


def windows(*spans: tuple[int, str, str]) -> list[dict[str, Any]]:
    return [{"weekday": d, "from": f, "until": u} for d, f, u in spans]


async def test_windows_and_priority_arrive_in_the_read_model_as_published(pinned: Pinned) -> None:
    _, bu = fresh_area()
    spans = [(TUESDAY, "09:00", "17:00"), (5, "22:00", "02:00"), (7, "00:00", "24:00")]
    partner = await pinned.app.partners.publish(areas=[bu], availability=spans, priority=7)
    assert await pinned.partner_row(partner) == {"version": 1, "availability": windows(*spans), "priority": 7}
    always = await pinned.app.partners.publish(areas=[bu])
    assert await pinned.partner_row(always) == {"version": 1, "availability": [], "priority": 0}


async def test_an_update_replaces_windows_and_priority_and_an_older_version_is_ignored(pinned: Pinned) -> None:
    pinned.clock.set(amsterdam("2026-12-01 12:00"))
    _, bu = fresh_area()
    publish = pinned.app.partners.publish
    rival = await publish(areas=[bu], priority=5, registered_at=datetime(2026, 1, 1, tzinfo=UTC))
    partner = await publish(areas=[bu], availability=[(TUESDAY, "18:00", "22:00")], priority=8)
    assert await pinned.routed(bu, "vandalism") == str(rival)  # the higher priority, but out of its window at noon

    await publish(partner_id=partner, areas=[bu], availability=[(TUESDAY, "09:00", "17:00")], priority=9)
    assert await pinned.partner_row(partner) == {
        "version": 2,
        "availability": windows((TUESDAY, "09:00", "17:00")),
        "priority": 9,
    }
    assert await pinned.routed(bu, "litter_dumping") == str(partner)  # available now, and the higher priority

    stale = await publish_stale(pinned, partner, bu, availability=[(3, "08:00", "09:00")], priority=0)
    assert await pinned.partner_row(partner) == {
        "version": 2,
        "availability": windows((TUESDAY, "09:00", "17:00")),
        "priority": 9,
    }, f"the older version ({stale}) changed the read model"
    assert await pinned.routed(bu, "noise_nuisance") == str(partner)

    await publish(partner_id=partner, areas=[bu], priority=2)  # version 3: no windows (always), lower priority
    assert await pinned.partner_row(partner) == {"version": 3, "availability": [], "priority": 2}
    assert await pinned.routed(bu, "youth_nuisance") == str(rival)


async def publish_stale(
    pinned: Pinned, partner_id: UUID, area: str, *, availability: list[tuple[int, str, str]], priority: int
) -> UUID:
    """Version 1 of a partner again, as a redelivered or late `partner.registered`; returns once
    the service has consumed it (its id is in the inbox)."""
    data = PartnerRegistered(
        partner_id=partner_id,
        name="stale",
        kind=PartnerKind.POLICE,
        municipalities=[MUNICIPALITY],
        areas=[area],
        categories=list(Category),
        acknowledge_within_minutes=60,
        availability=[Availability(weekday=d, **{"from": f}, until=u) for d, f, u in availability],
        priority=priority,
        active=True,
        registered_at=datetime.now(UTC),
        version=1,
    )
    event = envelope(data, source="urn:nld:wijkaanpak:partners", sequence=1, municipality=MUNICIPALITY)
    topic = pinned.app.infra.topic("partner.registered")
    await pinned.producer.send_and_wait(topic, to_json(event), key=str(partner_id).encode())

    async def consumed() -> bool:
        return bool(await pinned.app.sql("SELECT 1 FROM inbox WHERE event_id = $1", event.id))

    await eventually(consumed, timeout=30)
    return event.id


async def test_priority_decides_between_two_equally_specific_available_partners(pinned: Pinned) -> None:
    pinned.clock.set(amsterdam("2026-12-01 12:00"))
    _, bu = fresh_area()
    publish = pinned.app.partners.publish
    first = await publish(areas=[bu], priority=1, registered_at=datetime(2026, 1, 1, tzinfo=UTC))
    second = await publish(
        areas=[bu],
        availability=[(TUESDAY, "09:00", "17:00")],
        priority=5,
        registered_at=datetime(2026, 6, 1, tzinfo=UTC),
    )
    assert await pinned.routed(bu, "vandalism") == str(second)  # without priority, the earliest registered
    await publish(partner_id=first, areas=[bu], priority=8, registered_at=datetime(2026, 1, 1, tzinfo=UTC))
    assert await pinned.routed(bu, "litter_dumping") == str(first)


async def test_a_partner_outside_its_window_is_skipped_at_the_local_hour(pinned: Pinned) -> None:
    _, bu = fresh_area()
    publish = pinned.app.partners.publish
    daytime = await publish(areas=[bu], availability=[(TUESDAY, "09:00", "17:00")], priority=10)
    evening = await publish(areas=[bu], availability=[(TUESDAY, "18:00", "22:00")], priority=5)
    night = await publish(areas=[bu], availability=[(TUESDAY, "22:00", "02:00")], priority=0)
    expected = [
        ("2026-12-01 12:00", "vandalism", daytime),
        # 18:30 in Amsterdam is 17:30 UTC: outside the evening window if it were read as UTC.
        ("2026-12-01 18:30", "litter_dumping", evening),
        ("2026-12-01 16:59", "noise_nuisance", daytime),
        ("2026-12-01 17:00", "youth_nuisance", None),  # the end of a window is not in it
        ("2026-12-02 01:30", "drugs_nuisance", night),  # Tuesday's night window runs into Wednesday
        ("2026-12-02 02:00", "traffic_safety", None),
        ("2026-12-08 12:00", "other", daytime),  # the next Tuesday
        ("2026-12-09 12:00", "vandalism", None),  # a Wednesday
    ]
    try:
        found = []
        for when, category, _ in expected:
            pinned.clock.set(amsterdam(when))
            found.append((when, category, await pinned.routed(bu, category)))
    finally:
        pinned.clock.set(amsterdam("2026-12-01 12:00"))
    assert found == [(w, c, str(p) if p else None) for w, c, p in expected]
