"""Issue 14, items 2 and 6: an event that cannot be applied yet waits, and nothing else does.

An event whose handler says `NotYet` (or meets a passing failure of its own while the database is
fine) waits in `consumer_waiting`; later events of its partition and the other partitions go on,
only its own aggregate waits behind it; it is applied when its fact arrives, and dead-lettered with
`WaitedTooLong` at its deadline. An `ordered` consumer applies one aggregate's events in `sequence`
order across topics. Real PostgreSQL and Kafka throughout.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from sqlalchemy import text

from shared.clock import FixedClock
from shared.consumer import ConsumerRunner, NotYet, ReceivedEvent
from shared.db import UnitOfWork
from shared.events.catalog import CATALOG, EventData, dlq_topic
from shared.events.envelope import to_json
from shared.kafka import create_topics, header
from shared.metrics import consumer_wait_expired
from tests.shared.tally import EVENT_TYPE, SOURCE, Tally, TallyCounted, producer, running
from tests.support import eventually

RESET_TYPE = "test.tally_reset"


class TallyReset(EventData):
    """A second event type of the tally aggregate, on a topic of its own."""

    event_type = RESET_TYPE
    summary = "test aggregate event of a second type"
    aggregate_field = "tally_id"
    tally_id: UUID
    n: int


CATALOG.setdefault(RESET_TYPE, TallyReset)


class Facts:
    """The tallies whose fact is missing (their events wait), and the order effects were applied in."""

    def __init__(self, error: type[Exception] = NotYet) -> None:
        self.missing: set[UUID] = set()
        self.error = error

    async def handler(self, uow: UnitOfWork, event: ReceivedEvent) -> None:
        data = event.data
        assert isinstance(data, TallyCounted | TallyReset)
        if data.tally_id in self.missing:
            raise self.error(f"tally {data.tally_id} not registered yet")
        await uow.session.execute(
            text("INSERT INTO applied (event_id, tally_id, sequence) VALUES (:e, :t, :s)"),
            {"e": event.envelope.id, "t": data.tally_id, "s": int(event.envelope.sequence)},
        )


async def applied(tally: Tally) -> list[tuple[UUID, int]]:
    """(tally, sequence) per applied event, in the order they were applied."""
    async with tally.consumer_db.engine.connect() as conn:
        rows = await conn.execute(text("SELECT tally_id, sequence FROM applied ORDER BY n"))
        return [(r.tally_id, r.sequence) for r in rows]


async def waiting_rows(tally: Tally, consumer: str) -> list[Any]:
    async with tally.consumer_db.engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT event_id, reason, attempts FROM consumer_waiting WHERE consumer = :c ORDER BY id"),
            {"c": consumer},
        )
        return list(rows)


@pytest.fixture
async def facts_table(tally: Tally) -> Tally:
    async with tally.consumer_db.engine.begin() as conn:
        await conn.execute(
            text("CREATE TABLE applied (n bigserial PRIMARY KEY, event_id uuid NOT NULL, tally_id uuid, sequence int)")
        )
    await create_topics(tally.bootstrap, [tally.prefix + RESET_TYPE, dlq_topic(tally.prefix + RESET_TYPE)], 3)
    return tally


class Visible(ConsumerRunner):
    """Keeps its Kafka consumer in sight (to see which partitions it owns)."""

    kafka: AIOKafkaConsumer | None = None

    def _consumer(self) -> AIOKafkaConsumer:
        self.kafka = super()._consumer()
        return self.kafka

    def owns_partitions(self) -> bool:
        return self.kafka is not None and bool(self.kafka.assignment())


def runner(tally: Tally, dlq: AIOKafkaProducer, facts: Facts, name: str, **kw: Any) -> Visible:
    kw.setdefault("wait_retry_initial_seconds", 0.05)
    kw.setdefault("wait_retry_max_seconds", 0.2)
    return Visible(
        name=name,
        db=tally.consumer_db,
        source=SOURCE,
        bootstrap=tally.bootstrap,
        group_id=f"{tally.prefix}{name}",
        handlers={EVENT_TYPE: facts.handler, RESET_TYPE: facts.handler},
        topic_prefix=tally.prefix,
        dlq_producer=dlq,
        retry_initial_seconds=0.05,
        retry_max_seconds=0.3,
        **kw,
    )


async def publish(
    p: AIOKafkaProducer, tally: Tally, tally_id: UUID, sequence: int, *, partition: int = 0, reset: bool = False
) -> UUID:
    """One event of the tally aggregate at this version, on the given partition; its id."""
    async with tally.uow() as uow:
        data: EventData = TallyReset(tally_id=tally_id, n=0) if reset else TallyCounted(tally_id=tally_id, n=1)
        event = uow.emit(data, sequence=sequence, municipality="GM0479")
    topic = tally.prefix + (RESET_TYPE if reset else EVENT_TYPE)
    await p.send_and_wait(topic, value=to_json(event), key=str(tally_id).encode(), partition=partition)
    return event.id


async def _caught_up(tally: Tally, group: str, topic: str) -> bool:
    """The group committed past every record now on the topic."""
    reader = AIOKafkaConsumer(bootstrap_servers=tally.bootstrap, group_id=group, enable_auto_commit=False)
    await reader.start()
    try:
        await reader._client.force_metadata_update()
        partitions = [TopicPartition(topic, p) for p in sorted(reader.partitions_for_topic(topic) or ())]
        ends = await reader.end_offsets(partitions)
        for tp in partitions:
            if (await reader.committed(tp) or 0) < ends[tp]:
                return False
        return True
    finally:
        await reader.stop()


@pytest.mark.parametrize("error", [NotYet, ConnectionResetError], ids=["not-yet", "peer-away"])
async def test_event_that_cannot_be_applied_yet_waits_while_its_partition_and_the_others_go_on(
    facts_table: Tally, error: type[Exception]
) -> None:
    tally, facts = facts_table, Facts(error)
    late, other, elsewhere = uuid4(), uuid4(), uuid4()
    facts.missing.add(late)
    async with producer(tally.bootstrap) as p:
        waits = await publish(p, tally, late, 1, partition=0)
        await publish(p, tally, other, 1, partition=0)
        await publish(p, tally, elsewhere, 1, partition=1)
        consumer = runner(tally, p, facts, "waits")
        async with running(consumer):

            async def others_applied() -> bool:
                return sorted(map(str, (t for t, _ in await applied(tally)))) == sorted(map(str, (other, elsewhere)))

            await eventually(others_applied)
            await eventually(lambda: _caught_up(tally, consumer.group_id, tally.topic))
            [row] = await waiting_rows(tally, consumer.name)
            assert row.event_id == waits

            async def tried_again() -> bool:
                return any(r.attempts >= 1 for r in await waiting_rows(tally, consumer.name))

            await eventually(tried_again)  # retried on its timer while the fact is missing
            facts.missing.clear()  # the fact arrives

            async def all_applied() -> bool:
                return len(await applied(tally)) == 3

            await eventually(all_applied)
            assert await waiting_rows(tally, consumer.name) == []
    assert sorted(map(str, (t for t, _ in await applied(tally)))) == sorted(map(str, (late, other, elsewhere)))
    assert await tally.records(dlq_topic(tally.topic)) == []


async def test_later_events_of_a_waiting_aggregate_wait_behind_it_in_order(facts_table: Tally) -> None:
    tally, facts = facts_table, Facts()
    late, other = uuid4(), uuid4()
    facts.missing.add(late)
    async with producer(tally.bootstrap) as p:
        await publish(p, tally, late, 1)
        await publish(p, tally, late, 2)
        await publish(p, tally, other, 1)
        await publish(p, tally, late, 3)
        consumer = runner(tally, p, facts, "behind")
        async with running(consumer):

            async def other_applied() -> bool:
                return await applied(tally) == [(other, 1)]

            await eventually(other_applied)
            await eventually(lambda: _caught_up(tally, consumer.group_id, tally.topic))
            reasons = [r.reason for r in await waiting_rows(tally, consumer.name)]
            assert reasons == ["not_yet", "order", "order"]
            facts.missing.clear()

            async def all_applied() -> bool:
                return len(await applied(tally)) == 4

            await eventually(all_applied)
    assert await applied(tally) == [(other, 1), (late, 1), (late, 2), (late, 3)]


async def test_event_waiting_past_its_deadline_goes_to_the_dlq_and_counts_for_the_alert(facts_table: Tally) -> None:
    tally, facts = facts_table, Facts()
    clock = FixedClock(datetime(2026, 12, 2, 16, 0, tzinfo=UTC))
    never, good = uuid4(), uuid4()
    facts.missing.add(never)
    async with producer(tally.bootstrap) as p:
        lost = await publish(p, tally, never, 1)
        await publish(p, tally, good, 1)
        consumer = runner(tally, p, facts, "deadline", clock=clock, wait_deadline_seconds=3600)
        expired_before = consumer_wait_expired.labels(consumer.name, tally.topic)._value.get()
        async with running(consumer):

            async def good_applied() -> bool:
                return await applied(tally) == [(good, 1)]

            await eventually(good_applied)
            assert len(await waiting_rows(tally, consumer.name)) == 1
            clock.advance(timedelta(hours=1, seconds=1))
            consumer.waiting_wake.set()

            async def dead_lettered() -> bool:
                return await waiting_rows(tally, consumer.name) == []

            await eventually(dead_lettered)
    dead = await tally.records(dlq_topic(tally.topic))
    assert [(r.key, header(r.headers, "error_type")) for r in dead] == [(str(never).encode(), "WaitedTooLong")]
    assert str(lost).encode() in dead[0].value
    assert consumer_wait_expired.labels(consumer.name, tally.topic)._value.get() == expired_before + 1
    assert await applied(tally) == [(good, 1)]
    async with tally.consumer_db.engine.connect() as conn:
        inbox = await conn.execute(
            text("SELECT event_id FROM inbox WHERE consumer = :c AND event_id = :e"), {"c": consumer.name, "e": lost}
        )
        assert inbox.all() == [], "a replay of the dead letter would be taken for a duplicate"


async def test_ordered_consumer_holds_an_event_ahead_of_its_aggregate_until_the_one_before_arrives(
    facts_table: Tally,
) -> None:
    """`resolved` read before `acknowledged` (another topic, behind): applied after it, not before."""
    tally, facts = facts_table, Facts()
    signal = uuid4()
    reset_topic = tally.prefix + RESET_TYPE
    async with producer(tally.bootstrap) as p:
        await publish(p, tally, signal, 1)
        # no barrier in this test: only the missing version itself may release the held one
        consumer = runner(tally, p, facts, "ordered", ordered=True, barrier_seconds=3600)
        async with running(consumer):

            async def first_applied() -> bool:
                return await applied(tally) == [(signal, 1)]

            await eventually(first_applied)
            await publish(p, tally, signal, 3, reset=True)
            await eventually(lambda: _caught_up(tally, consumer.group_id, reset_topic))
            assert [r.reason for r in await waiting_rows(tally, consumer.name)] == ["order"]
            assert await applied(tally) == [(signal, 1)]
            await publish(p, tally, signal, 2)

            async def all_applied() -> bool:
                return len(await applied(tally)) == 3

            await eventually(all_applied)
            assert await waiting_rows(tally, consumer.name) == []
    assert await applied(tally) == [(signal, 1), (signal, 2), (signal, 3)]


@pytest.mark.parametrize("pinned", [False, True], ids=["system-clock", "pinned-clock"])
async def test_ordered_consumer_releases_a_held_event_once_everything_before_it_was_consumed(
    facts_table: Tally, pinned: bool
) -> None:
    """A gap of a type this consumer does not read never closes: the barrier lets the event go.
    Also when the service's clock is pinned (tests do): the barrier goes by the database's time."""
    tally, facts = facts_table, Facts()
    signal, fresh = uuid4(), uuid4()
    async with producer(tally.bootstrap) as p:
        await publish(p, tally, signal, 1)
        await publish(p, tally, signal, 3, reset=True)  # version 2 was of a type not read here
        await publish(p, tally, fresh, 4)  # first seen at version 4 (e.g. older ones past retention)
        clock = FixedClock(datetime(2026, 12, 2, 16, 0, tzinfo=UTC)) if pinned else None
        options: dict[str, Any] = {"clock": clock} if clock is not None else {}
        consumer = runner(tally, p, facts, "barrier", ordered=True, barrier_seconds=0.1, **options)
        async with running(consumer):

            async def all_applied() -> bool:
                return len(await applied(tally)) == 3

            await eventually(all_applied)
    done = await applied(tally)
    assert [s for t, s in done if t == signal] == [1, 3]
    assert (fresh, 4) in done


async def test_two_replicas_with_a_rebalance_mid_batch_apply_each_event_once_waiting_ones_too(
    facts_table: Tally,
) -> None:
    """A second replica joins while the first is inside a batch; an event waits meanwhile."""
    tally, facts = facts_table, Facts()
    entered, gate = asyncio.Event(), asyncio.Event()

    async def held_once(uow: UnitOfWork, event: ReceivedEvent) -> None:
        if not gate.is_set():
            entered.set()
            await gate.wait()  # the first replica sits inside its batch while the group rebalances
        await facts.handler(uow, event)

    late = uuid4()
    facts.missing.add(late)
    async with producer(tally.bootstrap) as p:
        ids = [await publish(p, tally, uuid4(), 1, partition=i % 3) for i in range(30)]
        ids.append(await publish(p, tally, late, 1, partition=1))
        first = runner(tally, p, facts, "replicas")
        first.handlers = {EVENT_TYPE: held_once, RESET_TYPE: held_once}
        second = runner(tally, p, facts, "replicas")
        async with running(first):
            await eventually(lambda: _set(entered), timeout=30)
            async with running(second):
                gate.set()

                async def second_owns() -> bool:
                    return second.owns_partitions()

                await eventually(second_owns, timeout=60)
                # more after the rebalance: both replicas now own partitions
                ids += [await publish(p, tally, uuid4(), 1, partition=i % 3) for i in range(30)]
                await eventually(lambda: _caught_up(tally, first.group_id, tally.topic), timeout=60)
                facts.missing.clear()

                async def all_applied() -> bool:
                    return len(await applied(tally)) == len(ids)

                await eventually(all_applied, timeout=60)
        assert second.processed > 0, "the second replica never took part: the test proves nothing"
    done = await applied(tally)
    assert len(done) == len({t for t, _ in done}) == len(ids), "an event was applied twice or not at all"
    assert await waiting_rows(tally, "replicas") == []
    assert await tally.records(dlq_topic(tally.topic)) == []


async def _set(event: asyncio.Event) -> bool:
    return event.is_set()
