"""Database: async SQLAlchemy engine on asyncpg bound to the service's own schema, the
migrations runner, and the unit of work that commits state and outbox rows together."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, Self
from uuid import UUID

import asyncpg
import orjson
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from shared.clock import SYSTEM_CLOCK, Clock
from shared.events.catalog import EventData
from shared.events.envelope import CloudEvent, envelope
from shared.observability import current_traceparent, get_logger

SHARED_MIGRATIONS = Path(__file__).parent / "migrations"
log = get_logger(__name__)


def asyncpg_dsn(url: str) -> str:
    """The plain libpq URL asyncpg wants, from a SQLAlchemy URL."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def lock_key(name: str) -> int:
    """A stable 63-bit advisory lock key for a name."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big") >> 1


def _json_serializer(value: Any) -> str:
    return orjson.dumps(value).decode()


class Database:
    """One engine per service; every connection's search_path is the service's schema."""

    def __init__(self, url: str, schema: str, *, pool_size: int = 10) -> None:
        self.url = url
        self.schema = schema
        self.dsn = asyncpg_dsn(url)
        self.engine: AsyncEngine = create_async_engine(
            url,
            pool_size=pool_size,
            max_overflow=pool_size,
            # No pre-ping (a round trip per transaction): a connection a restart broke is invalidated on
            # first use; consumers retry that as an outage and HTTP answers 503 (shared.http).
            pool_pre_ping=False,
            json_serializer=_json_serializer,
            connect_args={"server_settings": {"search_path": schema}},
        )
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        self._probe_conn: asyncpg.Connection | None = None
        self._probe_lock = asyncio.Lock()

    @property
    def notify_channel(self) -> str:
        return f"wk_outbox_{self.schema}"

    async def connect_raw(self) -> asyncpg.Connection:
        """A direct connection outside the pool (LISTEN and advisory locks live on one)."""
        return await asyncpg.connect(self.dsn, server_settings={"search_path": self.schema})

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def probe(self, timeout: float = 2.0) -> None:
        """Readiness: `SELECT 1` on a connection of the probe's own, outside the pool, so a pool
        saturated by load does not make the pod unready (that would only move the load to the
        other pods). The connection is kept and opened again when a restart broke it."""
        async with self._probe_lock:
            try:
                if self._probe_conn is None or self._probe_conn.is_closed():
                    self._probe_conn = await asyncio.wait_for(self.connect_raw(), timeout)
                await self._probe_conn.fetchval("SELECT 1", timeout=timeout)
            except BaseException:
                await self._close_probe()
                raise

    async def _close_probe(self) -> None:
        conn, self._probe_conn = self._probe_conn, None
        if conn is not None:
            conn.terminate()

    async def migrate(self, *migration_dirs: Path) -> list[str]:
        """Apply the shared then the service's `NNNN_name.sql` files once each, under a lock."""
        applied: list[str] = []
        conn = await asyncpg.connect(self.dsn)
        try:
            await conn.execute("SELECT pg_advisory_lock($1)", lock_key(f"migrate:{self.schema}"))
            # CREATE SCHEMA IF NOT EXISTS needs CREATE on the database even when the schema exists,
            # which a service role owning only its schema (the local stack, k8s) does not have.
            if not await conn.fetchval("SELECT 1 FROM pg_namespace WHERE nspname = $1", self.schema):
                await conn.execute(f'CREATE SCHEMA "{self.schema}"')
            await conn.execute(f'SET search_path TO "{self.schema}"')
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations"
                " (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {r["name"] for r in await conn.fetch("SELECT name FROM schema_migrations")}
            for folder, prefix in [(SHARED_MIGRATIONS, "shared:"), *[(d, "") for d in migration_dirs]]:
                for path in sorted(folder.glob("*.sql")):
                    name = prefix + path.name
                    if name in done:
                        continue
                    async with conn.transaction():
                        await conn.execute(path.read_text())
                        await conn.execute("INSERT INTO schema_migrations (name) VALUES ($1)", name)
                    applied.append(name)
                    log.info("migration_applied", schema=self.schema, migration=name)
        finally:
            await conn.close()
        return applied

    async def dispose(self) -> None:
        await self._close_probe()
        await self.engine.dispose()


class Aggregate(Protocol):
    """What raises events: each change appends `(version, event)` to `pending`."""

    municipality: str
    pending: list[tuple[int, EventData]]


class UnitOfWork:
    """One transaction: the aggregates' changes and the events they raised, committed together.

    Repositories `track` every aggregate they load or add; `commit()` writes the events those
    aggregates raised to the outbox in the same transaction, so no caller publishes by hand.
    `emit` is for events that belong to no aggregate here. Leaving the block without `commit()`
    rolls back, and then nothing is published.
    """

    def __init__(self, db: Database, source: str, topic_prefix: str = "", clock: Clock = SYSTEM_CLOCK) -> None:
        self.db = db
        self.clock = clock
        self.source = source
        self.topic_prefix = topic_prefix
        self.session: AsyncSession = db.sessions()
        self.events: list[CloudEvent] = []
        self.seen: list[Aggregate] = []
        self._committed = False

    def track(self, aggregate: Aggregate) -> None:
        if not any(a is aggregate for a in self.seen):
            self.seen.append(aggregate)

    def collect_events(self) -> None:
        """Move what the tracked aggregates raised into this transaction's events."""
        for aggregate in self.seen:
            for version, data in aggregate.pending:
                self.emit(data, sequence=version, municipality=aggregate.municipality)
            aggregate.pending.clear()

    async def __aenter__(self) -> Self:
        await self.session.begin()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if not self._committed:
                await self.session.rollback()
        finally:
            await self.session.close()

    def emit(
        self,
        data: EventData,
        *,
        sequence: int,
        municipality: str,
        time: datetime | None = None,
        event_id: UUID | None = None,
    ) -> CloudEvent:
        event = envelope(
            data,
            source=self.source,
            sequence=sequence,
            municipality=municipality,
            time=time or self.clock.now(),
            event_id=event_id,
        )
        self.events.append(event)
        return event

    async def flush_events(self) -> None:
        if not self.events:
            return
        traceparent = current_traceparent()
        rows: Sequence[dict[str, Any]] = [
            {
                "event_id": e.id,
                "topic": self.topic_prefix + e.event_type,
                "key": e.subject,
                "payload": orjson.dumps(e.model_dump(mode="json", exclude_none=True)).decode(),
                "traceparent": traceparent,
            }
            for e in self.events
        ]
        await self.session.execute(
            text(
                "INSERT INTO outbox (event_id, topic, key, payload, traceparent)"
                " VALUES (:event_id, :topic, :key, CAST(:payload AS jsonb), :traceparent)"
            ),
            rows,
        )
        self.events = []

    async def commit(self) -> None:
        self.collect_events()
        await self.flush_events()
        await self.session.commit()
        self._committed = True
