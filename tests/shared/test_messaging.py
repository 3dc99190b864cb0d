"""The delivery guarantees, proven against the real PostgreSQL and Kafka with the test aggregate."""

from __future__ import annotations

from collections import Counter

import asyncpg
import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy import text

from shared import dlq
from shared.consumer import ConsumerRunner
from shared.events.catalog import dlq_topic
from shared.events.envelope import parse
from shared.kafka import header
from shared.outbox import OutboxRelay
from tests.shared.tally import Tally, TallyCounted, producer, running
from tests.support import eventually


async def effects_reach(tally: Tally, count: int, timeout: float = 30) -> None:
    async def enough() -> bool:
        return len(await tally.effects()) >= count

    await eventually(enough, timeout)


async def test_rolled_back_transaction_publishes_nothing_and_committed_one_exactly_its_events(tally: Tally) -> None:
    async with producer(tally.bootstrap) as p, running(tally.relay(p)):
        async with tally.uow() as uow:
            uow.emit(TallyCounted(tally_id=tally_id_for("rolled-back"), n=1), sequence=1, municipality="GM0479")
            await uow.flush_events()
            # leaving without commit: rollback
        committed = {await tally.count(), await tally.count()}
        await eventually(lambda: _no_unpublished(tally))
    records = await tally.records()
    counted = [parse(r.value)[1] for r in records]
    assert {c.tally_id for c in counted if isinstance(c, TallyCounted)} == committed
    assert len(records) == 2


async def _no_unpublished(tally: Tally) -> bool:
    return await tally.unpublished() == 0


def tally_id_for(name: str) -> object:
    import uuid

    return uuid.uuid5(uuid.NAMESPACE_URL, name)


class CrashAfterSend(OutboxRelay):
    """Dies after Kafka acknowledged the batch but before the rows are marked published."""

    crashes = 0

    async def mark_published(self, conn: asyncpg.Connection, ids: list[int]) -> None:
        CrashAfterSend.crashes += 1
        raise ConnectionResetError("relay killed before marking")


async def test_relay_killed_after_publishing_before_marking_still_applies_the_effect_once(tally: Tally) -> None:
    CrashAfterSend.crashes = 0
    ids = [await tally.count() for _ in range(5)]
    async with producer(tally.bootstrap) as p:
        crashing = tally.relay(p, CrashAfterSend)
        async with running(crashing):
            await eventually(lambda: _crashed())
        assert await tally.unpublished() == 5  # nothing marked: the crash lost the marks, not the rows
        async with running(tally.relay(p), tally.consumer(p)):
            await eventually(lambda: _no_unpublished(tally))
            # barrier: every record on the topic, the republished ones too, was handled (committed)
            await eventually(tally.caught_up)
    records = await tally.records()
    assert len(records) > 5, "the crashed relay's sends reached Kafka, so the events are on the wire twice"
    effects = await tally.effects()
    assert sorted(e.tally_id for e in effects) == sorted(ids)
    assert len(effects) == 5


async def _crashed() -> bool:
    return CrashAfterSend.crashes > 0


class CrashBeforeOffsetCommit(ConsumerRunner):
    """Dies after its database transaction committed but before the Kafka offset commit."""

    async def commit_offset(self, consumer: AIOKafkaConsumer, tp: TopicPartition, offset: int) -> None:
        raise RuntimeError("consumer killed before committing its offset")


async def test_consumer_killed_after_db_commit_before_offset_commit_is_redelivered_and_deduplicated(
    tally: Tally,
) -> None:
    tally_id = tally_id_for(tally.prefix)
    for _ in range(4):
        await tally.count(tally_id)  # type: ignore[arg-type]
    async with producer(tally.bootstrap) as p:
        async with running(tally.relay(p)):
            await eventually(lambda: _no_unpublished(tally))
        crashing = tally.consumer(p, CrashBeforeOffsetCommit)
        async with running(crashing):
            await effects_reach(tally, 4)
        survivor = tally.consumer(p)
        async with running(survivor):
            # barrier: the survivor committed past every record (the crashed one committed none)
            await eventually(tally.caught_up)
    assert survivor.processed == 4, "the records were not redelivered to the survivor"
    effects = await tally.effects()
    assert len(effects) == 4
    assert [e.sequence for e in sorted(effects, key=lambda e: e.sequence)] == [f"{v:012d}" for v in range(1, 5)]
    async with tally.consumer_db.engine.connect() as conn:
        inbox = (await conn.execute(text("SELECT count(*) FROM inbox WHERE consumer = 'tally'"))).scalar_one()
    assert inbox == 4


async def test_poison_record_goes_to_the_dlq_with_its_error_and_later_records_are_processed(tally: Tally) -> None:
    key = b"same-partition"
    async with producer(tally.bootstrap) as p:
        await p.send_and_wait(tally.topic, value=b"{not json", key=key)
        valid = orjson.loads(await _valid_record(tally))
        invalid = dict(valid, id="7d3c3b7e-6c1f-4a53-9bd3-1c1c4f1d0001", data={"tallyId": "x", "n": "many"})
        refused = dict(valid, id="7d3c3b7e-6c1f-4a53-9bd3-1c1c4f1d0002", data=dict(valid["data"], n=-1))
        await p.send_and_wait(tally.topic, value=orjson.dumps(invalid), key=key)
        await p.send_and_wait(tally.topic, value=orjson.dumps(refused), key=key)
        after = [await tally.count() for _ in range(3)]
        async with running(tally.relay(p), tally.consumer(p)):
            await effects_reach(tally, 3)
            # barrier: the poison records' partition is read too (dead letters are sent before the commit)
            await eventually(tally.caught_up)
    assert sorted(e.tally_id for e in await tally.effects()) == sorted(after)
    dead = await tally.records(dlq_topic(tally.topic))
    assert len(dead) == 3
    errors = Counter(header(r.headers, "error_type") for r in dead)
    assert errors == {"ValidationError": 2, "ValueError": 1}
    assert all(header(r.headers, "original_topic") == tally.topic for r in dead)
    assert all(header(r.headers, "error") for r in dead)

    letters = [letter async for letter in dlq.read(tally.bootstrap, dlq_topic(tally.topic))]
    assert len(letters) == 3 and all("from " + tally.topic in dlq.describe(x) for x in letters)
    before = len(await tally.records())
    assert await dlq.replay(tally.bootstrap, dlq_topic(tally.topic), None, None) == 3
    assert len(await tally.records()) == before + 3


async def _valid_record(tally: Tally) -> bytes:
    """A well-formed envelope to corrupt, made by the real unit of work."""
    async with tally.uow() as uow:
        event = uow.emit(TallyCounted(tally_id=tally_id_for("template"), n=1), sequence=1, municipality="GM0479")
    from shared.events.envelope import to_json

    return to_json(event)
