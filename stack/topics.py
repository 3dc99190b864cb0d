"""Every topic of the event catalog and its `.dlq`, created idempotently once Kafka is ready.

Prefers `shared.kafka.ensure_topics` (the platform's own); falls back to a small version here
that reads `shared.events.catalog.EVENT_TYPES`, so the stack works before or without it.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

from stack import say
from stack.kafka import run_sync

TOPIC_ALREADY_EXISTS = 36


def catalog_event_types() -> tuple[str, ...] | None:
    try:
        from shared.events import catalog
    except Exception as exc:  # missing, or mid-edit by its author
        say(f"no event catalog importable (shared.events.catalog: {exc}); no topics created")
        return None
    return tuple(catalog.EVENT_TYPES)


def ensure_topics(bootstrap: str, prefix: str = "", partitions: int = 6) -> None:
    """Create each catalog topic and its `.dlq` unless it exists."""
    shared_ensure: Any = None
    try:
        import shared.kafka

        shared_ensure = getattr(shared.kafka, "ensure_topics", None)
    except Exception:  # not written yet, or mid-edit: use the fallback below
        shared_ensure = None
    if shared_ensure is not None:
        result = shared_ensure(bootstrap, prefix=prefix, partitions=partitions)
        if inspect.isawaitable(result):
            awaitable = result

            async def finish() -> Any:
                return await awaitable

            result = run_sync(finish)
        note = f", {len(result)} created now" if isinstance(result, list) else ""
        say(f"topics ensured by shared.kafka.ensure_topics ({partitions} partitions each{note})")
        return
    types = catalog_event_types()
    if types is None:
        return
    names = [prefix + t for t in types] + [prefix + t + ".dlq" for t in types]
    created = run_sync(lambda: create_topics(bootstrap, names, partitions))
    say(f"topics: {len(names)} in the catalog (with .dlq), {len(created)} created now")


async def create_topics(bootstrap: str, names: Sequence[str], partitions: int = 6) -> list[str]:
    """Create the missing ones of `names`; returns those created. Races with others are fine."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=30000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [name for name in dict.fromkeys(names) if name not in existing]
        if not missing:
            return []
        response = await admin.create_topics(
            [NewTopic(name, num_partitions=partitions, replication_factor=1) for name in missing]
        )
        created: list[str] = []
        failures: list[str] = []
        for topic, code, *rest in response.topic_errors:
            if code == 0:
                created.append(topic)
            elif code != TOPIC_ALREADY_EXISTS:
                failures.append(f"{topic}: error {code} {rest[0] if rest else ''}")
        if failures:
            raise RuntimeError("could not create topics: " + "; ".join(failures))
        return created
    finally:
        await admin.close()
