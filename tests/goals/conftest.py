"""The goals service running against the session's real PostgreSQL and Kafka, and a way to put
other services' events on the wire (as the signals and partners services would)."""

from __future__ import annotations

import itertools
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID, uuid4

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from services.goals.app import Settings, create_app
from shared.clock import FixedClock
from shared.events.catalog import EventData, PartnerRegistered
from shared.events.codes import Category, PartnerKind
from shared.events.envelope import CloudEvent, envelope, to_json
from tests.support import Infra, eventually, serve

# "Now" for the service under test: mid 2026-Q4 in Amsterdam.
NOW = datetime(2026, 11, 16, 10, 0, tzinfo=UTC)


class Wire:
    """Produces events onto the session's topics, exactly as other services' relays would."""

    def __init__(self, infra: Infra, producer: AIOKafkaProducer) -> None:
        self.infra = infra
        self.producer = producer

    def envelope(self, data: EventData, sequence: int, source: str = "signals") -> CloudEvent:
        return envelope(
            data,
            source=f"urn:nld:wijkaanpak:{source}",
            sequence=sequence,
            municipality=getattr(data, "municipality", "GM0479"),
        )

    async def send(self, event: CloudEvent, partition: int | None = None) -> None:
        await self.producer.send_and_wait(
            self.infra.topic(event.event_type), to_json(event), key=event.subject.encode(), partition=partition
        )

    async def partner(self, municipalities: list[str], *, active: bool = True, version: int = 1) -> UUID:
        partner_id = uuid4()
        data = PartnerRegistered(
            partner_id=partner_id,
            name="Wijkteam",
            kind=PartnerKind.MUNICIPALITY,
            municipalities=municipalities,
            areas=[],
            categories=[Category.LITTER_DUMPING],
            acknowledge_within_minutes=60,
            registered_at=datetime.now(UTC),
            version=version,
            active=active,
        )
        await self.send(self.envelope(data, version, source="partners"))
        return partner_id


@pytest.fixture(scope="module")
async def wire(infra: Infra) -> AsyncIterator[Wire]:
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        yield Wire(infra, producer)
    finally:
        await producer.stop()


def goals_settings(infra: Infra, **overrides: object) -> Settings:
    tag = secrets.token_hex(3)
    values: dict[str, object] = {
        "db_schema": f"goals_{tag}",
        "consumer_group_prefix": f"{infra.run_id}.{tag}.",
        "review_due_interval_seconds": 0.2,
        "relay_poll_seconds": 0.2,
    }
    values.update(overrides)
    return infra.settings(Settings, **values)


@dataclass
class Goals:
    client: httpx.AsyncClient
    settings: Settings
    clock: FixedClock


@pytest.fixture(scope="module")
async def goals(infra: Infra) -> AsyncIterator[Goals]:
    """One goals service for the session's API tests (each test uses its own areas)."""
    clock = FixedClock(NOW)
    settings = goals_settings(infra)
    async with serve(create_app(settings, clock=clock)) as client:
        yield Goals(client, settings, clock)


async def known_partner(goals: Goals, wire: Wire, infra: Infra, municipality: str = "GM0479") -> UUID:
    """A partner registered through partner.registered, once the goals service has applied it."""
    partner_id = await wire.partner([municipality])
    probe = {
        "municipality": municipality,
        "area": "WK" + municipality[2:] + "99",
        "year": 1900,  # always refused, so the probe never creates a goal
        "title": "probe",
        "partnerIds": [str(partner_id)],
    }
    headers = infra.headers("coordinator", [municipality])

    async def applied() -> bool:
        r = await goals.client.post("/v1/goals", json=probe, headers=headers)
        return r.status_code == 400 and all(p["name"] != "partnerIds.0" for p in r.json()["invalidParams"])

    await eventually(applied, timeout=30, interval=0.2)
    return partner_id


_districts = itertools.count(10)


def new_area(municipality_digits: str = "0479") -> str:
    """A fresh district (WK) code per call, so tests sharing the service do not meet."""
    return f"WK{municipality_digits}{next(_districts):02d}"
