"""The idempotent consumer runner: exactly-once effect on top of at-least-once delivery.

For each batch of records: one database transaction records `(consumer, event id)` in the inbox
and runs the handlers of the events not seen before; only after that commit are the Kafka
offsets committed. A crash in between redelivers the batch, and the inbox makes it a no-op.
A record that cannot be parsed or fails validation (a tombstone too), or whose handler refuses
it, goes to `<topic>.dlq` with the error in headers, and the consumer moves on. A refused event
is recorded in the inbox with its DLQ send, so a retry of its batch does not send it again.
A transient failure (database, pool or broker away: `is_transient`) retries the same batch with
backoff and commits nothing meanwhile.
A stop (SIGTERM through the service's lifespan) finishes the batch in hand, commits, and leaves.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg
import sqlalchemy.exc
from aiokafka import (
    AIOKafkaConsumer,
    AIOKafkaProducer,
    ConsumerRebalanceListener,
    ConsumerRecord,
    TopicPartition,
)
from aiokafka.errors import CommitFailedError, KafkaError
from pydantic import ValidationError
from sqlalchemy import text

from shared.clock import SYSTEM_CLOCK, Clock
from shared.db import Database, UnitOfWork
from shared.events.catalog import EventData, dlq_topic
from shared.events.envelope import CloudEvent, parse, to_json
from shared.kafka import header
from shared.metrics import consumer_lag, dlq_records, events_consumed
from shared.observability import consuming, get_logger
from shared.tasks import sleep_or_stop

log = get_logger(__name__)


@dataclass(frozen=True)
class ReceivedEvent:
    envelope: CloudEvent
    data: EventData
    topic: str
    partition: int
    offset: int
    traceparent: str | None

    @property
    def event_type(self) -> str:
        return self.envelope.event_type


Handler = Callable[[UnitOfWork, ReceivedEvent], Awaitable[None]]


class NotYet(Exception):
    """A fact this event depends on has not arrived yet (another topic is behind): retry later.

    The runner treats it as an outage: the batch is retried with backoff and no offset moves,
    so the event is applied once the fact is there instead of being skipped.
    """


class PermanentError(Exception):
    """A handler's verdict that this event can never be applied: it goes to the DLQ."""


TRANSIENT: tuple[type[BaseException], ...] = (
    NotYet,
    OSError,
    TimeoutError,
    ConnectionError,
    # no connection free in the pool within pool_timeout (not a subclass of the built-in TimeoutError)
    sqlalchemy.exc.TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    # the server shutting down or restarting ("terminating connection due to administrator command")
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.TooManyConnectionsError,
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    sqlalchemy.exc.DisconnectionError,
    KafkaError,
)

# A handler's verdict on the event, final wherever it was raised.
PERMANENT: tuple[type[BaseException], ...] = (PermanentError, ValidationError)

# SQLSTATE classes of an outage, not of the event: connection exception, insufficient resources,
# operator intervention (shutdown, "the database system is starting up"), system error (I/O),
# transaction rollback (serialization failure, deadlock), internal error (XX000 and the rest).
TRANSIENT_SQLSTATE_CLASSES = ("08", "53", "57", "58", "40", "XX")


def explicit_chain(exc: BaseException) -> list[BaseException]:
    """The exception and what it says it stems from: `__cause__` (`raise ... from`), the driver error
    a SQLAlchemy wrapper holds (`orig`), the members of an exception group; never `__context__`."""
    seen: set[int] = set()
    chain: list[BaseException] = []
    pending: list[BaseException] = [exc]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        chain.append(current)
        links: list[object] = [getattr(current, "orig", None), current.__cause__]
        if isinstance(current, BaseExceptionGroup):
            links.extend(current.exceptions)
        pending.extend(e for e in links if isinstance(e, BaseException))
    return chain


def _is_outage(exc: BaseException) -> bool:
    if isinstance(exc, TRANSIENT):
        return True
    if isinstance(exc, sqlalchemy.exc.DBAPIError) and exc.connection_invalidated:
        return True
    sqlstate = getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None)
    return isinstance(sqlstate, str) and sqlstate[:2] in TRANSIENT_SQLSTATE_CLASSES


def is_transient(exc: BaseException) -> bool:
    """True when the failure is the infrastructure's (retry the batch), not the event's (DLQ).

    Only the exception's explicit chain counts (see `explicit_chain`): the exception itself, its
    `__cause__` links, a wrapper's `orig`, an exception group's members.

    1. A `PermanentError` or a pydantic `ValidationError` anywhere in that chain: permanent, even
       when raised `from` an outage. It is a verdict on the event.
    2. Else an outage anywhere in that chain: transient. Outages are connection errors (`OSError`,
       asyncpg's and SQLAlchemy's connection and interface errors, an invalidated connection), a
       pool timeout (`sqlalchemy.exc.TimeoutError`), the server shutting down or starting up, too
       many connections, serialization failures and deadlocks, `NotYet`, Kafka errors, and any
       error whose SQLSTATE class is 08, 53, 57, 58, 40 or XX.
    3. Else permanent.

    `__context__` (implicit chaining: raised inside an `except` or `finally`) is never followed. An
    error raised while handling an outage is a new failure, to be judged alone. So a
    `PermanentError` raised in `except ConnectionError:` goes to the DLQ. And a connection error
    raised while a refusal was being rolled back is an outage.
    """
    chain = explicit_chain(exc)
    if any(isinstance(e, PERMANENT) for e in chain):
        return False
    return any(_is_outage(e) for e in chain)


class _Poison(Exception):
    def __init__(self, record: ConsumerRecord[bytes, bytes], error: BaseException) -> None:
        super().__init__(str(error))
        self.record = record
        self.error = error


class _DrainOnRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    """Partitions are handed over only after the batch in hand is committed."""

    def __init__(self, lock: asyncio.Lock) -> None:
        self.lock = lock

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        async with self.lock:
            pass

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        return None


class ConsumerRunner:
    def __init__(
        self,
        *,
        name: str,
        db: Database,
        source: str,
        bootstrap: str,
        group_id: str,
        handlers: dict[str, Handler],
        topic_prefix: str = "",
        batch_size: int = 500,
        retry_initial_seconds: float = 0.2,
        retry_max_seconds: float = 10.0,
        dlq_producer: AIOKafkaProducer | Callable[[], AIOKafkaProducer] | None = None,
        consumer_options: dict[str, Any] | None = None,
        clock: Clock = SYSTEM_CLOCK,
        lag_seconds: float = 5.0,
    ) -> None:
        self.name = name
        self.clock = clock
        self.db = db
        self.source = source
        self.bootstrap = bootstrap
        self.group_id = group_id
        self.handlers = handlers
        self.topic_prefix = topic_prefix
        self.batch_size = batch_size
        self.retry_initial = retry_initial_seconds
        self.retry_max = retry_max_seconds
        self.dlq_producer = dlq_producer
        self.consumer_options = consumer_options or {}
        self.processed = 0
        self.lag_seconds = lag_seconds
        self._lock = asyncio.Lock()

    @property
    def topics(self) -> list[str]:
        return [self.topic_prefix + t for t in self.handlers]

    def _consumer(self) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=self.group_id,
            client_id=f"{self.group_id}-{random.getrandbits(24):06x}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            max_poll_records=self.batch_size,
            session_timeout_ms=10000,
            heartbeat_interval_ms=1000,
            **self.consumer_options,
        )

    async def run(self, stop: asyncio.Event) -> None:
        delay = self.retry_initial
        while not stop.is_set():
            consumer = self._consumer()
            try:
                await consumer.start()
                consumer.subscribe(self.topics, listener=_DrainOnRevoke(self._lock))
                log.info("consumer_started", consumer=self.name, topics=self.topics)
                delay = self.retry_initial
                await self._loop(consumer, stop)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not is_transient(exc):
                    log.exception("consumer_crashed", consumer=self.name)
                log.warning("consumer_restart", consumer=self.name, error=type(exc).__name__, delay=delay)
                await sleep_or_stop(stop, delay)
                delay = min(delay * 2, self.retry_max)
            finally:
                try:
                    await consumer.stop()
                except Exception:  # a consumer that never started has nothing to stop
                    log.debug("consumer_stop_failed", consumer=self.name)

    async def _loop(self, consumer: AIOKafkaConsumer, stop: asyncio.Event) -> None:
        measuring = asyncio.create_task(self._lag_loop(consumer, stop))
        try:
            while not stop.is_set():
                batches = await consumer.getmany(timeout_ms=500, max_records=self.batch_size)
                if not batches:
                    continue
                async with self._lock:
                    for tp, records in batches.items():
                        await self._handle_with_retry(records, stop)
                        await self.commit_offset(consumer, tp, records[-1].offset + 1)
        finally:
            measuring.cancel()
            with contextlib.suppress(BaseException):
                await measuring

    async def _lag_loop(self, consumer: AIOKafkaConsumer, stop: asyncio.Event) -> None:
        """Lag on a timer, apart from handling: it grows also while a batch is stuck in retries."""
        while not stop.is_set():
            try:
                await self.measure_lag(consumer)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker away or rebalancing: the gauge keeps its last value
                log.debug("consumer_lag_unknown", consumer=self.name, error=type(exc).__name__)
            if await sleep_or_stop(stop, self.lag_seconds):
                return

    async def measure_lag(self, consumer: AIOKafkaConsumer) -> None:
        """Per topic: partition end minus committed offset, summed over this member's partitions."""
        assigned = sorted(consumer.assignment())
        if not assigned:
            return
        ends = await asyncio.wait_for(consumer.end_offsets(assigned), 10)
        lag: dict[str, int] = {}
        for tp in assigned:
            committed = await asyncio.wait_for(consumer.committed(tp), 10)
            if committed is None:  # nothing committed yet: all from the start is to do
                committed = (await asyncio.wait_for(consumer.beginning_offsets([tp]), 10))[tp]
            lag[tp.topic] = lag.get(tp.topic, 0) + max(ends[tp] - committed, 0)
        for topic, behind in lag.items():
            consumer_lag.labels(self.name, topic).set(behind)

    async def commit_offset(self, consumer: AIOKafkaConsumer, tp: TopicPartition, offset: int) -> None:
        """Only after the batch's database commit: a crash before this redelivers, the inbox dedupes."""
        try:
            await consumer.commit({tp: offset})
        except CommitFailedError:
            log.warning("offset_commit_failed", consumer=self.name, topic=tp.topic)

    async def _handle_with_retry(self, records: list[ConsumerRecord[bytes, bytes]], stop: asyncio.Event) -> None:
        delay = self.retry_initial
        while True:
            try:
                await self.handle_batch(records)
                return
            except Exception as exc:
                if not is_transient(exc):
                    raise
                log.warning("consumer_retry", consumer=self.name, error=type(exc).__name__, delay=delay)
                # Keep retrying even while stopping: committing past an unhandled record would lose it.
                await asyncio.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, self.retry_max)

    async def handle_batch(self, records: list[ConsumerRecord[bytes, bytes]]) -> None:
        """All records in one transaction; if a handler refuses one, each record on its own."""
        parsed, poison = self._parse(records)
        if parsed:
            try:
                async with UnitOfWork(self.db, self.source, self.topic_prefix, self.clock) as uow:
                    applied = await self._apply(uow, parsed)
                    await uow.commit()
                self._count(len(parsed), applied)
            except Exception as exc:
                if is_transient(exc):
                    raise
                for event in parsed:
                    await self._handle_one(event)
        await self._send_poison(poison)

    async def _handle_one(self, event: ReceivedEvent) -> None:
        try:
            async with UnitOfWork(self.db, self.source, self.topic_prefix, self.clock) as uow:
                applied = await self._apply(uow, [event])
                await uow.commit()
            self._count(1, applied)
        except Exception as exc:
            if is_transient(exc):
                raise
            await self._dead_letter(event, exc)

    async def _apply(self, uow: UnitOfWork, events: list[ReceivedEvent]) -> int:
        """Record the batch in the inbox with one statement; run handlers for the new events only."""
        new = await self._record(uow, events)
        applied = 0
        for event in events:
            if event.envelope.id not in new:
                continue
            new.discard(event.envelope.id)  # the same event twice in one batch runs once
            with consuming(event.topic, event.traceparent):
                await self.handlers[event.event_type](uow, event)
            applied += 1
        return applied

    async def _record(self, uow: UnitOfWork, events: list[ReceivedEvent]) -> set[UUID]:
        """Insert the events into the inbox; the ids of those it did not hold yet."""
        inserted = await uow.session.execute(
            text(
                "INSERT INTO inbox (consumer, event_id, topic, partition, kafka_offset)"
                " SELECT :consumer, * FROM unnest(CAST(:ids AS uuid[]), CAST(:topics AS text[]),"
                " CAST(:partitions AS int[]), CAST(:offsets AS bigint[]))"
                " ON CONFLICT DO NOTHING RETURNING event_id"
            ),
            {
                "consumer": self.name,
                "ids": [e.envelope.id for e in events],
                "topics": [e.topic for e in events],
                "partitions": [e.partition for e in events],
                "offsets": [e.offset for e in events],
            },
        )
        return set(inserted.scalars())

    def _count(self, handled: int, applied: int) -> None:
        """After the commit: `processed` counts records done, duplicates included."""
        self.processed += handled
        events_consumed.labels(self.name, "ok").inc(applied)
        events_consumed.labels(self.name, "duplicate").inc(handled - applied)

    def _parse(self, records: list[ConsumerRecord[bytes, bytes]]) -> tuple[list[ReceivedEvent], list[_Poison]]:
        parsed: list[ReceivedEvent] = []
        poison: list[_Poison] = []
        for record in records:
            try:
                if record.value is None:
                    raise ValueError("tombstone: a record without a value")
                envelope, data = parse(record.value)
                if envelope.event_type not in self.handlers:
                    raise ValueError(f"event type {envelope.type} on topic {record.topic}")
                parsed.append(
                    ReceivedEvent(
                        envelope,
                        data,
                        record.topic,
                        record.partition,
                        record.offset,
                        header(record.headers, "traceparent"),
                    )
                )
            except Exception as exc:  # parsing touches no server: whatever it raises is the record's fault
                poison.append(_Poison(record, exc))
        return parsed, poison

    async def _dead_letter(self, event: ReceivedEvent, exc: BaseException) -> None:
        """The event into the inbox and onto the DLQ, in one transaction.

        A retry of its batch (a later event met an outage) finds it in the inbox and neither runs
        nor sends it again. The DLQ send comes before the commit. A crash or an outage between the
        two sends it again on redelivery, so it is never lost, and sent twice only then.
        """
        async with UnitOfWork(self.db, self.source, self.topic_prefix, self.clock) as uow:
            if await self._record(uow, [event]):
                log.error(
                    "event_refused", consumer=self.name, event_id=str(event.envelope.id), error=type(exc).__name__
                )
                await self._to_dlq(event.topic, event.partition, event.offset, None, exc, value=None, event=event)
                events_consumed.labels(self.name, "dead_lettered").inc()
            await uow.commit()

    async def _send_poison(self, poison: list[_Poison]) -> None:
        for p in poison:
            log.error("record_unparseable", consumer=self.name, topic=p.record.topic, offset=p.record.offset)
            await self._to_dlq(
                p.record.topic, p.record.partition, p.record.offset, p.record.key, p.error, value=p.record.value
            )

    async def _to_dlq(
        self,
        topic: str,
        partition: int,
        offset: int,
        key: bytes | None,
        error: BaseException,
        *,
        value: bytes | None,
        event: ReceivedEvent | None = None,
    ) -> None:
        if self.dlq_producer is None:
            raise RuntimeError("consumer has no DLQ producer") from error
        # a callable gives the producer in use now (the relay replaces one whose broker lost its state)
        producer = self.dlq_producer if isinstance(self.dlq_producer, AIOKafkaProducer) else self.dlq_producer()
        if event is not None:
            value, key = to_json(event.envelope), event.envelope.subject.encode()
        if key is None and value is None:
            key = b""  # a tombstone without a key: Kafka takes it, but a producer wants one of the two
        headers = [
            ("error", str(error)[:2000].encode()),
            ("error_type", type(error).__name__.encode()),
            ("consumer", self.name.encode()),
            ("original_topic", topic.encode()),
            ("original_partition", str(partition).encode()),
            ("original_offset", str(offset).encode()),
        ]
        await producer.send_and_wait(dlq_topic(topic), value=value, key=key, headers=headers)
        dlq_records.labels(self.name, topic).inc()
