"""The live feed behind `signalEvents`: the gateway's own Kafka consumer, fanned out to subscribers.

No consumer group and no offset commits: a subscription sees what happens while it is open,
from the end of each partition. Every replica reads every partition (its subscribers may be
anywhere). Each subscriber has a bounded queue; one that does not keep up loses the oldest
notices rather than slowing the others. Every notice costs one upstream read per subscription, so
one caller (a token's subject) holds at most `max_subscriptions_per_caller` subscriptions at a time
on a replica, however many connections it opens.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer

from gateway.settings import Settings
from shared.errors import RateLimited
from shared.events.catalog import EVENT_TYPES
from shared.events.envelope import parse
from shared.observability import get_logger

log = get_logger("gateway.feed")
SIGNAL_EVENT_TYPES: tuple[str, ...] = tuple(t for t in EVENT_TYPES if t.startswith("signal."))


@dataclass(frozen=True)
class SignalNotice:
    """What the feed knows of an event: enough to filter; the signal itself is fetched per subscriber."""

    event_type: str
    signal_id: str
    municipality: str
    area: str


class SignalFeed:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.ready = asyncio.Event()
        self._subscribers: set[asyncio.Queue[SignalNotice]] = set()
        self._per_caller: Counter[str] = Counter()

    def admits(self, caller: str) -> bool:
        return self._per_caller[caller] < self.settings.max_subscriptions_per_caller

    @contextlib.asynccontextmanager
    async def subscribe(self, caller: str) -> AsyncIterator[asyncio.Queue[SignalNotice]]:
        """A queue of notices for `caller` (a subject); RateLimited past its share of subscriptions."""
        if not self.admits(caller):
            raise RateLimited(f"At most {self.settings.max_subscriptions_per_caller} subscriptions at a time")
        queue: asyncio.Queue[SignalNotice] = asyncio.Queue(maxsize=self.settings.subscription_queue_size)
        self._per_caller[caller] += 1
        self._subscribers.add(queue)
        try:
            yield queue
        finally:
            self._subscribers.discard(queue)
            self._per_caller[caller] -= 1
            if self._per_caller[caller] <= 0:
                del self._per_caller[caller]

    def publish(self, notice: SignalNotice) -> None:
        for queue in list(self._subscribers):
            if queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
            queue.put_nowait(notice)

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until `stop`; a broker outage is retried with backoff."""
        delay = self.settings.retry_initial_seconds
        while not stop.is_set():
            try:
                await self._consume(stop)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.ready.clear()
                log.warning("feed_interrupted", error=type(exc).__name__, retry_seconds=delay)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=delay)
                delay = min(delay * 2, self.settings.retry_max_seconds)

    async def _consume(self, stop: asyncio.Event) -> None:
        topics = [self.settings.topic(t) for t in SIGNAL_EVENT_TYPES]
        consumer = AIOKafkaConsumer(
            *topics,
            bootstrap_servers=self.settings.kafka_bootstrap_servers,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="latest",
            client_id="gateway-feed",
        )
        await consumer.start()
        try:
            await self._wait_for_assignment(consumer, stop)
            self.ready.set()
            log.info("feed_started", partitions=len(consumer.assignment()))
            while not stop.is_set():
                batch = await consumer.getmany(timeout_ms=200, max_records=500)
                for records in batch.values():
                    for record in records:
                        notice = _notice(record.value)
                        if notice is not None:
                            self.publish(notice)
        finally:
            self.ready.clear()
            await consumer.stop()

    @staticmethod
    async def _wait_for_assignment(consumer: AIOKafkaConsumer, stop: asyncio.Event) -> None:
        while not consumer.assignment() and not stop.is_set():
            await consumer.getmany(timeout_ms=100)
        for partition in consumer.assignment():
            await consumer.position(partition)  # resolves "latest" now, so nothing after this point is missed


def _notice(raw: bytes | None) -> SignalNotice | None:
    if raw is None:
        return None
    try:
        envelope, data = parse(raw)
    except ValueError:
        return None
    signal_id = getattr(data, "signal_id", None)
    area = getattr(data, "area", None)
    if signal_id is None or area is None:
        return None
    return SignalNotice(envelope.event_type, str(signal_id), envelope.municipality, str(area))
