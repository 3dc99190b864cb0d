"""Fixtures for the signals service against the session's real PostgreSQL and Kafka."""

from __future__ import annotations

import functools
import itertools
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import httpx
import jwt
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaProducer
from cryptography.hazmat.primitives import serialization

from services.signals.app import Settings, create_app
from shared.db import asyncpg_dsn
from shared.events.catalog import Availability, PartnerDeactivated, PartnerRegistered, PartnerUpdated
from shared.events.codes import Category, PartnerKind, Urgency
from shared.events.envelope import envelope, to_json
from tests.support import AUDIENCE, ISSUER, Infra, eventually, serve

MUNICIPALITY = "GM0479"


_areas = itertools.count(secrets.randbelow(9000))
_districts = itertools.count(secrets.randbelow(10))


def fresh_area() -> tuple[str, str]:
    """(WK, BU) codes of GM0479 no other call in this session gave out (so signals neither
    merge nor route into another test's); districts WK047990-99 are left for `fresh_district`."""
    digits = f"{next(_areas) % 9000:04d}"
    return f"WK0479{digits[:2]}", f"BU0479{digits}"


def fresh_district() -> str:
    """A district of GM0479 whose neighbourhoods `fresh_area` never gives out (one per module)."""
    return f"WK04799{next(_districts) % 10}"


@dataclass
class Partners:
    """Publishes real `partner.*` CloudEvents onto the session's topics and waits until they apply."""

    infra: Infra
    schema: str
    producer: AIOKafkaProducer
    versions: dict[UUID, int] = field(default_factory=dict)

    async def publish(
        self,
        *,
        partner_id: UUID | None = None,
        kind: PartnerKind = PartnerKind.POLICE,
        areas: list[str],
        categories: list[Category] | None = None,
        auto_escalate: list[Category] | None = None,
        minutes: int = 60,
        by_urgency: dict[Urgency, int] | None = None,
        availability: list[tuple[int, str, str]] | None = None,
        priority: int = 0,
        active: bool = True,
        municipalities: list[str] | None = None,
        registered_at: datetime | None = None,
        version: int | None = None,
        event_type: str | None = None,
        wait: bool = True,
    ) -> UUID:
        pid = partner_id or uuid4()
        v = version if version is not None else self.versions.get(pid, 0) + 1
        self.versions[pid] = max(v, self.versions.get(pid, 0))
        kind_of = {"partner.registered": PartnerRegistered, "partner.updated": PartnerUpdated}
        chosen = event_type or ("partner.registered" if v == 1 else "partner.updated")
        model = kind_of.get(chosen, PartnerDeactivated)
        data = model(
            partner_id=pid,
            name=f"partner {pid.hex[:6]}",
            kind=kind,
            municipalities=municipalities or [MUNICIPALITY],
            areas=areas,
            categories=categories if categories is not None else list(Category),
            auto_escalate=auto_escalate or [],
            acknowledge_within_minutes=minutes,
            acknowledge_within_minutes_by_urgency=by_urgency or {},
            availability=[Availability(weekday=d, **{"from": f}, until=u) for d, f, u in availability or []],
            priority=priority,
            active=active,
            registered_at=registered_at or datetime.now(UTC),
            version=v,
        )
        event = envelope(data, source="urn:nld:wijkaanpak:partners", sequence=v, municipality=MUNICIPALITY)
        await self.producer.send_and_wait(self.infra.topic(chosen), to_json(event), key=str(pid).encode())
        if wait:
            await self.wait_for(pid, max(v, self.versions[pid]))
        return pid

    async def wait_for(self, partner_id: UUID, version: int) -> None:
        conn = await asyncpg.connect(asyncpg_dsn(self.infra.database_url), server_settings={"search_path": self.schema})
        try:

            async def applied() -> bool:
                found = await conn.fetchval("SELECT version FROM partners WHERE partner_id = $1", partner_id)
                return found is not None and found >= version

            await eventually(applied, timeout=30)
        finally:
            await conn.close()


@dataclass
class SignalsApp:
    client: httpx.AsyncClient
    settings: Settings
    partners: Partners
    infra: Infra

    def headers(
        self,
        role: str,
        municipalities: list[str] | None = None,
        *,
        partner_id: str | None = None,
        sub: str | None = None,
    ) -> dict[str, str]:
        """What `infra.headers` gives, signed with the key loaded once (parsing the PEM per token is slow)."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": sub or f"{role}-{secrets.token_hex(4)}",
            "roles": [role],
            "municipalities": municipalities if municipalities is not None else [MUNICIPALITY],
            "iat": now,
            "exp": now + 3600,
        }
        if partner_id:
            claims["partner_id"] = partner_id
        token = jwt.encode(claims, _signing_key(self.infra), algorithm="RS256", headers={"kid": self.infra.keys.kid})
        return {"Authorization": f"Bearer {token}"}

    async def report(self, headers: dict[str, str], **fields: Any) -> httpx.Response:
        body = {"municipality": MUNICIPALITY, "category": "vandalism", "urgency": "normal", "description": "kapot"}
        body.update(fields)
        return await self.client.post("/v1/signals", json=body, headers=headers)

    async def sql(self, query: str, *args: Any) -> Any:
        conn = await asyncpg.connect(
            asyncpg_dsn(self.infra.database_url), server_settings={"search_path": self.settings.db_schema}
        )
        try:
            return await conn.fetch(query, *args)
        finally:
            await conn.close()


@functools.cache
def _load_key(pem: bytes) -> Any:
    return serialization.load_pem_private_key(pem, password=None)


def _signing_key(infra: Infra) -> Any:
    return _load_key(infra.keys.private_pem)


def signals_settings(infra: Infra, schema: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"db_schema": schema, "secrets_key": "signals-test-key"}
    values.update(overrides)
    return infra.settings(Settings, **values)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def producer(infra: Infra) -> AsyncIterator[AIOKafkaProducer]:
    p = AIOKafkaProducer(bootstrap_servers=infra.kafka)
    await p.start()
    try:
        yield p
    finally:
        await p.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def app(infra: Infra, producer: AIOKafkaProducer) -> AsyncIterator[SignalsApp]:
    schema = f"signals_{secrets.token_hex(3)}"
    settings = signals_settings(infra, schema)
    async with serve(create_app(settings)) as client:
        yield SignalsApp(client, settings, Partners(infra, schema, producer), infra)


@pytest.fixture
def area() -> tuple[str, str]:
    return fresh_area()
