"""The consumer under the faults production brings (issue 14): each keeps its promise.

A full connection pool is an outage, not a verdict on the events; a tombstone goes to the DLQ
and the consumer moves on; a handler's explicit refusal is final even when it was raised while
handling an outage; a dead-lettered event is sent to the DLQ once, however often its batch is
retried. Real PostgreSQL and Kafka throughout: the pool is really exhausted (a connection held),
a batch is retried after a real outage (the server ends the handler's connection).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from uuid import UUID, uuid4

import asyncpg
import orjson
import pydantic
import pytest
import sqlalchemy.exc
from aiokafka import AIOKafkaProducer, ConsumerRecord
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from shared.consumer import ConsumerRunner, PermanentError, ReceivedEvent, is_transient
from shared.db import Database, UnitOfWork
from shared.events.catalog import dlq_topic
from shared.events.envelope import to_json
from shared.kafka import header
from shared.metrics import dlq_records
from tests.shared.tally import EVENT_TYPE, SOURCE, Tally, TallyCounted, producer, running
from tests.shared.test_outages import committed_offsets
from tests.support import eventually

Handler = Callable[[UnitOfWork, ReceivedEvent], Awaitable[None]]


async def apply_count(uow: UnitOfWork, event: ReceivedEvent) -> None:
    """The tally's effect, as `Tally.consumer` applies it: one row per applied event."""
    assert isinstance(event.data, TallyCounted)
    if event.data.n < 0:
        raise PermanentError("a tally never counts down")
    await uow.session.execute(
        text("INSERT INTO effects (event_id, tally_id, n, sequence) VALUES (:e, :t, :n, :s)"),
        {"e": event.envelope.id, "t": event.data.tally_id, "n": event.data.n, "s": event.envelope.sequence},
    )


class Attempts(ConsumerRunner):
    """Counts the batches it was handed, retries included (to wait for a retry, never a sleep)."""

    attempts = 0

    async def handle_batch(self, records: list[ConsumerRecord[bytes, bytes]]) -> None:
        self.attempts += 1
        await super().handle_batch(records)


def runner(
    tally: Tally, dlq: AIOKafkaProducer, handler: Handler, db: Database | None = None, *, name: str = "faults"
) -> Attempts:
    return Attempts(
        name=name,
        db=db or tally.consumer_db,
        source=SOURCE,
        bootstrap=tally.bootstrap,
        group_id=f"{tally.prefix}group",
        handlers={EVENT_TYPE: handler},
        topic_prefix=tally.prefix,
        dlq_producer=dlq,
        retry_initial_seconds=0.05,
        retry_max_seconds=0.3,
    )


async def record(tally: Tally, n: int = 1) -> bytes:
    """A well-formed event for the tally topic (emitted by the real unit of work, not committed)."""
    async with tally.uow() as uow:
        event = uow.emit(TallyCounted(tally_id=uuid4(), n=n), sequence=1, municipality="GM0479")
    return to_json(event)


def event_id(raw: bytes) -> UUID:
    return UUID(orjson.loads(raw)["id"])


async def send(p: AIOKafkaProducer, tally: Tally, *values: bytes) -> None:
    """The records in this order on one partition, so the consumer meets them in one batch."""
    for value in values:
        await p.send_and_wait(tally.topic, value=value, key=b"one-partition", partition=0)


def dead_letters(consumer: str, tally: Tally) -> float:
    value: float = dlq_records.labels(consumer, tally.topic)._value.get()
    return value


async def offsets_committed(tally: Tally, runner: ConsumerRunner, expected: int) -> bool:
    return await committed_offsets(tally.bootstrap, runner.group_id, tally.topic) == expected


def small_pool(url: str, schema: str, timeout: float) -> Database:
    """A Database with one connection and no overflow, waiting `timeout` seconds for it."""
    db = Database(url, schema, pool_size=1)
    db.engine = create_async_engine(
        url,
        pool_size=1,
        max_overflow=0,
        pool_timeout=timeout,
        connect_args={"server_settings": {"search_path": schema}},
    )
    db.sessions = async_sessionmaker(db.engine, expire_on_commit=False, autoflush=False)
    return db


async def test_exhausted_connection_pool_is_an_outage_retried_without_dead_lettering(tally: Tally) -> None:
    db = small_pool(tally.consumer_db.url, tally.consumer_db.schema, timeout=0.2)
    try:
        async with producer(tally.bootstrap) as p:
            values = [await record(tally) for _ in range(3)]
            await send(p, tally, *values)
            consumer = runner(tally, p, apply_count, db, name="faults-pool")
            async with running(consumer):
                async with db.engine.connect() as held:  # the pool's only connection, busy elsewhere
                    await held.execute(text("SELECT 1"))

                    async def retried_or_dead_lettered() -> bool:
                        return consumer.attempts >= 2 or dead_letters(consumer.name, tally) > 0

                    await eventually(retried_or_dead_lettered)
                    assert dead_letters(consumer.name, tally) == 0, "good events were dead-lettered"
                    assert await committed_offsets(tally.bootstrap, consumer.group_id, tally.topic) == 0
                await eventually(lambda: offsets_committed(tally, consumer, 3))
        assert sorted(e.event_id for e in await tally.effects()) == sorted(event_id(v) for v in values)
        assert await tally.records(dlq_topic(tally.topic), settle=0.5) == []
    finally:
        await db.dispose()


async def test_tombstone_goes_to_the_dlq_and_the_consumer_moves_on(tally: Tally) -> None:
    async with producer(tally.bootstrap) as p:
        tombstone = p.create_batch()  # `send` refuses a record with neither key nor value; Kafka does not
        tombstone.append(key=None, value=None, timestamp=None)
        await (await p.send_batch(tombstone, tally.topic, partition=0))
        await p.send_and_wait(tally.topic, value=None, key=b"a-deleted-key", partition=0)
        good = await record(tally)
        await send(p, tally, good)
        consumer = tally.consumer(p)
        async with running(consumer):
            await eventually(lambda: offsets_committed(tally, consumer, 3))
    assert [e.event_id for e in await tally.effects()] == [event_id(good)]
    dead = await tally.records(dlq_topic(tally.topic), settle=0.5)
    assert sorted(header(r.headers, "original_offset") or "" for r in dead) == ["0", "1"]
    assert all(r.value is None and header(r.headers, "error_type") == "ValueError" for r in dead)


async def test_permanent_error_raised_while_handling_an_outage_is_dead_lettered(tally: Tally) -> None:
    async def refuse_after_outage(uow: UnitOfWork, event: ReceivedEvent) -> None:
        assert isinstance(event.data, TallyCounted)
        if event.data.n < 0:
            try:
                raise ConnectionResetError("the registry hung up")
            except OSError:
                raise PermanentError("refused: a tally never counts down")  # noqa: B904 (the point of the test)
        await apply_count(uow, event)

    async with producer(tally.bootstrap) as p:
        refused, good = await record(tally, n=-1), await record(tally)
        await send(p, tally, refused, good)
        consumer = runner(tally, p, refuse_after_outage, name="faults-verdict")
        async with running(consumer):
            await eventually(lambda: offsets_committed(tally, consumer, 2))
    assert [e.event_id for e in await tally.effects()] == [event_id(good)]
    dead = await tally.records(dlq_topic(tally.topic), settle=0.5)
    assert [(event_id(r.value), header(r.headers, "error_type")) for r in dead] == [
        (event_id(refused), "PermanentError")
    ]


async def test_dead_lettered_event_is_sent_once_when_its_batch_is_retried(tally: Tally) -> None:
    waited: set[UUID] = set()

    async def fact_late_once(uow: UnitOfWork, event: ReceivedEvent) -> None:
        """The good event meets an outage once (the server ends its connection): the batch is retried."""
        if event.envelope.id not in waited and isinstance(event.data, TallyCounted) and event.data.n > 0:
            waited.add(event.envelope.id)
            await uow.session.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))
        await apply_count(uow, event)

    async with producer(tally.bootstrap) as p:
        poison, good = await record(tally, n=-1), await record(tally)
        await send(p, tally, poison, good)
        consumer = runner(tally, p, fact_late_once, name="faults-once")
        async with running(consumer):
            await eventually(lambda: offsets_committed(tally, consumer, 2))
        assert consumer.attempts >= 2, "the batch was not retried: the test proves nothing"
    assert [e.event_id for e in await tally.effects()] == [event_id(good)]
    dead = await tally.records(dlq_topic(tally.topic), settle=0.5)
    assert [event_id(r.value) for r in dead] == [event_id(poison)], "the poison event was dead-lettered twice"
    async with tally.consumer_db.engine.connect() as conn:
        inbox = (
            await conn.execute(text("SELECT event_id FROM inbox WHERE consumer = 'faults-once' ORDER BY kafka_offset"))
        ).scalars()
        assert list(inbox) == [event_id(poison), event_id(good)]


def _raised_in_except(outage: BaseException, verdict: BaseException) -> BaseException:
    try:
        try:
            raise outage
        except BaseException:
            raise verdict  # noqa: B904 (implicit chaining: `__context__` only)
    except BaseException as exc:
        return exc


def _raised_from(cause: BaseException, exc: BaseException) -> BaseException:
    exc.__cause__ = cause
    return exc


def _validation_error() -> pydantic.ValidationError:
    try:
        TallyCounted.model_validate({"tallyId": "x", "n": "many"})
    except pydantic.ValidationError as exc:
        return exc
    raise AssertionError("validated")


def _wrapped(driver_error: BaseException) -> BaseException:
    """As SQLAlchemy raises a driver error: the adapter's error in `orig`, raised from the driver's."""
    adapter = _raised_from(driver_error, Exception(str(driver_error)))
    return _raised_from(adapter, sqlalchemy.exc.DBAPIError("INSERT ...", {}, adapter))


@pytest.mark.parametrize(
    ("make", "transient"),
    [
        # outages, whatever wraps them
        (lambda: sqlalchemy.exc.TimeoutError("QueuePool limit of size 1 overflow 0 reached"), True),
        (lambda: asyncpg.exceptions.InternalServerError("could not read block 0"), True),  # XX000
        (lambda: asyncpg.exceptions.PostgresSystemError("could not open file"), True),  # 58000
        (lambda: _wrapped(asyncpg.exceptions.InternalServerError("cache lookup failed")), True),
        (lambda: _wrapped(asyncpg.AdminShutdownError("terminating connection")), True),
        (lambda: _wrapped(asyncpg.TooManyConnectionsError("too many clients")), True),  # 53300
        (lambda: sqlalchemy.exc.OperationalError("connect", {}, ConnectionRefusedError()), True),
        (lambda: _raised_from(ConnectionResetError(), RuntimeError("sending failed")), True),
        (lambda: ExceptionGroup("handler tasks", [ConnectionResetError()]), True),
        # verdicts on the event
        (lambda: ValueError("a tally never counts down"), False),
        (lambda: asyncpg.UniqueViolationError("duplicate key"), False),
        (lambda: _wrapped(asyncpg.UniqueViolationError("duplicate key")), False),
        (lambda: _raised_in_except(ConnectionResetError(), PermanentError("refused")), False),
        (lambda: _raised_in_except(sqlalchemy.exc.TimeoutError(), _validation_error()), False),
        (lambda: _raised_in_except(ConnectionResetError(), KeyError("partner")), False),
        (lambda: _raised_from(ConnectionResetError(), PermanentError("refused")), False),
        (lambda: ExceptionGroup("handler tasks", [ConnectionResetError(), PermanentError("refused")]), False),
        # an outage while a refusal was being handled (a rollback on a lost connection) is an outage
        (lambda: _raised_in_except(PermanentError("refused"), ConnectionResetError()), True),
    ],
)
def test_is_transient_says_outage_or_verdict(make: Callable[[], BaseException], transient: bool) -> None:
    assert is_transient(make()) is transient
