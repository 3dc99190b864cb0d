"""Outbox relay and consumer throughput, each beside a raw baseline measured in the same run.

- relay: committed outbox rows -> acknowledged Kafka writes (idempotent, acks=all), against
  plain aiokafka produce of the same records with the same producer settings;
- consumer: records on a topic -> handler effect committed with its inbox row, offsets
  committed after, against plain aiokafka consume + asyncpg executemany of the same rows.
"""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid

import asyncpg
import orjson
from aiokafka import AIOKafkaConsumer
from sqlalchemy import text

from bench.report import Figure, Report, median
from shared.consumer import ConsumerRunner, ReceivedEvent
from shared.db import Database, UnitOfWork, asyncpg_dsn
from shared.events.catalog import dlq_topic
from shared.kafka import create_topics, idempotent_producer
from shared.outbox import OutboxRelay
from tests.shared.tally import EVENT_TYPE, SOURCE, TallyCounted

SECTION = "messaging"


async def _fill_outbox(db: Database, prefix: str, n: int) -> None:
    """n committed outbox rows, written through the unit of work in chunks (not timed)."""
    for start in range(0, n, 1000):
        async with UnitOfWork(db, SOURCE, prefix) as uow:
            for _ in range(min(1000, n - start)):
                uow.emit(TallyCounted(tally_id=uuid.uuid4(), n=1), sequence=1, municipality="GM0479")
            await uow.commit()


async def relay_throughput(database_url: str, bootstrap: str, n: int) -> float:
    prefix = f"bench{secrets.token_hex(3)}."
    await create_topics(bootstrap, [prefix + EVENT_TYPE], partitions=6)
    db = Database(database_url, f"b_{prefix[5:-1]}", pool_size=2)
    await db.migrate()
    await _fill_outbox(db, prefix, n)
    producer = idempotent_producer(bootstrap, client_id="bench-relay", linger_ms=5)
    await producer.start()
    relay = OutboxRelay(db, producer, service="bench", batch_size=2000)
    conn = await db.connect_raw()
    try:
        started = time.perf_counter()
        published = 0
        while published < n:
            published += await relay.publish_batch(conn)
        return n / (time.perf_counter() - started)
    finally:
        await conn.close()
        await producer.stop()
        await db.dispose()


async def raw_produce_throughput(bootstrap: str, n: int) -> float:
    topic = f"benchraw{secrets.token_hex(3)}"
    await create_topics(bootstrap, [topic], partitions=6)
    payload = orjson.dumps({"specversion": "1.0", "data": {"tallyId": str(uuid.uuid4()), "n": 1}, "pad": "x" * 380})
    producer = idempotent_producer(bootstrap, client_id="bench-raw", linger_ms=5)
    await producer.start()
    try:
        started = time.perf_counter()
        for start in range(0, n, 2000):
            futures = [
                await producer.send(topic, value=payload, key=str(i).encode())
                for i in range(start, min(n, start + 2000))
            ]
            await asyncio.gather(*futures)
        return n / (time.perf_counter() - started)
    finally:
        await producer.stop()


async def _topic_with_events(database_url: str, bootstrap: str, n: int) -> tuple[str, str]:
    """A fresh prefix whose tally topic holds n real events (published by the relay)."""
    prefix = f"bench{secrets.token_hex(3)}."
    await create_topics(bootstrap, [prefix + EVENT_TYPE, dlq_topic(prefix + EVENT_TYPE)], partitions=6)
    db = Database(database_url, f"b_{prefix[5:-1]}", pool_size=2)
    await db.migrate()
    await _fill_outbox(db, prefix, n)
    producer = idempotent_producer(bootstrap, client_id="bench-fill")
    await producer.start()
    relay = OutboxRelay(db, producer, service="bench", batch_size=2000)
    conn = await db.connect_raw()
    try:
        published = 0
        while published < n:
            published += await relay.publish_batch(conn)
    finally:
        await conn.close()
        await producer.stop()
        await db.dispose()
    return prefix, prefix + EVENT_TYPE


async def consumer_throughput(database_url: str, bootstrap: str, n: int) -> float:
    prefix, _ = await _topic_with_events(database_url, bootstrap, n)
    db = Database(database_url, f"bc_{prefix[5:-1]}", pool_size=4)
    await db.migrate()
    async with db.engine.begin() as conn:
        await conn.execute(text("CREATE TABLE effects (event_id uuid NOT NULL, tally_id uuid NOT NULL, n int)"))

    async def on_counted(uow: UnitOfWork, event: ReceivedEvent) -> None:
        assert isinstance(event.data, TallyCounted)
        await uow.session.execute(
            text("INSERT INTO effects (event_id, tally_id, n) VALUES (:e, :t, :n)"),
            {"e": event.envelope.id, "t": event.data.tally_id, "n": event.data.n},
        )

    dlq = idempotent_producer(bootstrap, client_id="bench-dlq")
    await dlq.start()
    runner = ConsumerRunner(
        name="bench", db=db, source=SOURCE, bootstrap=bootstrap, group_id=f"{prefix}g",
        handlers={EVENT_TYPE: on_counted}, topic_prefix=prefix, batch_size=1000, dlq_producer=dlq,
    )  # fmt: skip
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    try:
        while runner.processed == 0:  # noqa: ASYNC110 (polling the counter is the measurement)
            await asyncio.sleep(0.005)
        started, first = time.perf_counter(), runner.processed
        while runner.processed < n:  # noqa: ASYNC110
            await asyncio.sleep(0.005)
        return (n - first) / (time.perf_counter() - started)
    finally:
        stop.set()
        await task
        await dlq.stop()
        await db.dispose()


async def raw_consume_insert_throughput(database_url: str, bootstrap: str, n: int) -> float:
    """Plain aiokafka consume + asyncpg executemany in one transaction per batch: no parse, no inbox."""
    prefix, topic = await _topic_with_events(database_url, bootstrap, n)
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    schema = f"braw_{prefix[5:-1]}"
    await conn.execute(f"CREATE SCHEMA {schema}; CREATE TABLE {schema}.effects (value bytea NOT NULL)")
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=f"{prefix}raw", enable_auto_commit=False,
        auto_offset_reset="earliest", max_poll_records=1000,
    )  # fmt: skip
    await consumer.start()
    try:
        done, started = 0, 0.0
        while done < n:
            batches = await consumer.getmany(timeout_ms=500, max_records=1000)
            for tp, records in batches.items():
                if not started:
                    started = time.perf_counter()
                async with conn.transaction():
                    await conn.executemany(f"INSERT INTO {schema}.effects VALUES ($1)", [(r.value,) for r in records])
                await consumer.commit({tp: records[-1].offset + 1})
                done += len(records)
        return n / (time.perf_counter() - started)
    finally:
        await consumer.stop()
        await conn.close()


async def run(report: Report, database_url: str, bootstrap: str, *, quick: bool = False) -> None:
    n = 5000 if quick else 20000
    rounds = 1 if quick else 3
    relay = [await relay_throughput(database_url, bootstrap, n) for _ in range(rounds)]
    raw = [await raw_produce_throughput(bootstrap, n) for _ in range(rounds)]
    report.add(
        Figure(SECTION, f"outbox relay, {n:,} committed rows", median(relay), "events/s",
               "plain aiokafka produce (acks=all, idempotent)", median(raw), aim=">= 5,000 events/s",
               notes=f"median of {rounds}; runs {[round(x) for x in relay]}")
    )  # fmt: skip
    consumed = [await consumer_throughput(database_url, bootstrap, n) for _ in range(rounds)]
    raw_c = [await raw_consume_insert_throughput(database_url, bootstrap, n) for _ in range(rounds)]
    report.add(
        Figure(SECTION, f"consumer with inbox dedup, {n:,} events", median(consumed), "events/s",
               "plain aiokafka consume + asyncpg executemany", median(raw_c), aim=">= 3,000 events/s",
               notes=f"median of {rounds}; runs {[round(x) for x in consumed]}")
    )  # fmt: skip
