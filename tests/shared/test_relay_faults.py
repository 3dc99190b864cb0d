"""Issue 14: the relay and the consumer under faults production brings, on real servers.

A row Kafka never accepts is parked and the rest flow; a frozen relay leader loses the lock within
its session timeout; the backlog and lag gauges tell the truth while delivery is stalled.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from contextlib import suppress
from typing import Any

import orjson
from prometheus_client import REGISTRY
from sqlalchemy import text

from shared.events.envelope import parse
from shared.outbox import OutboxRelay
from tests.shared.tally import Tally, TallyCounted, producer, running
from tests.support import Infra, eventually


async def _insert_raw(tally: Tally, topic: str, payload: dict[str, Any]) -> uuid.UUID:
    """An outbox row as a buggy or misconfigured producer side could commit it."""
    event_id = uuid.uuid4()
    async with tally.producer_db.engine.begin() as conn:
        await conn.execute(
            text("INSERT INTO outbox (event_id, topic, key, payload) VALUES (:e, :t, 'poison', CAST(:p AS jsonb))"),
            {"e": event_id, "t": topic, "p": orjson.dumps(payload).decode()},
        )
    return event_id


async def _outbox(tally: Tally) -> list[Any]:
    async with tally.producer_db.engine.connect() as conn:
        return list(
            await conn.execute(
                text("SELECT event_id, topic, published_at, parked_at, park_error FROM outbox ORDER BY id")
            )
        )


async def test_a_row_kafka_refuses_is_parked_and_every_other_row_is_published_once(infra: Infra) -> None:
    tally = Tally(infra.database_url, infra.kafka)
    await tally.setup()
    try:
        good = [await tally.count() for _ in range(3)]
        missing_topic = await _insert_raw(tally, tally.prefix + "no.such.topic", {"n": 1})
        good += [await tally.count() for _ in range(3)]
        too_large = await _insert_raw(tally, tally.topic, {"pad": "x" * 1_200_000})  # over the 1 MiB limits
        good += [await tally.count() for _ in range(3)]

        async with producer(infra.kafka) as p, running(tally.relay(p)):  # one batch holds all 11 rows
            await eventually(lambda: _unpublished_is(tally, 0), timeout=60)
            later = await tally.count()  # the relay is not stuck behind them
            await eventually(lambda: _unpublished_is(tally, 0), timeout=30)

        rows = {r.event_id: r for r in await _outbox(tally)}
        assert rows[missing_topic].published_at is None and rows[missing_topic].parked_at is not None
        assert "does not exist" in rows[missing_topic].park_error
        assert rows[too_large].published_at is None and rows[too_large].parked_at is not None
        assert "MessageSizeTooLarge" in rows[too_large].park_error
        records = await tally.records()
        on_wire = Counter(str(_counted(r.value).tally_id) for r in records)
        # every good row exactly once: the ones acknowledged before the poison row were not sent again
        assert on_wire == Counter(str(t) for t in [*good, later])
    finally:
        await tally.close()


def _counted(value: bytes) -> TallyCounted:
    _, data = parse(value)
    assert isinstance(data, TallyCounted)
    return data


async def _unpublished_is(tally: Tally, n: int) -> bool:
    """`n` rows not published, the poison ones aside."""
    async with tally.producer_db.engine.connect() as conn:
        pending = await conn.execute(text("SELECT count(*) FROM outbox WHERE published_at IS NULL AND key <> 'poison'"))
        return int(pending.scalar_one()) == n


class Freezable(OutboxRelay):
    """A relay that can be frozen while leading: it never runs again, as a process stopped by
    SIGSTOP or a node cut off. Its connection stays open; its session sees no statement any more."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.frozen = False
        self.froze = asyncio.Event()

    async def _wait_for_work(self, stop: asyncio.Event) -> None:
        if self.frozen:
            self.froze.set()
            await asyncio.get_running_loop().create_future()  # never done
        await super()._wait_for_work(stop)


TAKEOVER_BOUND = 30.0  # seconds from a leader's freeze to a standby publishing


async def test_a_standby_publishes_within_the_bound_after_the_leader_freezes(infra: Infra) -> None:
    tally = Tally(infra.database_url, infra.kafka)
    await tally.setup()
    try:
        async with producer(infra.kafka) as p1, producer(infra.kafka) as p2:
            # the relays' default session timeout: the bound holds as the services run them
            relays = [tally.relay(p, cls=Freezable) for p in (p1, p2)]
            stop = asyncio.Event()
            tasks = [asyncio.create_task(r.run(stop)) for r in relays]
            try:
                await tally.count()
                await eventually(lambda: _unpublished_is(tally, 0), timeout=30)
                await eventually(lambda: _one_leader(relays), timeout=30)
                [leader] = [r for r in relays if r.is_leader]
                [standby] = [r for r in relays if r is not leader]
                assert isinstance(leader, Freezable)
                leader.frozen = True
                await eventually(lambda: _is_set(leader.froze), timeout=10)
                frozen_at = time.monotonic()
                await tally.count()
                await eventually(lambda: _unpublished_is(tally, 0), timeout=TAKEOVER_BOUND + 5)
                assert time.monotonic() - frozen_at < TAKEOVER_BOUND
                assert standby.is_leader
            finally:
                stop.set()
                for task in tasks:
                    task.cancel()
                for task in tasks:
                    with suppress(BaseException):
                        await task
    finally:
        await tally.close()


async def _one_leader(relays: list[OutboxRelay]) -> bool:
    return sum(r.is_leader for r in relays) == 1


async def _is_set(event: asyncio.Event) -> bool:
    return event.is_set()


def _gauge(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


async def test_backlog_gauges_report_pending_rows_and_a_growing_age_while_kafka_is_away(
    infra: Infra, own_kafka: object
) -> None:
    from stack.kafka import KafkaBroker

    assert isinstance(own_kafka, KafkaBroker)
    tally = Tally(infra.database_url, own_kafka.bootstrap)
    await tally.setup()
    service = f"gauges-{tally.prefix[5:-1]}"
    try:
        async with producer(own_kafka.bootstrap) as p:
            try:
                relay = OutboxRelay(tally.producer_db, p, service=service, poll_seconds=0.2, retry_max_seconds=0.5)
                relay.measure_seconds = 0.2
                async with running(relay):
                    await tally.count()
                    await eventually(lambda: _unpublished_is(tally, 0), timeout=30)
                    await asyncio.to_thread(own_kafka.stop)
                    for _ in range(5):
                        await tally.count()

                    async def backlog_reported() -> bool:
                        pending = _gauge("wijkaanpak_outbox_pending", service=service)
                        oldest = _gauge("wijkaanpak_outbox_oldest_unpublished_seconds", service=service)
                        return pending == 5 and oldest is not None and oldest > 0

                    await eventually(backlog_reported, timeout=20)
                    first = _gauge("wijkaanpak_outbox_oldest_unpublished_seconds", service=service)
                    assert first is not None

                    async def older() -> bool:
                        now = _gauge("wijkaanpak_outbox_oldest_unpublished_seconds", service=service)
                        return now is not None and now >= first + 1

                    await eventually(older, timeout=10)
                    assert _gauge("wijkaanpak_outbox_pending", service=service) == 5
                    await asyncio.to_thread(own_kafka.start)

                    async def drained() -> bool:
                        oldest = _gauge("wijkaanpak_outbox_oldest_unpublished_seconds", service=service)
                        return _gauge("wijkaanpak_outbox_pending", service=service) == 0 and oldest == 0

                    await eventually(drained, timeout=60)
            finally:  # before the producer stops: it flushes, and waits for a broker
                if not own_kafka.is_running():
                    await asyncio.to_thread(own_kafka.start)
    finally:
        await tally.close()


async def test_consumer_lag_grows_while_its_database_is_away_and_falls_after(infra: Infra, own_pg: object) -> None:
    from stack.pg import PgServer

    assert isinstance(own_pg, PgServer)
    tally = Tally(infra.database_url, infra.kafka, consumer_database_url=own_pg.admin_url)
    await tally.setup()
    try:
        async with producer(infra.kafka) as p, running(tally.relay(p)):
            consumer = tally.consumer(p)
            consumer.lag_seconds = 0.2
            labels = {"consumer": consumer.name, "topic": tally.topic}

            async def lag_is(n: int) -> bool:
                return _gauge("wijkaanpak_consumer_lag", **labels) == n

            async with running(consumer):
                for _ in range(5):
                    await tally.count()
                await eventually(tally.caught_up, timeout=30)
                await eventually(lambda: lag_is(0), timeout=10)
                await asyncio.to_thread(own_pg.stop)
                for _ in range(20):
                    await tally.count()
                await eventually(lambda: _unpublished_is(tally, 0), timeout=30)
                await eventually(lambda: lag_is(20), timeout=20)  # the consumer is stalled, and it shows
                await asyncio.to_thread(own_pg.start)
                await eventually(tally.caught_up, timeout=60)
                await eventually(lambda: lag_is(0), timeout=10)
    finally:
        if not own_pg.is_running():
            await asyncio.to_thread(own_pg.start)
        await tally.close()


class WatchedRelay(OutboxRelay):
    """Says when it is waiting for Kafka's acknowledgements (to look at its session meanwhile)."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.sending = asyncio.Event()

    async def _send_all(self, rows: list[Any]) -> list[BaseException | None]:
        self.sending.set()
        try:
            return await super()._send_all(rows)
        finally:
            self.sending.clear()


async def test_the_relay_holds_no_transaction_or_row_lock_while_it_waits_for_a_broker_that_is_away(
    infra: Infra, own_kafka: object
) -> None:
    from shared.db import lock_key
    from stack.kafka import KafkaBroker

    assert isinstance(own_kafka, KafkaBroker)
    tally = Tally(infra.database_url, own_kafka.bootstrap)
    await tally.setup()
    key = lock_key(f"relay:{tally.producer_db.schema}")
    try:
        async with producer(own_kafka.bootstrap) as p:
            try:
                relay = WatchedRelay(tally.producer_db, p, service="txn", poll_seconds=0.2, retry_max_seconds=0.5)
                async with running(relay):
                    await tally.count()
                    await eventually(lambda: _unpublished_is(tally, 0), timeout=30)
                    await asyncio.to_thread(own_kafka.stop)
                    await tally.count()

                    async def sending() -> bool:
                        return relay.sending.is_set()

                    await eventually(sending, timeout=30)
                    async with tally.producer_db.engine.connect() as conn:
                        # the relay's session: the one holding its advisory lock
                        xact_start = (
                            await conn.execute(
                                text(
                                    "SELECT a.xact_start FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
                                    " WHERE l.locktype = 'advisory' AND l.classid = :hi AND l.objid = :lo"
                                ),
                                {"hi": key >> 32, "lo": key & 0xFFFFFFFF},
                            )
                        ).one()[0]
                        assert relay.sending.is_set(), "the send ended before the look: the test proves nothing"
                        assert xact_start is None, "the relay keeps a transaction open while Kafka is away"
                        await conn.rollback()
                        async with conn.begin():
                            locked = await conn.execute(
                                text("SELECT id FROM outbox WHERE published_at IS NULL FOR UPDATE NOWAIT")
                            )
                            assert len(locked.all()) == 1
                    await asyncio.to_thread(own_kafka.start)
                    await eventually(lambda: _unpublished_is(tally, 0), timeout=60)
            finally:  # before the producer stops: it flushes, and waits for a broker
                if not own_kafka.is_running():
                    await asyncio.to_thread(own_kafka.start)
    finally:
        await tally.close()
