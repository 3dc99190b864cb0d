"""Test infrastructure: real PostgreSQL and Kafka, isolated per test session.

Servers: `DATABASE_URL` / `KAFKA_BOOTSTRAP_SERVERS` when set; else testcontainers when a Docker
engine answers; else the local stack's servers (`make test` starts them). Isolation: a fresh
database per session; topics and consumer groups per test module (`infra`), or per session
(`session_infra`, for fixtures that serve the whole session).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import httpx
import jwt
from aiokafka import AIOKafkaConsumer
from asgi_lifespan import LifespanManager
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI

from shared.db import asyncpg_dsn
from shared.events.envelope import CloudEvent, parse
from shared.settings import ServiceSettings

LOCAL_DATABASE_URL = "postgresql+asyncpg://wijkaanpak:wijkaanpak-dev@127.0.0.1:55432/wijkaanpak"
LOCAL_KAFKA = "127.0.0.1:59092"
ISSUER = "wijkaanpak-test"
AUDIENCE = "wijkaanpak"
S = TypeVar("S", bound=ServiceSettings)


@dataclass
class Keys:
    private_pem: bytes
    private_path: Path
    jwks_path: Path
    kid: str = "test-key"
    _loaded: Any = None

    def signing_key(self) -> Any:
        """The private key, parsed once (parsing a PEM costs ~80 ms; tests sign many tokens)."""
        if self._loaded is None:
            self._loaded = serialization.load_pem_private_key(self.private_pem, password=None)
        return self._loaded

    @classmethod
    def generate(cls, folder: Path) -> Keys:
        folder.mkdir(parents=True, exist_ok=True)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
        jwk.update({"kid": "test-key", "use": "sig", "alg": "RS256"})
        (folder / "private.pem").write_bytes(pem)
        (folder / "jwks.json").write_text(json.dumps({"keys": [jwk]}))
        return cls(pem, folder / "private.pem", folder / "jwks.json")


@dataclass
class Infra:
    admin_url: str
    database_url: str
    kafka: str
    topic_prefix: str
    keys: Keys
    run_id: str
    extra_env: dict[str, str] = field(default_factory=dict)
    group_prefix: str = ""

    def __post_init__(self) -> None:
        self.group_prefix = self.group_prefix or f"{self.run_id}."

    def module(self, name: str) -> Infra:
        """The same servers, database and keys, with topics and consumer groups named for `name` alone."""
        prefix = f"{self.topic_prefix}{name}."
        return dataclasses.replace(self, topic_prefix=prefix, group_prefix=prefix)

    def token(
        self,
        role: str,
        municipalities: list[str] | tuple[str, ...] = ("GM0479",),
        *,
        partner_id: str | None = None,
        sub: str | None = None,
        ttl: int = 3600,
        issuer: str = ISSUER,
        audience: str = AUDIENCE,
        roles: list[str] | None = None,
    ) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": issuer,
            "aud": audience,
            "sub": sub or f"{role}-{secrets.token_hex(4)}",
            "roles": roles or [role],
            "municipalities": list(municipalities),
            "iat": now,
            "exp": now + ttl,
        }
        if partner_id:
            claims["partner_id"] = partner_id
        return jwt.encode(claims, self.keys.signing_key(), algorithm="RS256", headers={"kid": self.keys.kid})

    def headers(
        self, role: str, municipalities: list[str] | tuple[str, ...] = ("GM0479",), **kw: Any
    ) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(role, municipalities, **kw)}"}

    def settings(self, cls: type[S], **overrides: Any) -> S:
        """Settings for a service under test: this session's database, topics, keys, short retries."""
        values: dict[str, Any] = {
            "database_url": self.database_url,
            "kafka_bootstrap_servers": self.kafka,
            "topic_prefix": self.topic_prefix,
            "consumer_group_prefix": self.group_prefix,
            "auth_jwks_path": str(self.keys.jwks_path),
            "auth_issuer": ISSUER,
            "service_token_key_path": str(self.keys.private_path),
            "relay_poll_seconds": 0.5,
            "retry_initial_seconds": 0.05,
            "retry_max_seconds": 1.0,
            "log_requests": False,
        }
        values.update(overrides)
        return cls(**values)

    def topic(self, event_type: str) -> str:
        return self.topic_prefix + event_type


async def create_database(admin_url: str, name: str) -> str:
    conn = await asyncpg.connect(asyncpg_dsn(admin_url))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    from sqlalchemy.engine import make_url

    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    await ensure_postgis(url)
    return url


async def ensure_postgis(url: str) -> bool:
    """PostGIS in the database as the local stack has it (stack.pg.POSTGIS_SQL), when the server has it."""
    from stack.pg import POSTGIS_SQL

    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'"):
            return False
        await conn.execute(POSTGIS_SQL)
        return True
    finally:
        await conn.close()


async def drop_database(admin_url: str, name: str) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(admin_url))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@asynccontextmanager
async def serve(app: FastAPI, base_url: str = "http://testserver") -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan (migrations, relay, consumers) running, and a client to it."""
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
            yield client


class TopicReader:
    """Reads what actually arrived on Kafka topics (no group: assigned, from the beginning)."""

    def __init__(self, infra: Infra, *event_types: str) -> None:
        self.infra = infra
        self.topics = [infra.topic(t) for t in event_types]
        self.consumer: AIOKafkaConsumer | None = None
        self.seen: list[tuple[CloudEvent, Any, list[tuple[str, bytes]]]] = []

    async def __aenter__(self) -> TopicReader:
        self.consumer = AIOKafkaConsumer(
            *self.topics,
            bootstrap_servers=self.infra.kafka,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            group_id=None,
        )
        await self.consumer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.consumer is not None:
            await self.consumer.stop()

    async def until(
        self, predicate: Callable[[list[tuple[CloudEvent, Any, list[tuple[str, bytes]]]]], bool], timeout: float = 20
    ) -> list[tuple[CloudEvent, Any, list[tuple[str, bytes]]]]:
        assert self.consumer is not None
        deadline = time.monotonic() + timeout
        while not predicate(self.seen):
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; saw {[e.type for e, _, _ in self.seen]}")
            batch = await self.consumer.getmany(timeout_ms=200)
            for records in batch.values():
                for r in records:
                    envelope, data = parse(r.value)
                    self.seen.append((envelope, data, list(r.headers)))
        return self.seen

    async def events(self, count: int, timeout: float = 20) -> list[tuple[CloudEvent, Any, list[tuple[str, bytes]]]]:
        return await self.until(lambda seen: len(seen) >= count, timeout)


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 20, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if await check():
            return
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(interval)


def docker_available() -> bool:
    if not (os.path.exists("/var/run/docker.sock") or os.environ.get("DOCKER_HOST")):
        return False
    try:
        import docker  # type: ignore[import-untyped]

        docker.from_env(timeout=3).ping()
        return True
    except Exception:
        return False
