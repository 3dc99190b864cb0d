"""Several relay replicas on one outbox: one is active, and each aggregate's events keep their order."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict

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

                async def writer(aggregate: uuid.UUID) -> None:
                    for _ in range(25):
                        await tally.count(aggregate)

                await asyncio.gather(*(writer(a) for a in aggregates))
                await eventually(lambda: _drained(tally), timeout=30)
                assert sum((first.is_leader, second.is_leader)) == 1
                leader = first if first.is_leader else second
            # the active one leaves; the standby takes over
            async with running(first if leader is second else second) as _:
                await tally.count(aggregates[0])
                await eventually(lambda: _drained(tally), timeout=30)
        by_key: dict[str, list[int]] = defaultdict(list)
        for record in await tally.records():
            envelope, _ = parse(record.value)
            by_key[envelope.subject].append(int(envelope.sequence))
        assert set(by_key) == {str(a) for a in aggregates}
        for key, sequences in by_key.items():
            expected = list(range(1, 27 if key == str(aggregates[0]) else 26))
            assert sequences == expected, f"aggregate {key} out of order"
    finally:
        await tally.close()


async def _drained(tally: Tally) -> bool:
    return await tally.unpublished() == 0
