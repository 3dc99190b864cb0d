"""Several relay replicas on one outbox: one is active, and each aggregate's events keep their order;
when the active one dies mid-batch, a standby takes over and nothing is lost."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter, defaultdict
from contextlib import suppress
from typing import Any, cast

from aiokafka import AIOKafkaProducer
from sqlalchemy import text

from shared.db import lock_key
from shared.events.envelope import parse
from tests.shared.tally import Tally, producer, running
from tests.support import Infra, eventually


async def test_two_relays_publish_each_aggregate_in_order_with_one_active(infra: Infra) -> None:
    tally = Tally(infra.database_url, infra.kafka)
    await tally.setup()
    aggregates = [uuid.uuid4() for _ in range(8)]
    try:
        async with producer(infra.kafka) as p1, producer(infra.kafka) as p2:
            first, second = tally.relay(p1, batch_size=7), tally.relay(p2, batch_size=7)
            async with running(first, second):
                await asyncio.gather(*(_write(tally, a, 25) for a in aggregates))
                await eventually(lambda: _drained(tally), timeout=30)
                assert sum((first.is_leader, second.is_leader)) == 1
        by_key = _sequences_by_key(await tally.records())
        assert set(by_key) == {str(a) for a in aggregates}
        for key, sequences in by_key.items():
            assert sequences == list(range(1, 26)), f"aggregate {key} out of order"
    finally:
        await tally.close()


class Leash:
    """A relay's producer that lets `budget` records through to Kafka, each acknowledged before the
    next, then holds the next send for good: its relay is stuck mid-batch until the test kills it."""

    def __init__(self, producer: AIOKafkaProducer, budget: int | None) -> None:
        self.producer = producer
        self.budget = budget
        self.passed: list[tuple[str, int]] = []  # (subject, sequence) of each record on the wire
        self.holding = asyncio.Event()

    async def send(self, topic: str, *, value: bytes, key: bytes, headers: list[tuple[str, bytes]]) -> Any:
        if self.budget is not None and len(self.passed) >= self.budget:
            self.holding.set()
            await asyncio.get_running_loop().create_future()  # never done: the relay dies here
        future = await self.producer.send(topic, value=value, key=key, headers=headers)
        await future
        envelope, _ = parse(value)
        self.passed.append((envelope.subject, int(envelope.sequence)))
        return future


BACKLOG, LATER = 12, 13  # counts per aggregate written before the relays start, and while they run
BATCH, BUDGET = 7, 60  # the backlog fills the first batches: the leader is held after 4 of batch 9


async def test_a_standby_takes_over_from_a_leader_killed_mid_batch_and_nothing_is_lost(infra: Infra) -> None:
    tally = Tally(infra.database_url, infra.kafka)
    await tally.setup()
    aggregates = [uuid.uuid4() for _ in range(8)]
    try:
        await asyncio.gather(*(_write(tally, a, BACKLOG) for a in aggregates))
        async with producer(infra.kafka) as p1, producer(infra.kafka) as p2, producer(infra.kafka) as p3:
            leashes = [Leash(p1, BUDGET), Leash(p2, BUDGET)]
            relays = [tally.relay(cast(AIOKafkaProducer, leash), batch_size=BATCH) for leash in leashes]
            stops = [asyncio.Event(), asyncio.Event()]
            tasks = [asyncio.create_task(relay.run(stop)) for relay, stop in zip(relays, stops, strict=True)]
            try:
                async with running(tally.consumer(p3)):
                    writers = asyncio.gather(*(_write(tally, a, LATER) for a in aggregates))
                    await eventually(lambda: _holding(leashes), timeout=30)
                    [held] = [i for i, leash in enumerate(leashes) if leash.holding.is_set()]
                    leader, standby = relays[held], relays[1 - held]
                    assert leader.is_leader and not standby.is_leader
                    assert leashes[1 - held].passed == [], "the standby published while another was active"
                    holder = await _lock_holder(tally)
                    assert holder is not None
                    marked = await _published(tally)
                    in_flight = [r for r in leashes[held].passed if r not in marked]
                    assert 0 < len(in_flight) < BATCH, "the leader is to die with part of a batch on the wire"

                    # the leader dies: its database session ends (as when its process is killed) and its
                    # task is cancelled where it hangs, mid-batch. Its stop is set too, only so that it
                    # does not start over if the rollback's error on the dead session swallows the cancel.
                    leashes[1 - held].budget = None
                    await _terminate(tally, holder)
                    stops[held].set()
                    tasks[held].cancel()
                    await asyncio.wait([tasks[held]], timeout=15)
                    assert tasks[held].done() and not leader.is_leader
                    await eventually(lambda: _leading(standby), timeout=30)
                    assert await _lock_holder(tally) not in (None, holder)

                    await writers
                    await eventually(lambda: _drained(tally), timeout=30)
                    total = len(aggregates) * (BACKLOG + LATER)
                    await eventually(lambda: _applied(tally, total), timeout=30)
            finally:
                for stop in stops:
                    stop.set()
                _, hanging = await asyncio.wait(tasks, timeout=15)
                for task in hanging:
                    task.cancel()
                for task in tasks:
                    with suppress(BaseException):
                        await task

        records = await tally.records()
        # on the wire: every event once, but for the dead leader's unmarked sends, which the standby
        # sent again (at-least-once); apart from those, each aggregate's events in order
        assert len(records) == total + len(in_flight)
        again = Counter(in_flight)
        by_key: dict[str, list[int]] = defaultdict(list)
        for record in records:
            envelope, _ = parse(record.value)
            event = (envelope.subject, int(envelope.sequence))
            if again[event]:
                again[event] -= 1  # the dead leader's copy comes first on the partition
                continue
            by_key[envelope.subject].append(event[1])
        assert set(by_key) == {str(a) for a in aggregates}
        for key, sequences in by_key.items():
            assert sequences == list(range(1, BACKLOG + LATER + 1)), f"aggregate {key} lost or out of order"
        effects = await tally.effects()
        assert len(effects) == total and len({e.event_id for e in effects}) == total, "applied twice or lost"
    finally:
        await tally.close()


async def _write(tally: Tally, aggregate: uuid.UUID, count: int) -> None:
    for _ in range(count):
        await tally.count(aggregate)


def _sequences_by_key(records: list[Any]) -> dict[str, list[int]]:
    by_key: dict[str, list[int]] = defaultdict(list)
    for record in records:
        envelope, _ = parse(record.value)
        by_key[envelope.subject].append(int(envelope.sequence))
    return by_key


async def _drained(tally: Tally) -> bool:
    return await tally.unpublished() == 0


async def _holding(leashes: list[Leash]) -> bool:
    return any(leash.holding.is_set() for leash in leashes)


async def _leading(relay: Any) -> bool:
    return bool(relay.is_leader)


async def _applied(tally: Tally, count: int) -> bool:
    return len(await tally.effects()) >= count


async def _lock_holder(tally: Tally) -> int | None:
    """The backend holding the relay's advisory lock (the active relay's session), if any."""
    async with tally.producer_db.engine.connect() as conn:
        pid = (
            await conn.execute(
                text(
                    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
                    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                    " AND ((classid::bigint << 32) | objid::bigint) = :key"
                ),
                {"key": lock_key(f"relay:{tally.producer_db.schema}")},
            )
        ).scalar_one_or_none()
    return None if pid is None else int(pid)


async def _terminate(tally: Tally, pid: int) -> None:
    async with tally.producer_db.engine.connect() as conn:
        assert (await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})).scalar_one()


async def _published(tally: Tally) -> set[tuple[str, int]]:
    """(subject, sequence) of the outbox rows marked published."""
    async with tally.producer_db.engine.connect() as conn:
        rows = (await conn.execute(text("SELECT payload::text FROM outbox WHERE published_at IS NOT NULL"))).scalars()
        return {(e.subject, int(e.sequence)) for e in (parse(p.encode())[0] for p in rows)}
