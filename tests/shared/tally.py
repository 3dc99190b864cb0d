"""A small test aggregate built only from shared/: a tally whose counts are applied elsewhere.

The producing side writes tallies and `test.tally_counted` events through the unit of work; the
consuming side records one effect row per applied event (no unique constraint, so a duplicated
effect would show as a second row: the inbox is what keeps it at one).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid4

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from sqlalchemy import text

from shared.consumer import ConsumerRunner, ReceivedEvent
from shared.db import Database, UnitOfWork
from shared.events.catalog import CATALOG, EventData, dlq_topic
from shared.kafka import delete_topics, idempotent_producer
from shared.outbox import OutboxRelay

EVENT_TYPE = "test.tally_counted"
SOURCE = "urn:nld:wijkaanpak:test"


class TallyCounted(EventData):
    event_type = EVENT_TYPE
    summary = "test aggregate event"
    aggregate_field = "tally_id"
    tally_id: UUID
    n: int


CATALOG.setdefault(EVENT_TYPE, TallyCounted)


async def create_topics(bootstrap: str, names: list[str], partitions: int = 3) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=30000)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(n, partitions, 1) for n in names])
    finally:
        await admin.close()


@dataclass
class Tally:
    """Producer and consumer side of the test aggregate, each with its own schema."""

    database_url: str
    bootstrap: str
    consumer_database_url: str | None = None
    prefix: str = field(default_factory=lambda: f"tally{secrets.token_hex(4)}.")
    producer_db: Database = field(init=False)
    consumer_db: Database = field(init=False)

    def __post_init__(self) -> None:
        self.producer_db = Database(self.database_url, f"tp_{self.prefix[5:-1]}", pool_size=4)
        self.consumer_db = Database(
            self.consumer_database_url or self.database_url, f"tc_{self.prefix[5:-1]}", pool_size=4
        )

    @property
    def topic(self) -> str:
        return self.prefix + EVENT_TYPE

    async def setup(self, partitions: int = 3) -> None:
        await create_topics(self.bootstrap, [self.topic, dlq_topic(self.topic)], partitions)
        await self.producer_db.migrate()
        await self.consumer_db.migrate()
        async with self.producer_db.engine.begin() as conn:
            await conn.execute(text("CREATE TABLE IF NOT EXISTS tally (id uuid PRIMARY KEY, version int NOT NULL)"))
        async with self.consumer_db.engine.begin() as conn:
            await conn.execute(
                text(
                    "CREATE TABLE IF NOT EXISTS effects (event_id uuid NOT NULL, tally_id uuid NOT NULL,"
                    " n int NOT NULL, sequence text NOT NULL)"
                )
            )

    async def close(self) -> None:
        with suppress(Exception):  # a broker a test stopped for good has nothing left to clean
            await delete_topics(self.bootstrap, self.prefix)
        await self.producer_db.dispose()
        await self.consumer_db.dispose()

    def uow(self, db: Database | None = None) -> UnitOfWork:
        return UnitOfWork(db or self.producer_db, SOURCE, self.prefix)

    async def count(self, tally_id: UUID | None = None, n: int = 1, *, db: Database | None = None) -> UUID:
        """One committed count: the tally's new version and its event, together."""
        tally_id = tally_id or uuid4()
        async with self.uow(db) as uow:
            version = (
                await uow.session.execute(
                    text(
                        "INSERT INTO tally (id, version) VALUES (:id, 1)"
                        " ON CONFLICT (id) DO UPDATE SET version = tally.version + 1 RETURNING version"
                    ),
                    {"id": tally_id},
                )
            ).scalar_one()
            uow.emit(TallyCounted(tally_id=tally_id, n=n), sequence=version, municipality="GM0479")
            await uow.commit()
        return tally_id

    def relay(self, producer: AIOKafkaProducer, cls: type[OutboxRelay] = OutboxRelay, **kw: Any) -> OutboxRelay:
        kw.setdefault("poll_seconds", 0.2)
        kw.setdefault("standby_seconds", 0.2)
        kw.setdefault("retry_max_seconds", 0.5)
        return cls(self.producer_db, producer, service="test", **kw)

    def consumer(
        self, dlq_producer: AIOKafkaProducer, cls: type[ConsumerRunner] = ConsumerRunner, **kw: Any
    ) -> ConsumerRunner:
        async def on_counted(uow: UnitOfWork, event: ReceivedEvent) -> None:
            assert isinstance(event.data, TallyCounted)
            if event.data.n < 0:
                raise ValueError("a tally never counts down")
            await uow.session.execute(
                text("INSERT INTO effects (event_id, tally_id, n, sequence) VALUES (:e, :t, :n, :s)"),
                {"e": event.envelope.id, "t": event.data.tally_id, "n": event.data.n, "s": event.envelope.sequence},
            )

        kw.setdefault("retry_initial_seconds", 0.05)
        kw.setdefault("retry_max_seconds", 0.5)
        return cls(
            name="tally",
            db=self.consumer_db,
            source=SOURCE,
            bootstrap=self.bootstrap,
            group_id=f"{self.prefix}group",
            handlers={EVENT_TYPE: on_counted},
            topic_prefix=self.prefix,
            dlq_producer=dlq_producer,
            **kw,
        )

    async def effects(self) -> list[Any]:
        async with self.consumer_db.engine.connect() as conn:
            return list((await conn.execute(text("SELECT event_id, tally_id, n, sequence FROM effects"))).all())

    async def unpublished(self) -> int:
        async with self.producer_db.engine.connect() as conn:
            return int(
                (await conn.execute(text("SELECT count(*) FROM outbox WHERE published_at IS NULL"))).scalar_one()
            )

    async def records(self, topic: str | None = None, *, settle: float = 1.0) -> list[Any]:
        """Every record on the topic (read until nothing new arrives for `settle` seconds)."""
        consumer = AIOKafkaConsumer(
            topic or self.topic, bootstrap_servers=self.bootstrap, auto_offset_reset="earliest", group_id=None
        )
        await consumer.start()
        seen: list[Any] = []
        try:
            idle = 0.0
            while idle < settle:
                batch = await consumer.getmany(timeout_ms=200)
                got = [r for rs in batch.values() for r in rs]
                seen.extend(got)
                idle = 0.0 if got else idle + 0.2
        finally:
            await consumer.stop()
        return seen


@asynccontextmanager
async def running(*loops: Any) -> AsyncIterator[asyncio.Event]:
    """Run relays/consumers (objects with `run(stop)`) until the block ends."""
    stop = asyncio.Event()
    tasks = [asyncio.create_task(loop.run(stop)) for loop in loops]
    try:
        yield stop
    finally:
        stop.set()
        done, pending = await asyncio.wait(tasks, timeout=15)
        for task in pending:
            task.cancel()
        for task in [*done, *pending]:
            with suppress(BaseException):
                await task


@asynccontextmanager
async def producer(bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    p = idempotent_producer(bootstrap, client_id="test")
    await p.start()
    try:
        yield p
    finally:
        await p.stop()
