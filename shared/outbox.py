"""The outbox relay: publishes committed outbox rows to Kafka, in order, exactly once in effect.

One active relay per service schema, chosen by a session-level advisory lock, so each
aggregate's events keep their order also with several replicas (the others stand by and take
over when the lock holder's connection goes). The active relay takes unpublished rows in id
order `FOR UPDATE SKIP LOCKED`, sends them with an idempotent producer (acks=all), waits for
every acknowledgement, then marks them published in the same transaction. A crash between the
send and the mark republishes those rows: at-least-once on the wire, and consumers dedupe by
event id. It sleeps on LISTEN/NOTIFY (on a direct connection: LISTEN does not survive a
transaction pooler), with a poll as a safety net. When the broker lost the idempotent producer's
sequence state (a broker stopped while batches were in flight answers OutOfOrderSequenceNumber
for ever after), the relay starts a fresh producer from `producer_factory`, if it was given one.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import InvalidProducerEpoch, OutOfOrderSequenceNumber, ProducerFenced, UnknownProducerId

from shared.db import Database, lock_key
from shared.metrics import events_published, outbox_pending
from shared.observability import get_logger
from shared.tasks import sleep_or_stop

log = get_logger(__name__)

_CLAIM = (
    "SELECT id, topic, key, payload::text AS payload, traceparent FROM outbox"
    " WHERE published_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED"
)
_MARK = "UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])"
# the producer's idempotence state is broken for good: only a new producer (a new id) gets out
_PRODUCER_STATE_LOST = (OutOfOrderSequenceNumber, UnknownProducerId, InvalidProducerEpoch, ProducerFenced)


class OutboxRelay:
    def __init__(
        self,
        db: Database,
        producer: AIOKafkaProducer,
        *,
        service: str,
        batch_size: int = 1000,
        poll_seconds: float = 1.0,
        standby_seconds: float = 2.0,
        retry_max_seconds: float = 10.0,
        producer_factory: Callable[[], AIOKafkaProducer] | None = None,
    ) -> None:
        self.db = db
        self.producer = producer
        self.producer_factory = producer_factory
        self._own_producer = False  # True once the relay replaced the given producer by one of its own
        self.service = service
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.standby_seconds = standby_seconds
        self.retry_max_seconds = retry_max_seconds
        self.is_leader = False
        self._wake = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        delay = 0.2
        try:
            while not stop.is_set():
                try:
                    await self._lead(stop)
                    delay = 0.2
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # transient: database or broker away; try again with backoff
                    self.is_leader = False
                    log.warning("outbox_relay_retry", service=self.service, error=type(exc).__name__, delay=delay)
                    if isinstance(exc, _PRODUCER_STATE_LOST) and self.producer_factory is not None:
                        try:
                            await self._replace_producer()
                        except Exception as again:  # broker still away: the next round tries again
                            log.warning("outbox_relay_producer_retry", service=self.service, error=type(again).__name__)
                    await sleep_or_stop(stop, delay)
                    delay = min(delay * 2, self.retry_max_seconds)
        finally:
            if self._own_producer:
                with contextlib.suppress(Exception):
                    await self.producer.stop()

    async def _replace_producer(self) -> None:
        assert self.producer_factory is not None
        fresh = self.producer_factory()
        await fresh.start()  # raises while the broker is away: the next retry tries again
        old, self.producer = self.producer, fresh
        if self._own_producer:
            with contextlib.suppress(Exception):
                await old.stop()
        self._own_producer = True
        log.warning("outbox_relay_new_producer", service=self.service)

    async def _lead(self, stop: asyncio.Event) -> None:
        conn = await self.db.connect_raw()
        try:
            while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", lock_key(f"relay:{self.db.schema}")):
                self.is_leader = False
                if await sleep_or_stop(stop, self.standby_seconds):
                    return
            self.is_leader = True
            log.info("outbox_relay_active", service=self.service)
            await conn.add_listener(self.db.notify_channel, self._on_notify)
            while not stop.is_set():
                published = await self.publish_batch(conn)
                if published < self.batch_size:
                    await self._wait_for_work(stop)
                    if conn.is_closed():
                        raise ConnectionError("relay connection lost")
        finally:
            self.is_leader = False
            if not conn.is_closed():
                await conn.close()

    def _on_notify(self, *_: Any) -> None:
        self._wake.set()

    async def _wait_for_work(self, stop: asyncio.Event) -> None:
        self._wake.clear()
        waiters = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())]
        try:
            await asyncio.wait(waiters, timeout=self.poll_seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiters:
                w.cancel()

    async def publish_batch(self, conn: asyncpg.Connection) -> int:
        """Publish up to one batch on `conn`; returns how many rows were published."""
        async with conn.transaction():
            rows = await conn.fetch(_CLAIM, self.batch_size)
            if not rows:
                outbox_pending.labels(self.service).set(0)
                return 0
            sends = []
            for row in rows:
                headers = [("traceparent", row["traceparent"].encode())] if row["traceparent"] else []
                sends.append(
                    await self.producer.send(
                        row["topic"], value=row["payload"].encode(), key=row["key"].encode(), headers=headers
                    )
                )
            await asyncio.gather(*sends)
            await self.mark_published(conn, [row["id"] for row in rows])
        for row in rows:
            events_published.labels(self.service, row["topic"]).inc()
        return len(rows)

    async def mark_published(self, conn: asyncpg.Connection, ids: list[int]) -> None:
        await conn.execute(_MARK, ids)
