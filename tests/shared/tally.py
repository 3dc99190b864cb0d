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

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from sqlalchemy import text

from shared.consumer import ConsumerRunner, ReceivedEvent
from shared.db import Database, UnitOfWork
from shared.events.catalog import CATALOG, EventData, dlq_topic
from shared.kafka import create_topics, delete_topics, idempotent_producer
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
        # as the services' relays: a broker that lost the producer's sequence state needs a new producer
        kw.setdefault("producer_factory", lambda: idempotent_producer(self.bootstrap, client_id="test-relay"))
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

    async def records(self, topic: str | None = None, *, settle: float | None = None) -> list[Any]:
        """Every record on the topic now: each partition read from its start to its end offset.

        `settle` is ignored (kept for existing callers): read to the end offsets, nothing needs to
        settle; wait for what must be on the topic first (e.g. `caught_up`)."""
        del settle
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None, enable_auto_commit=False)
        await consumer.start()
        seen: list[Any] = []
        try:
            partitions = await _partitions(consumer, topic or self.topic)
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            ends = await consumer.end_offsets(partitions)
            for tp in partitions:
                while await consumer.position(tp) < ends[tp]:
                    batch = await consumer.getmany(tp, timeout_ms=200)
                    seen.extend(r for rs in batch.values() for r in rs if r.offset < ends[tp])
        finally:
            await consumer.stop()
        return seen

    async def caught_up(self, topic: str | None = None) -> bool:
        """The consumer group committed past every record now on the topic: each one was applied,
        found a duplicate or dead-lettered (the runner commits only after that)."""
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, group_id=f"{self.prefix}group", enable_auto_commit=False
        )
        await consumer.start()
        try:
            partitions = await _partitions(consumer, topic or self.topic)
            ends = await consumer.end_offsets(partitions)
            for tp in partitions:
                if (await consumer.committed(tp) or 0) < ends[tp]:
                    return False
            return True
        finally:
            await consumer.stop()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    found = consumer.partitions_for_topic(topic)
    if not found:
        cluster = await consumer._client.fetch_all_metadata()
        found = cluster.partitions_for_topic(topic) or set()
    assert found, f"no partitions for {topic}"
    return [TopicPartition(topic, p) for p in sorted(found)]


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
