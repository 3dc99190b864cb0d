"""Retention of the outbox, inbox and idempotency tables (shared.retention) on a real PostgreSQL.

Time is pinned with `FixedClock`: rows carry explicit times around it, or, in the running
service, the database's `now()` with the clock set to that instant and then moved on by days.
"""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import asyncpg
import pytest

from services.signals.app import Settings as SignalsSettings
from services.signals.app import create_app
from shared.clock import FixedClock
from shared.db import Database, UnitOfWork, asyncpg_dsn
from shared.retention import Sweep, purge, sweeps
from shared.settings import ServiceSettings
from tests.support import Infra, eventually, serve

AT = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


class Schema:
    """A schema of the session database with the shared migrations applied, and a raw connection."""

    def __init__(self, infra: Infra) -> None:
        self.name = f"retention_{secrets.token_hex(3)}"
        self.db = Database(infra.database_url, self.name, pool_size=4)
        self.conn: asyncpg.Connection | None = None

    async def __aenter__(self) -> Schema:
        await self.db.migrate()
        self.conn = await self.db.connect_raw()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.conn is not None:
            await self.conn.close()
        await self.db.dispose()

    async def sql(self, query: str, *args: Any) -> Any:
        assert self.conn is not None
        return await self.conn.fetch(query, *args)

    async def count(self, table: str, where: str = "true") -> int:
        rows = await self.sql(f"SELECT count(*) AS n FROM {table} WHERE {where}")
        return int(rows[0]["n"])

    async def outbox(self, n: int, *, published_at: datetime | None, created_at: datetime) -> None:
        for _ in range(n):
            await self.sql(
                "INSERT INTO outbox (event_id, topic, key, payload, created_at, published_at)"
                " VALUES ($1, 'test.event', 'k', '{}'::jsonb, $2, $3)",
                uuid4(),
                created_at,
                published_at,
            )

    async def inbox(self, n: int, *, processed_at: datetime, consumer: str = "c") -> None:
        for i in range(n):
            await self.sql(
                "INSERT INTO inbox (consumer, event_id, topic, partition, kafka_offset, processed_at)"
                " VALUES ($1, $2, 'test.event', 0, $3, $4)",
                consumer,
                uuid4(),
                i,
                processed_at,
            )

    async def keys(self, n: int, *, created_at: datetime) -> None:
        for _ in range(n):
            await self.sql(
                "INSERT INTO idempotency_keys (scope, key, request_hash, status_code, response, created_at)"
                " VALUES ('test', $1, 'h', 201, '{}'::jsonb, $2)",
                uuid4().hex,
                created_at,
            )


@pytest.fixture
async def schema(infra: Infra) -> AsyncIterator[Schema]:
    async with Schema(infra) as s:
        yield s


def settings(**overrides: Any) -> ServiceSettings:
    return ServiceSettings(**overrides)


class Runner:
    """What `ServiceRuntime.run` does (`task(uow, clock, *args)` in a unit of work), counting batches."""

    def __init__(self, db: Database, clock: FixedClock) -> None:
        self.db = db
        self.clock = clock
        self.batches: Counter[str] = Counter()

    async def __call__(self, task: Any, *args: Any) -> Any:
        sweep: Sweep = args[0]
        self.batches[sweep.table] += 1
        async with UnitOfWork(self.db, "urn:test", clock=self.clock) as uow:
            return await task(uow, self.clock, *args)


async def test_defaults_keep_the_inbox_beyond_the_topics_retention_including_dead_letters() -> None:
    defaults = settings()
    assert (defaults.outbox_retention_days, defaults.idempotency_retention_days) == (7, 2)
    # topics keep 14 days, dead letters 30, each up to a 7-day segment longer (shared.retention)
    assert defaults.inbox_retention_days > 30 + 7
    assert [s.table for s in sweeps(defaults)] == ["outbox", "inbox", "idempotency_keys", "consumer_positions"]
    assert [s.table for s in sweeps(settings(inbox_retention_days=0))] == ["outbox", "idempotency_keys"]


async def test_old_rows_go_in_batches_newer_and_unpublished_ones_stay(schema: Schema) -> None:
    clock = FixedClock(AT)
    await schema.outbox(7, published_at=AT - 8 * DAY, created_at=AT - 8 * DAY)
    await schema.outbox(2, published_at=AT - 6 * DAY, created_at=AT - 6 * DAY)
    await schema.outbox(2, published_at=None, created_at=AT - 90 * DAY)  # never published: kept for ever
    await schema.inbox(5, processed_at=AT - 46 * DAY)
    await schema.inbox(2, processed_at=AT - 44 * DAY)
    await schema.keys(4, created_at=AT - 3 * DAY)
    await schema.keys(1, created_at=AT - DAY)

    run = Runner(schema.db, clock)
    deleted = await purge(run, clock, sweeps(settings()), batch_size=3)

    assert deleted == {"outbox": 7, "inbox": 5, "idempotency_keys": 4, "consumer_positions": 0}
    assert run.batches == {"outbox": 3, "inbox": 2, "idempotency_keys": 2, "consumer_positions": 1}  # 3+3+1, 3+2, 3+1
    assert await schema.count("outbox", "published_at IS NOT NULL") == 2
    assert await schema.count("outbox", "published_at IS NULL") == 2
    assert await schema.count("inbox") == 2
    assert await schema.count("idempotency_keys") == 1

    assert await purge(run, clock, sweeps(settings()), batch_size=3) == {
        "outbox": 0,
        "inbox": 0,
        "idempotency_keys": 0,
        "consumer_positions": 0,
    }
    clock.advance(2 * DAY)  # the newer rows come of age
    assert await purge(run, clock, sweeps(settings()), batch_size=3) == {
        "outbox": 2,
        "inbox": 2,
        "idempotency_keys": 1,
        "consumer_positions": 0,
    }
    assert await schema.count("outbox") == 2 and await schema.count("outbox", "published_at IS NULL") == 2


async def test_replicas_sweeping_at_once_delete_each_row_once(schema: Schema) -> None:
    clock = FixedClock(AT)
    await schema.outbox(40, published_at=AT - 10 * DAY, created_at=AT - 10 * DAY)
    await schema.outbox(3, published_at=None, created_at=AT - 10 * DAY)
    await schema.inbox(30, processed_at=AT - 60 * DAY)
    plan = sweeps(settings())

    results = await asyncio.gather(*(purge(Runner(schema.db, clock), clock, plan, batch_size=4) for _ in range(3)))

    assert sum(r["outbox"] for r in results) == 40 and sum(r["inbox"] for r in results) == 30
    assert await schema.count("outbox") == 3 and await schema.count("inbox") == 0


async def test_the_sweeps_delete_through_their_time_indexes(schema: Schema) -> None:
    indexes = {
        r["indexname"]: r["indexdef"]
        for r in await schema.sql("SELECT * FROM pg_indexes WHERE schemaname = $1", schema.name)
    }
    assert "WHERE (published_at IS NOT NULL)" in indexes["outbox_published_at"]
    assert "(processed_at)" in indexes["inbox_processed_at"]
    assert "(created_at)" in indexes["idempotency_keys_created_at"]
    await schema.sql("SET enable_seqscan = off")  # an empty table: ask whether the index can serve at all
    for sweep in sweeps(settings()):
        plan = await schema.sql("EXPLAIN " + sweep.statement().replace(":cutoff", "$1").replace(":limit", "$2"), AT, 10)
        assert any("Index" in row[0] for row in plan), (sweep.table, [row[0] for row in plan])
    await schema.sql("RESET enable_seqscan")


async def test_every_service_runs_the_retention_and_deletes_what_came_of_age(infra: Infra) -> None:
    schema = f"signals_retention_{secrets.token_hex(3)}"
    config = infra.settings(
        SignalsSettings, db_schema=schema, secrets_key="signals-test-key", messaging_retention_interval_seconds=0.1
    )
    conn = await asyncpg.connect(asyncpg_dsn(infra.database_url))
    try:
        clock = FixedClock(await conn.fetchval("SELECT now()"))
        async with serve(create_app(config, clock=clock)) as client:
            await conn.execute(f'SET search_path TO "{schema}"')

            async def count(table: str, where: str = "true") -> int:
                return int(await conn.fetchval(f"SELECT count(*) FROM {table} WHERE {where}"))

            def comes_to(n: int, table: str, where: str = "true") -> Callable[[], Awaitable[bool]]:
                async def check() -> bool:
                    return await count(table, where) == n

                return check

            headers = {**infra.headers("resident"), "Idempotency-Key": f"retention-{secrets.token_hex(4)}"}
            body = {"municipality": "GM0479", "category": "vandalism", "urgency": "normal", "description": "kapot"}
            r = await client.post("/v1/signals", json={**body, "area": "BU04799999"}, headers=headers)
            assert r.status_code == 201, r.text
            assert await count("idempotency_keys") >= 1
            await eventually(comes_to(0, "outbox", "published_at IS NULL"))
            published = await count("outbox")
            assert published >= 1
            await conn.execute(
                "INSERT INTO inbox (consumer, event_id, topic, partition, kafka_offset) VALUES ('w', $1, 't', 0, 0)",
                uuid4(),
            )
            # witnesses, due just before each step below: once one is gone, that step's tick swept the
            # outbox (before the inbox) and the inbox
            for days in (2.5, 7.5, 44.5):
                await conn.execute(
                    "INSERT INTO inbox (consumer, event_id, topic, partition, kafka_offset, processed_at)"
                    " VALUES ('witness', $1, 't', 0, 0, now() - make_interval(secs => $2))",
                    uuid4(),
                    (45 - days) * 86400.0,
                )

            clock.advance(3 * DAY)  # the idempotency key is 3 days old
            await eventually(comes_to(0, "idempotency_keys"))
            await eventually(comes_to(2, "inbox", "consumer = 'witness'"))  # the outbox is swept before the inbox
            assert await count("outbox") == published and await count("inbox", "consumer = 'w'") == 1

            clock.advance(5 * DAY)  # 8 days: the published outbox rows go
            await eventually(comes_to(1, "inbox", "consumer = 'witness'"))
            assert await count("outbox") == 0 and await count("inbox", "consumer = 'w'") == 1

            clock.advance(38 * DAY)  # 46 days: the inbox row goes too
            await eventually(comes_to(0, "inbox"))
    finally:
        await conn.close()
