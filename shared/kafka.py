"""Kafka plumbing shared by relay, consumers and tools: producers, topics, headers."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from shared.events.catalog import EVENT_TYPES, dlq_topic


def idempotent_producer(bootstrap: str, *, client_id: str, linger_ms: int = 2) -> AIOKafkaProducer:
    """acks=all and idempotence: a retried send never duplicates or reorders within a partition."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        client_id=client_id,
        enable_idempotence=True,
        acks="all",
        linger_ms=linger_ms,
        max_batch_size=256 * 1024,
        request_timeout_ms=15000,
        retry_backoff_ms=200,
    )


def catalog_topics(prefix: str = "") -> list[str]:
    topics = [prefix + t for t in EVENT_TYPES]
    return topics + [dlq_topic(t) for t in topics]


async def ensure_topics(
    bootstrap: str, prefix: str = "", partitions: int = 6, extra: list[str] | None = None
) -> list[str]:
    """Create every catalog topic and its `.dlq` (idempotent); returns the ones created."""
    return await create_topics(bootstrap, [*catalog_topics(prefix), *(extra or [])], partitions)


async def create_topics(bootstrap: str, names: list[str], partitions: int = 6) -> list[str]:
    """Create the missing ones of `names`; returns them once the broker's metadata shows a leader
    for each of their partitions.

    Without that wait a consumer that subscribes at once may see no partitions for a new topic,
    and it looks again only when its metadata ages (minutes).
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=20000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [t for t in dict.fromkeys(names) if t not in existing]
        if wanted:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(
                    [NewTopic(name=t, num_partitions=partitions, replication_factor=1) for t in wanted]
                )
            await _until_led(admin, wanted, partitions)
        return wanted
    finally:
        await admin.close()


async def _until_led(admin: AIOKafkaAdminClient, topics: list[str], partitions: int, timeout: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        described = await admin.describe_topics(topics)
        if all(_led(t, partitions) for t in described):
            return
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"topics without a partition leader after {timeout:.0f} s")
        await asyncio.sleep(0.1)


def _led(topic: dict[str, Any], partitions: int) -> bool:
    found = topic.get("partitions") or []
    return topic.get("error_code") == 0 and len(found) >= partitions and all(p.get("leader", -1) >= 0 for p in found)


def header(headers: list[tuple[str, bytes]] | tuple[tuple[str, bytes], ...] | None, name: str) -> str | None:
    for key, value in headers or ():
        if key == name:
            return value.decode(errors="replace")
    return None


async def delete_topics(bootstrap: str, prefix: str) -> int:
    """Delete every topic whose name starts with `prefix` (test sessions clean up after themselves)."""
    if not prefix:
        raise ValueError("refusing to delete topics without a prefix")
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=20000)
    await admin.start()
    try:
        doomed = [t for t in await admin.list_topics() if t.startswith(prefix)]
        if doomed:
            await admin.delete_topics(doomed)
        return len(doomed)
    finally:
        await admin.close()
