"""The outbox relay: publishes committed outbox rows to Kafka, in order, exactly once in effect.

One active relay per service schema, chosen by a session-level advisory lock, so each
aggregate's events keep their order also with several replicas (the others stand by and take
over when the lock holder's connection goes). The active relay takes unpublished rows in id
order (`FOR UPDATE SKIP LOCKED`, in a short transaction of its own), sends them with an idempotent
producer (acks=all), waits for every acknowledgement outside any transaction (so a broker outage
holds no row lock and no open transaction), then marks them published. A crash between the
send and the mark republishes those rows: at-least-once on the wire, and consumers dedupe by
event id. It sleeps on LISTEN/NOTIFY (on a direct connection: LISTEN does not survive a
transaction pooler), with a poll as a safety net. When the broker lost the idempotent producer's
sequence state (a broker stopped while batches were in flight answers OutOfOrderSequenceNumber
for ever after), the relay starts a fresh producer from `producer_factory`, if it was given one.

A row Kafka will never accept (larger than the producer's or broker's limit, an invalid topic, a
topic the reachable broker still does not know after the producer's bounded metadata wait) is
parked (`parked_at`, `park_error`; never deleted) and the rows after it flow. Rows Kafka
acknowledged in a batch that failed in part are marked published, not sent again; the rest wait
for the next round.

The lock's session cannot outlive its relay for long: the relay's connection asks the server to
end it after `session_timeout` seconds without a statement (idle, or idle in a transaction) and to
probe the peer with TCP keepalives. A live leader talks at least every poll and, while it waits
on Kafka, every `session_timeout / 4` (a heartbeat); a frozen, dead or cut-off one does not, its
session ends and a standby takes over within about `session_timeout + standby_seconds`.

Every replica measures the backlog (pending rows, age of the oldest, parked rows) on a timer from
the table itself, so the gauges tell the truth also while publishing fails.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    InvalidProducerEpoch,
    InvalidTopicError,
    MessageSizeTooLargeError,
    OutOfOrderSequenceNumber,
    ProducerFenced,
    RecordListTooLargeError,
    RecordTooLargeError,
    UnknownProducerId,
    UnknownTopicOrPartitionError,
)
from sqlalchemy import text

from shared.db import Database, lock_key
from shared.metrics import events_published, outbox_oldest_seconds, outbox_parked, outbox_pending
from shared.observability import get_logger, kafka_trace_headers, resumed
from shared.tasks import sleep_or_stop

log = get_logger(__name__)

T = TypeVar("T")

_CLAIM = (
    "SELECT id, topic, key, payload::text AS payload, traceparent FROM outbox"
    " WHERE published_at IS NULL AND parked_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED"
)
_MARK = "UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])"
_PARK = "UPDATE outbox SET parked_at = now(), park_error = $2 WHERE id = $1"
_BACKLOG = (
    "SELECT count(*) FILTER (WHERE parked_at IS NULL) AS pending,"
    " coalesce(extract(epoch FROM now() - min(created_at) FILTER (WHERE parked_at IS NULL)), 0)::float8 AS oldest,"
    " count(*) FILTER (WHERE parked_at IS NOT NULL) AS parked"
    " FROM outbox WHERE published_at IS NULL"
)
# Kafka's verdict on the record itself: sending it again can never succeed
_REFUSED = (MessageSizeTooLargeError, RecordTooLargeError, RecordListTooLargeError, InvalidTopicError)
# the producer's idempotence state is broken for good: only a new producer (a new id) gets out
_PRODUCER_STATE_LOST = (OutOfOrderSequenceNumber, UnknownProducerId, InvalidProducerEpoch, ProducerFenced)


class TopicMissing(Exception):
    """The broker answers, and does not know the row's topic (after the producer's bounded wait)."""


_PARKED = (*_REFUSED, TopicMissing)


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
        session_timeout: float = 20.0,
        measure_seconds: float = 5.0,
    ) -> None:
        self.db = db
        self.producer = producer
        self.producer_factory = producer_factory
        self._own_producer = False  # True once the relay replaced the given producer by one of its own
        self.service = service
        self.batch_size = batch_size
        self.session_timeout = session_timeout
        # the session must see a statement well within its timeout, polling or standing by
        self.poll_seconds = min(poll_seconds, session_timeout / 3)
        self.standby_seconds = min(standby_seconds, session_timeout / 3)
        self.measure_seconds = measure_seconds
        self.retry_max_seconds = retry_max_seconds
        self.is_leader = False
        self._wake = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        delay = 0.2
        measuring = asyncio.create_task(self._measure_loop(stop))
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
            measuring.cancel()
            with contextlib.suppress(BaseException):
                await measuring
            if self._own_producer:
                with contextlib.suppress(Exception):
                    await self.producer.stop()

    async def _measure_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.measure()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # database away: the gauges keep their last value
                log.debug("outbox_measure_failed", service=self.service, error=type(exc).__name__)
            if await sleep_or_stop(stop, self.measure_seconds):
                return

    async def measure(self) -> None:
        """Set the backlog gauges from the outbox table (on the service's pool, leader or not)."""
        async with self.db.engine.connect() as conn:
            row = (await conn.execute(text(_BACKLOG))).one()
        outbox_pending.labels(self.service).set(row.pending)
        outbox_oldest_seconds.labels(self.service).set(row.oldest)
        outbox_parked.labels(self.service).set(row.parked)

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

    async def _connect(self) -> asyncpg.Connection:
        """The lock's connection: its session ends when its relay stops talking (see the module doc)."""
        conn = await self.db.connect_raw()
        ms = str(int(self.session_timeout * 1000))
        try:
            await conn.execute(
                "SELECT set_config('idle_session_timeout', $1, false),"
                " set_config('idle_in_transaction_session_timeout', $1, false),"
                " set_config('tcp_keepalives_idle', $2, false),"
                " set_config('tcp_keepalives_interval', $2, false),"
                " set_config('tcp_keepalives_count', '3', false)",
                ms,
                str(max(int(self.session_timeout / 4), 1)),
            )
        except BaseException:
            await conn.close()
            raise
        return conn

    async def _lead(self, stop: asyncio.Event) -> None:
        conn = await self._connect()
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
        """Publish up to one batch on `conn`; returns how many rows were done (published or parked).

        Rows Kafka acknowledged are marked published and rows it refused for good are parked, in
        one short transaction after the sends; if others failed for an outage, their first error
        is raised after that commit, and they are taken again in the next round."""
        failure: BaseException | None = None
        # Claimed in a short transaction, sent outside one: a transaction open while waiting for
        # acks (up to the producer's timeouts in a broker outage) would hold the rows' locks and the
        # database's vacuum horizon. The session's advisory lock keeps the relay single meanwhile.
        async with conn.transaction():
            rows = await conn.fetch(_CLAIM, self.batch_size)
        if not rows:
            return 0
        outcomes = await self._keeping_alive(conn, self._send_all(rows))
        published = [row for row, outcome in zip(rows, outcomes, strict=True) if outcome is None]
        refused = [(row, o) for row, o in zip(rows, outcomes, strict=True) if isinstance(o, _PARKED)]
        failed = [o for o in outcomes if o is not None and not isinstance(o, _PARKED)]
        async with conn.transaction():
            if published:
                await self.mark_published(conn, [row["id"] for row in published])
            for row, error in refused:
                log.error("outbox_row_parked", service=self.service, id=row["id"], topic=row["topic"], error=str(error))
                await conn.execute(_PARK, row["id"], f"{type(error).__name__}: {error}"[:2000])
            # a lost producer state first: `run` replaces the producer for that one
            failure = next((f for f in failed if isinstance(f, _PRODUCER_STATE_LOST)), failed[0] if failed else None)
        for row in published:
            events_published.labels(self.service, row["topic"]).inc()
        if failure is not None:
            raise failure
        return len(published) + len(refused)

    async def _send_all(self, rows: list[asyncpg.Record]) -> list[BaseException | None]:
        """Send the rows in order; per row None (acknowledged) or the error Kafka answered."""
        outcomes: list[BaseException | None] = [None] * len(rows)
        in_flight: dict[int, asyncio.Future[Any]] = {}
        missing: dict[str, BaseException] = {}  # one bounded metadata wait per topic and batch
        for i, row in enumerate(rows):
            if row["topic"] in missing:
                outcomes[i] = missing[row["topic"]]
                continue
            headers = kafka_trace_headers(row["traceparent"])
            try:
                with resumed(row["traceparent"]):
                    in_flight[i] = await self.producer.send(
                        row["topic"], value=row["payload"].encode(), key=row["key"].encode(), headers=headers
                    )
            except _REFUSED as exc:  # e.g. larger than max_request_size: refused before the wire
                outcomes[i] = exc
            except UnknownTopicOrPartitionError as exc:  # after the producer's bounded metadata wait
                outcomes[i] = missing[row["topic"]] = await self._missing_topic(row["topic"], exc)
            except Exception as exc:  # broker away, buffer full: this row and the later ones wait
                for j in range(i, len(rows)):
                    outcomes[j] = exc
                break
        results = await asyncio.gather(*in_flight.values(), return_exceptions=True)
        for i, result in zip(in_flight, results, strict=True):
            if isinstance(result, asyncio.CancelledError):  # the producer stopped under it: not our cancel
                result = ConnectionError("send cancelled")
            outcomes[i] = result if isinstance(result, BaseException) else None
        return outcomes

    async def _missing_topic(self, topic: str, error: BaseException) -> BaseException:
        """TopicMissing when a broker answers and does not know the topic; else the error (an outage)."""
        try:
            cluster = await asyncio.wait_for(self.producer.client.fetch_all_metadata(), self.session_timeout / 2)
        except Exception:
            return error
        if topic in cluster.topics():
            return error
        return TopicMissing(f"topic {topic!r} does not exist")

    async def _keeping_alive(self, conn: asyncpg.Connection, work: Awaitable[T]) -> T:
        """Await `work` (Kafka), with a statement on the lock's session every session_timeout / 4: a
        live leader keeps its session, and a leader cut off from the database notices and stops."""
        task = asyncio.ensure_future(work)
        beat = self.session_timeout / 4
        try:
            while True:
                done, _ = await asyncio.wait([task], timeout=beat)
                if done:
                    return task.result()
                await conn.fetchval("SELECT 1", timeout=beat)
        finally:
            if not task.done():
                task.cancel()

    async def mark_published(self, conn: asyncpg.Connection, ids: list[int]) -> None:
        await conn.execute(_MARK, ids)
