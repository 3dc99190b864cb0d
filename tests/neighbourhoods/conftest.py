"""Fixtures for the neighbourhoods service against the session's real PostgreSQL (with PostGIS
where the server has it) and Kafka."""

from __future__ import annotations

import functools
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
import pytest_asyncio
from aiokafka import AIOKafkaProducer
from cryptography.hazmat.primitives import serialization

from services.neighbourhoods.app import Settings, create_app
from shared.clock import FixedClock
from shared.db import asyncpg_dsn
from shared.events.catalog import PartnerDeactivated, PartnerRegistered, PartnerUpdated
from shared.events.codes import Category, PartnerKind
from shared.events.envelope import envelope, to_json
from tests.support import AUDIENCE, ISSUER, Infra, eventually, serve

MUNICIPALITY = "GM0479"
START = datetime(2026, 11, 16, 10, 0, tzinfo=UTC)
RESIDENT_REF_KEY = "neighbourhoods-test-resident-ref-key"


def invalid(response: httpx.Response) -> set[str]:
    """The fields a problem+json 400 names."""
    assert response.status_code == 400, response.text
    return {p["name"] for p in response.json()["invalidParams"]}


@functools.cache
def _load_key(pem: bytes) -> Any:
    return serialization.load_pem_private_key(pem, password=None)


def nbh_settings(infra: Infra, schema: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "db_schema": schema,
        "secrets_key": "neighbourhoods-test-key",
        "resident_ref_key": RESIDENT_REF_KEY,
    }
    values.update(overrides)
    return infra.settings(Settings, **values)


@dataclass
class Partners:
    """Publishes real `partner.*` CloudEvents and waits until the service applied them."""

    infra: Infra
    schema: str
    producer: AIOKafkaProducer
    versions: dict[UUID, int] = field(default_factory=dict)

    async def publish(
        self,
        *,
        areas: list[str],
        kind: PartnerKind = PartnerKind.POLICE,
        partner_id: UUID | None = None,
        active: bool = True,
        municipalities: list[str] | None = None,
        deactivate: bool = False,
    ) -> UUID:
        pid = partner_id or uuid4()
        version = self.versions.get(pid, 0) + 1
        self.versions[pid] = version
        model = PartnerDeactivated if deactivate else PartnerRegistered if version == 1 else PartnerUpdated
        data = model(
            partner_id=pid,
            name=f"partner {pid.hex[:6]}",
            kind=kind,
            municipalities=municipalities or [MUNICIPALITY],
            areas=areas,
            categories=list(Category),
            acknowledge_within_minutes=60,
            active=active and not deactivate,
            registered_at=START,
            version=version,
        )
        event = envelope(data, source="urn:nld:wijkaanpak:partners", sequence=version, municipality=MUNICIPALITY)
        await self.producer.send_and_wait(self.infra.topic(data.event_type), to_json(event), key=str(pid).encode())
        conn = await asyncpg.connect(asyncpg_dsn(self.infra.database_url), server_settings={"search_path": self.schema})
        try:

            async def applied() -> bool:
                found = await conn.fetchval("SELECT version FROM partners WHERE partner_id = $1", pid)
                return found is not None and found >= version

            await eventually(applied, timeout=30)
        finally:
            await conn.close()
        return pid


@dataclass
class NeighbourhoodsApp:
    client: httpx.AsyncClient
    settings: Settings
    partners: Partners
    infra: Infra
    clock: FixedClock

    def headers(
        self,
        role: str,
        municipalities: list[str] | None = None,
        *,
        partner_id: UUID | str | None = None,
        sub: str | None = None,
    ) -> dict[str, str]:
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
            claims["partner_id"] = str(partner_id)
        token = jwt.encode(
            claims, _load_key(self.infra.keys.private_pem), algorithm="RS256", headers={"kid": self.infra.keys.kid}
        )
        return {"Authorization": f"Bearer {token}"}

    async def sql(self, query: str, *args: Any) -> Any:
        conn = await asyncpg.connect(
            asyncpg_dsn(self.infra.database_url), server_settings={"search_path": self.settings.db_schema}
        )
        try:
            return await conn.fetch(query, *args)
        finally:
            await conn.close()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def producer(infra: Infra) -> AsyncIterator[AIOKafkaProducer]:
    p = AIOKafkaProducer(bootstrap_servers=infra.kafka)
    await p.start()
    try:
        yield p
    finally:
        await p.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def app(infra: Infra, producer: AIOKafkaProducer) -> AsyncIterator[NeighbourhoodsApp]:
    schema = f"neighbourhoods_{secrets.token_hex(3)}"
    settings = nbh_settings(infra, schema)
    clock = FixedClock(START)
    async with serve(create_app(settings, clock=clock)) as client:
        yield NeighbourhoodsApp(client, settings, Partners(infra, schema, producer), infra, clock)


_districts: set[str] = set()


def fresh_district() -> str:
    """A district of GM0479 no other test of this session uses (letters: CBS's own never collide)."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ"
    while True:
        code = "WK0479" + "".join(secrets.choice(alphabet) for _ in range(2))
        if code not in _districts:
            _districts.add(code)
            return code


def bu(district: str, n: int) -> str:
    """Neighbourhood `n` of a district: BU + the district's 6 characters + 2 digits."""
    return f"BU{district[2:]}{n:02d}"
