"""Servers going away under load: nothing is lost, nothing is applied twice.

These tests stop and start servers, so they use servers of their own. Outage lengths are
settings (`WK_TEST_OUTAGE_SECONDS`), seconds here.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord
from aiokafka.structs import TopicPartition

from shared.consumer import ConsumerRunner, is_transient
from tests.shared.tally import Tally, producer, running
from tests.support import Infra, eventually

OUTAGE = float(os.environ.get("WK_TEST_OUTAGE_SECONDS", "3"))
pytestmark = pytest.mark.slow


async def exactly_once(tally: Tally, expected: Sequence[object], timeout: float = 60) -> None:
    async def all_handled() -> bool:
        # every count is on the wire (marked only once Kafka acknowledged it), and the consumer
        # committed past every record there, republished ones included: no effect is still to come
        return await tally.unpublished() == 0 and await tally.caught_up()

    await eventually(all_handled, timeout, interval=0.25)
    effects = await tally.effects()
    assert len({e.event_id for e in effects}) == len(effects), "an event was applied twice"
    assert sorted(str(e.tally_id) for e in effects) == sorted(str(t) for t in expected), "an event was lost"


async def test_kafka_broker_stopped_and_restarted_mid_stream_loses_no_event(infra: Infra, own_kafka: object) -> None:
    from stack.kafka import KafkaBroker

    assert isinstance(own_kafka, KafkaBroker)
    tally = Tally(infra.database_url, own_kafka.bootstrap)
    await tally.setup()
    counted: list[object] = []

    async def steady_reports(n: int, every: float) -> None:
        for _ in range(n):
            counted.append(await tally.count())
            await asyncio.sleep(every)

    try:
        async with producer(own_kafka.bootstrap) as p, running(tally.relay(p), tally.consumer(p)):
            load = asyncio.create_task(steady_reports(150, 0.04))
            await eventually(lambda: _applied(tally, 10), 30)  # the stream flows end to end
            await asyncio.to_thread(own_kafka.stop)
            await asyncio.sleep(OUTAGE)  # the outage's length (a setting), not a wait for anything
            await asyncio.to_thread(own_kafka.start)
            await load
            await exactly_once(tally, counted, timeout=90)
            assert await tally.unpublished() == 0
    finally:
        await tally.close()


async def test_postgresql_stopped_under_a_consumer_is_retried_without_committing_and_resumes(
    infra: Infra, own_pg: object
) -> None:
    from stack.pg import PgServer

    assert isinstance(own_pg, PgServer)
    tally = Tally(infra.database_url, infra.kafka, consumer_database_url=own_pg.admin_url)
    await tally.setup()
    try:
        async with producer(infra.kafka) as p, running(tally.relay(p)):
            first = [await tally.count() for _ in range(20)]
            consumer = tally.consumer(p, Watched)
            assert isinstance(consumer, Watched)
            async with running(consumer):
                await exactly_once(tally, first)
                await asyncio.to_thread(own_pg.stop)
                during = [await tally.count() for _ in range(20)]
                # barrier: the consumer has read records written during the outage and failed on them
                await eventually(lambda: _failed_twice(consumer), 30)
                await asyncio.sleep(OUTAGE)  # the outage's length (a setting), not a wait for anything
                assert await committed_offsets(infra.kafka, consumer.group_id, tally.topic) == 20, (
                    "offsets must not move while the database is away"
                )
                await asyncio.to_thread(own_pg.start)
                await exactly_once(tally, first + during)
                await eventually(lambda: _committed(infra.kafka, consumer.group_id, tally.topic, 40))
    finally:
        await tally.close()


class Watched(ConsumerRunner):
    """Notes the offsets of the batches it failed to handle for an outage (retried, nothing committed)."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.failed_at: list[tuple[int, int]] = []  # (partition, last offset) per failed try

    async def handle_batch(self, records: list[ConsumerRecord[bytes, bytes]]) -> None:
        try:
            await super().handle_batch(records)
        except Exception as exc:
            if is_transient(exc):
                self.failed_at.append((records[-1].partition, records[-1].offset))
            raise


async def _failed_twice(consumer: Watched) -> bool:
    """A batch was tried and failed, and tried again (all before the outage were committed)."""
    return len(consumer.failed_at) >= 2


async def _applied(tally: Tally, count: int) -> bool:
    return len(await tally.effects()) >= count


async def _committed(bootstrap: str, group: str, topic: str, expected: int) -> bool:
    return await committed_offsets(bootstrap, group, topic) == expected


async def committed_offsets(bootstrap: str, group: str, topic: str) -> int:
    """Sum of the group's committed offsets over the topic's partitions."""
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await reader.start()
    try:
        partitions = reader.partitions_for_topic(topic) or set()
        if not partitions:
            await reader._client.force_metadata_update()
            partitions = reader.partitions_for_topic(topic) or set()
        total = 0
        for partition in partitions:
            total += await reader.committed(TopicPartition(topic, partition)) or 0
        return total
    finally:
        await reader.stop()
