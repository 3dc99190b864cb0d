"""Every topic of the event catalog and its `.dlq`, created idempotently once Kafka is ready.

Prefers `shared.kafka.ensure_topics` (the platform's own); falls back to a small version here
that reads `shared.events.catalog.EVENT_TYPES`, so the stack works before or without it.
"""

from __future__ import annotations

import inspect
import re
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


# tests/conftest.py gives every pytest session a database `wk_test_<run id>` and a topic prefix
# `<run id>.` (run id `t` + 8 hex digits), and drops the database at the end. Topics whose
# session's database is gone belong to a finished (or crashed) session: on the long-lived local
# broker they would pile up (thousands of partitions: heap, open files) if nobody removed them.
TEST_PREFIX = re.compile(r"^(t[0-9a-f]{8})\.")


def finished_test_topics(topics: Sequence[str], live_databases: set[str]) -> list[str]:
    """The topics of test sessions whose database `wk_test_<run id>` no longer exists."""
    stale = []
    for topic in topics:
        match = TEST_PREFIX.match(topic)
        if match and f"wk_test_{match.group(1)}" not in live_databases:
            stale.append(topic)
    return stale


async def delete_topics(bootstrap: str, names: Sequence[str], batch: int = 200) -> int:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=60000)
    await admin.start()
    try:
        for start in range(0, len(names), batch):
            await admin.delete_topics(list(names[start : start + batch]))
    finally:
        await admin.close()
    return len(names)


async def list_topics(bootstrap: str) -> list[str]:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=30000)
    await admin.start()
    try:
        return sorted(await admin.list_topics())
    finally:
        await admin.close()


def prune_finished_test_topics(bootstrap: str, live_databases: set[str]) -> int:
    topics = run_sync(lambda: list_topics(bootstrap))
    stale = finished_test_topics(topics, live_databases)
    if stale:
        sessions = len({t.split(".", 1)[0] for t in stale})
        say(f"deleting {len(stale)} topics of {sessions} finished test sessions")
        run_sync(lambda: delete_topics(bootstrap, stale))
    return len(stale)
