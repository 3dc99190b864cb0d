"""The idempotent consumer runner: exactly-once effect on top of at-least-once delivery.

For each batch of records: one database transaction records `(consumer, event id)` in the inbox
and runs the handlers of the events not seen before; only after that commit are the Kafka
offsets committed. A crash in between redelivers the batch, and the inbox makes it a no-op.
A record that cannot be parsed or fails validation (a tombstone too), or whose handler refuses
it, goes to `<topic>.dlq` with the error in headers, and the consumer moves on. A refused event
is recorded in the inbox with its DLQ send, so a retry of its batch does not send it again.
A transient failure (database, pool or broker away: `is_transient`) retries the same batch with
backoff and commits nothing meanwhile.
An event its handler cannot apply yet (`NotYet`, or a passing failure of the handler's own while
the database is fine) waits in `consumer_waiting` (shared.waiting) and the partition goes on; so do
the later events of its aggregate, behind it. Waiting events are retried on a timer and when the
aggregate moves, and dead-lettered past `wait_deadline_seconds`. An `ordered` consumer also holds
back an event whose `sequence` is ahead of the next one expected for its subject (events of other
types come through other topics) until the gap closes or everything published before it was
consumed (a barrier on the group's committed offsets): see docs/services.md "Order across types".
A stop (SIGTERM through the service's lifespan) finishes the batch in hand, commits, and leaves;
a batch waiting out an outage is left uncommitted instead (its partition's next owner gets it).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
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

from shared import waiting
from shared.clock import SYSTEM_CLOCK, Clock
from shared.db import Database, UnitOfWork
from shared.events.catalog import EventData, dlq_topic
from shared.events.envelope import CloudEvent, parse, to_json
from shared.kafka import header
from shared.metrics import (
    consumer_lag,
    consumer_wait_expired,
    consumer_waiting,
    consumer_waiting_oldest_seconds,
    dlq_records,
    events_consumed,
)
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

    The event waits in `consumer_waiting` (its effects so far rolled back) and the partition goes
    on; it is tried again on a timer, and dead-lettered if the fact is still missing at its deadline.
    """


class Stopping(Exception):
    """The runner was stopped with a batch not handled yet: it is left for redelivery."""


class WaitedTooLong(Exception):
    """A waiting event's deadline passed before it could be applied (the DLQ's `error_type`)."""


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


_DATABASE_ERRORS: tuple[type[BaseException], ...] = (
    sqlalchemy.exc.DBAPIError,
    sqlalchemy.exc.TimeoutError,
    sqlalchemy.exc.DisconnectionError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
)


def is_database_outage(exc: BaseException) -> bool:
    """A transient failure of our own database (the whole batch must wait), not a handler's own
    passing trouble (a peer away, `NotYet`) that only its event waits out."""
    return is_transient(exc) and any(isinstance(e, _DATABASE_ERRORS) for e in explicit_chain(exc))


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
        ordered: bool = False,
        wait_retry_initial_seconds: float = 1.0,
        wait_retry_max_seconds: float = 300.0,
        wait_deadline_seconds: float = 24 * 3600.0,
        order_hold_seconds: float = 900.0,
        barrier_seconds: float = 0.5,
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
        self.ordered = ordered
        self.wait_retry_initial = wait_retry_initial_seconds
        self.wait_retry_max = wait_retry_max_seconds
        self.wait_deadline = timedelta(seconds=wait_deadline_seconds)
        self.order_hold = timedelta(seconds=order_hold_seconds)
        self.barrier_seconds = barrier_seconds
        # events parked before this instant (the database's time) were consumed after everything
        # published before them: the barrier
        self.consumed_before: datetime | None = None
        self.waiting_now = 0  # events waiting, as last measured or parked: the barrier runs only then
        self.waiting_wake = asyncio.Event()
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
        retrying = asyncio.create_task(self._waiting_loop(stop))
        try:
            await self._consume(stop)
        finally:
            retrying.cancel()
            with contextlib.suppress(BaseException):
                await retrying

    async def _consume(self, stop: asyncio.Event) -> None:
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
            except Stopping:
                log.info("consumer_stopped_mid_batch", consumer=self.name)
                return
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
        barrier = asyncio.create_task(self._barrier_loop(consumer, stop)) if self.ordered else None
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
            for task in (measuring, barrier):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(BaseException):
                        await task

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
        """Handle the batch, retrying outages with backoff; on a stop, leave it unhandled and raise
        `Stopping` (no offset is committed past it: the partition's next owner gets it again)."""
        delay = self.retry_initial
        while True:
            try:
                await self.handle_batch(records)
                return
            except Exception as exc:
                if not is_transient(exc):
                    raise
                log.warning("consumer_retry", consumer=self.name, error=type(exc).__name__, delay=delay)
                if await sleep_or_stop(stop, delay * (0.5 + random.random())):
                    raise Stopping(f"stopped while retrying {len(records)} records") from exc
                delay = min(delay * 2, self.retry_max)

    async def handle_batch(self, records: list[ConsumerRecord[bytes, bytes]]) -> None:
        """All records in one transaction; if a handler refuses one, each record on its own.

        When a handler cannot apply its event yet (or the database is away), the batch is applied
        again at once with a savepoint per event, so that event waits and the others go on; if
        that fails for an outage too, the outage is raised (the caller retries with backoff)."""
        parsed, poison = self._parse(records)
        if parsed:
            try:
                await self._apply_batch(parsed, careful=False)
            except Exception as exc:
                if not is_transient(exc):
                    for event in parsed:
                        await self._handle_one(event)
                else:
                    try:
                        await self._apply_batch(parsed, careful=True)
                    except Exception as again:
                        if is_transient(again):
                            raise
                        for event in parsed:
                            await self._handle_one(event)
        await self._send_poison(poison)

    async def _apply_batch(self, events: list[ReceivedEvent], *, careful: bool) -> None:
        async with UnitOfWork(self.db, self.source, self.topic_prefix, self.clock) as uow:
            applied, parked = await self._apply(uow, events, careful=careful)
            await uow.commit()
        self._count(len(events), applied, parked)

    async def _handle_one(self, event: ReceivedEvent) -> None:
        try:
            await self._apply_batch([event], careful=True)
        except Exception as exc:
            if is_transient(exc):
                raise
            await self._dead_letter(event, exc)

    async def _apply(self, uow: UnitOfWork, events: list[ReceivedEvent], *, careful: bool) -> tuple[int, int]:
        """Record the batch in the inbox with one statement; run handlers for the new events only.

        An event of a subject with events waiting waits behind them; so does, for an `ordered`
        consumer, one ahead of its subject's next version. `careful`: each handler in a savepoint,
        and an event it cannot apply yet waits instead of failing the batch. (applied, parked)"""
        new = await self._record(uow, events)
        fresh: list[ReceivedEvent] = []
        for event in events:
            if event.envelope.id in new:
                new.discard(event.envelope.id)  # the same event twice in one batch runs once
                fresh.append(event)
        if not fresh:
            return 0, 0
        subjects = [e.envelope.subject for e in fresh]
        blocked = await waiting.subjects_waiting(uow.session, self.name, subjects)
        known = await waiting.positions(uow.session, self.name, subjects) if self.ordered else {}
        moved: dict[str, int] = {}
        applied = parked = 0
        for event in fresh:
            subject, version = event.envelope.subject, sequence_of(event)
            if subject in blocked or self._ahead(version, known.get(subject)):
                await self._park(uow, event, waiting.ORDER, None, at=self.clock.now())
                blocked.add(subject)
                parked += 1
                continue
            if await self._run_handler(uow, event, careful=careful):
                applied += 1
                if version:
                    known[subject] = moved[subject] = max(version, known.get(subject, 0))
            else:
                blocked.add(subject)
                parked += 1
        if self.ordered:
            await waiting.advance(uow.session, self.name, moved, self.clock.now())
        if parked:
            self.waiting_now += parked
            self.waiting_wake.set()
        return applied, parked

    def _ahead(self, version: int, position: int | None) -> bool:
        """An ordered consumer's event further ahead than the next version of its subject."""
        if not self.ordered or not version:
            return False
        return version > (position or 0) + 1  # version 1 is an aggregate's first: nothing comes before

    async def _run_handler(self, uow: UnitOfWork, event: ReceivedEvent, *, careful: bool) -> bool:
        """Run the event's handler; False when it cannot apply the event yet and the event now waits."""
        handler = self.handlers[event.event_type]
        if not careful:
            with consuming(event.topic, event.traceparent):
                await handler(uow, event)
            return True
        events, seen = len(uow.events), len(uow.seen)
        try:
            with consuming(event.topic, event.traceparent):
                async with uow.session.begin_nested():
                    await handler(uow, event)
            return True
        except Exception as exc:
            if not is_transient(exc) or is_database_outage(exc):
                raise
            # its effects are rolled back to the savepoint; so are the events it raised
            del uow.events[events:], uow.seen[seen:]
            now = self.clock.now()
            log.warning("event_waits", consumer=self.name, event_id=str(event.envelope.id), error=type(exc).__name__)
            # parking runs SQL: on a lost connection it raises the outage, and the batch is retried
            await self._park(uow, event, waiting.NOT_YET, exc, at=now, retry_in=self._backoff(0))
            return False

    async def _park(
        self,
        uow: UnitOfWork,
        event: ReceivedEvent,
        reason: str,
        error: BaseException | None,
        *,
        at: datetime,
        retry_in: float = 0.0,
    ) -> None:
        row = waiting.NewWaiting(
            event_id=event.envelope.id,
            subject=event.envelope.subject,
            sequence=sequence_of(event),
            topic=event.topic,
            partition=event.partition,
            kafka_offset=event.offset,
            payload=to_json(event.envelope),
            traceparent=event.traceparent,
            reason=reason,
            error=f"{type(error).__name__}: {error}"[:2000] if error is not None else None,
            retry_in=retry_in,
            deadline=at + self.wait_deadline,
        )
        await waiting.park(uow.session, self.name, row, at)

    def _backoff(self, attempts: int) -> float:
        """Seconds until a waiting event is tried again: doubling from the first, capped, jittered."""
        seconds: float = min(self.wait_retry_initial * 2.0**attempts, self.wait_retry_max)
        return seconds * (0.75 + random.random() / 2)

    # --- the waiting events ----------------------------------------------------------------------

    async def _waiting_loop(self, stop: asyncio.Event) -> None:
        """Retry due waiting events on a timer, and at once when a batch parked some or a barrier passed."""
        while not stop.is_set():
            self.waiting_wake.clear()
            try:
                await self.measure_waiting()
                async with self._lock:
                    await self.retry_waiting(stop)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # database away: the next tick tries again
                log.warning("waiting_retry_failed", consumer=self.name, error=type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(_first(self.waiting_wake, stop), timeout=self.wait_retry_initial)

    async def measure_waiting(self) -> None:
        async with self.db.sessions() as session:
            count, oldest = await waiting.backlog(session, self.name)
        self.waiting_now = count
        consumer_waiting.labels(self.name).set(count)
        age = (self.clock.now() - oldest).total_seconds() if oldest is not None else 0.0
        consumer_waiting_oldest_seconds.labels(self.name).set(max(age, 0.0))

    async def retry_waiting(self, stop: asyncio.Event | None = None, limit: int = 200) -> int:
        """Try due heads of the waiting queues, one transaction each; how many were tried."""
        tried = 0
        while tried < limit and (stop is None or not stop.is_set()):
            if not await self._retry_next():
                break
            tried += 1
        return tried

    async def _retry_next(self) -> bool:
        async with UnitOfWork(self.db, self.source, self.topic_prefix, self.clock) as uow:
            now = self.clock.now()
            row = await waiting.next_head(uow.session, self.name)
            if row is None:
                return False
            try:
                envelope, data = parse(row.payload)
            except Exception as exc:  # stored as it was parsed once: only a catalog change gets here
                await self._expire(uow, row, exc)
                return True
            event = ReceivedEvent(envelope, data, row.topic, row.partition, row.kafka_offset, row.traceparent)
            if row.reason == waiting.ORDER and not await self._released(uow, row):
                await waiting.postpone(
                    uow.session,
                    row.id,
                    seconds=self.barrier_seconds,
                    reason=row.reason,
                    error=None,
                    tried=False,
                )
                await uow.commit()
                return True
            try:
                failed = await self._try_waiting(uow, event)
            except Exception as exc:
                if is_transient(exc):
                    raise
                await self._expire(uow, row, exc)
                return True
            if failed is None:
                await waiting.remove(uow.session, row.id)
                await waiting.wake_subject(uow.session, self.name, row.subject)
                if self.ordered and row.sequence:
                    await waiting.advance(uow.session, self.name, {row.subject: row.sequence}, now)
                events_consumed.labels(self.name, "ok").inc()
            elif now >= row.deadline:
                await self._expire(uow, row, WaitedTooLong(f"waited since {row.waiting_since.isoformat()}"))
                return True
            else:
                await waiting.postpone(
                    uow.session,
                    row.id,
                    seconds=self._backoff(row.attempts + 1),
                    reason=waiting.NOT_YET,
                    error=failed,
                    tried=True,
                )
            await uow.commit()
            return True

    async def _try_waiting(self, uow: UnitOfWork, event: ReceivedEvent) -> str | None:
        """Run a waiting event's handler in a savepoint: None when applied, else why it still waits."""
        events, seen = len(uow.events), len(uow.seen)
        try:
            with consuming(event.topic, event.traceparent):
                async with uow.session.begin_nested():
                    await self.handlers[event.event_type](uow, event)
            return None
        except Exception as exc:
            if not is_transient(exc) or is_database_outage(exc):
                raise
            del uow.events[events:], uow.seen[seen:]
            return f"{type(exc).__name__}: {exc}"[:2000]

    async def _released(self, uow: UnitOfWork, row: waiting.Waiting) -> bool:
        """A row held for order may go: it heads its subject's queue and is next in line, or
        everything consumed before it was applied (the barrier), or it was held long enough."""
        if not self.ordered or not row.sequence:
            return True
        position = (await waiting.positions(uow.session, self.name, [row.subject])).get(row.subject)
        if row.sequence <= (position or 0) + 1:
            return True
        # the database's times, not the service's clock: a pinned clock must not hold events for ever
        if self.consumed_before is not None and row.parked_at < self.consumed_before:
            return True
        if row.db_now >= row.parked_at + self.order_hold:
            log.warning("order_hold_gave_up", consumer=self.name, **waiting.describe(row))
            return True
        return False

    async def _expire(self, uow: UnitOfWork, row: waiting.Waiting, error: BaseException) -> None:
        """A waiting event to the DLQ with why; it leaves the waiting room and the inbox in the same
        transaction (never applied: `python -m shared.dlq replay` applies it once its fact is there)."""
        log.error(
            "waiting_event_dead_lettered", consumer=self.name, error=type(error).__name__, **waiting.describe(row)
        )
        await self._to_dlq(row.topic, row.partition, row.kafka_offset, row.subject.encode(), error, value=row.payload)
        await waiting.remove(uow.session, row.id)
        await waiting.forget(uow.session, self.name, row.event_id)
        await uow.commit()
        if isinstance(error, WaitedTooLong):
            consumer_wait_expired.labels(self.name, row.topic).inc()
        events_consumed.labels(self.name, "dead_lettered").inc()

    # --- the barrier, for an ordered consumer ----------------------------------------------------

    async def _barrier_loop(self, consumer: AIOKafkaConsumer, stop: asyncio.Event) -> None:
        """Every `barrier_seconds`: once the group committed past the end offsets taken at instant t,
        every event published before t was consumed, so `consumed_before` moves to t."""
        taken: tuple[datetime, dict[TopicPartition, int]] | None = None
        while not stop.is_set():
            if not self.waiting_now:  # nothing held: no offsets to ask the broker for
                taken = None
                if await sleep_or_stop(stop, self.barrier_seconds):
                    return
                continue
            try:
                if taken is not None and await self._committed_past(consumer, taken[1]):
                    self.consumed_before = taken[0]
                    self.waiting_wake.set()
                    taken = None
                if taken is None:
                    async with self.db.sessions() as session:
                        at = await waiting.database_now(session)
                    taken = (at, await self._end_offsets(consumer))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker away or rebalancing: held events wait for a later barrier
                log.debug("consumer_barrier_unknown", consumer=self.name, error=type(exc).__name__)
                taken = None
            if await sleep_or_stop(stop, self.barrier_seconds):
                return

    async def _end_offsets(self, consumer: AIOKafkaConsumer) -> dict[TopicPartition, int]:
        partitions = [
            TopicPartition(topic, p)
            for topic in self.topics
            for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        ends: dict[TopicPartition, int] = await asyncio.wait_for(consumer.end_offsets(partitions), 10)
        return ends

    async def _committed_past(self, consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
        """The group's committed offsets (every member's partitions) are at or past `ends`."""
        found = await asyncio.wait_for(asyncio.gather(*(consumer.committed(tp) for tp in ends)), 10)
        return all((committed or 0) >= ends[tp] for tp, committed in zip(ends, found, strict=True))

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

    def _count(self, handled: int, applied: int, parked: int = 0) -> None:
        """After the commit: `processed` counts records done, duplicates and waiting ones included."""
        self.processed += handled
        events_consumed.labels(self.name, "ok").inc(applied)
        events_consumed.labels(self.name, "waiting").inc(parked)
        events_consumed.labels(self.name, "duplicate").inc(handled - applied - parked)

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


def sequence_of(event: ReceivedEvent) -> int:
    """The event's aggregate version (CloudEvent `sequence`), 0 when it carries none."""
    try:
        return int(event.envelope.sequence)
    except (TypeError, ValueError):
        return 0


async def _first(wake: asyncio.Event, stop: asyncio.Event) -> None:
    waiters = [asyncio.ensure_future(wake.wait()), asyncio.ensure_future(stop.wait())]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()
