"""Retention of the messaging tables every schema has: outbox, inbox and idempotency keys.

`ServiceRuntime` registers `purge` as the periodic task `messaging-retention` of every service,
every `messaging_retention_interval_seconds`; the lengths are settings (`<PREFIX>_OUTBOX_RETENTION_DAYS`
and so on, 0 keeps rows for ever). Cut-offs come from the service's clock; the rows' times are
written by the database's `now()`, which the system clock agrees with.

- **Outbox**: published rows only, by `published_at`. An unpublished row (`published_at IS NULL`)
  is never deleted, nor a parked one: parking leaves a row unpublished. Once published, a row is
  history: 7 days to look into what was sent.
- **Inbox**, by `processed_at`. An inbox row is what makes a redelivery a no-op, so it must
  outlive every redelivery of its event. Topics keep records 14 days (`retention.ms` 1209600000,
  deploy/k8s/topics.py), and Kafka drops a segment only once its newest record is that old, so a
  record can live up to `segment.ms` (7 days, the broker default) longer: 21 days. `python -m
  shared.dlq replay` sends a dead letter back to its original topic, where every group sees it
  again; dead-letter topics keep 30 days (`retention.ms` 2592000000), 37 with the segment.
  The default, 45 days, outlives both; an inbox shorter than the topics' retention would let a
  late redelivery (a group reset to earliest, a replay) apply twice.
- **Idempotency keys**, by `created_at`: clients retry a POST within minutes or hours; after 2
  days the same key creates anew.
- **Consumer positions** (the last version an `ordered` consumer applied per aggregate), by
  `updated_at`, as long as the inbox. A later event of an aggregate forgotten so is held until the
  consumer's barrier passes (seconds), then applied. `consumer_waiting` rows are never swept: each
  leaves when applied or dead-lettered at its deadline.

Each sweep deletes in bounded batches of `messaging_retention_batch_size`, one transaction each,
until a batch comes back short. Replicas run it side by side: `FOR UPDATE SKIP LOCKED` gives each
a disjoint batch, and a delete by a time cut-off is idempotent anyway.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from prometheus_client import Counter
from sqlalchemy import CursorResult, text

from shared.clock import Clock
from shared.db import UnitOfWork
from shared.observability import get_logger
from shared.settings import ServiceSettings

log = get_logger(__name__)

rows_deleted = Counter(
    "wijkaanpak_retention_deleted_total", "Messaging rows deleted by retention", ["service", "table"]
)

Run = Callable[..., Awaitable[Any]]
"""`ServiceRuntime.run`: `run(task, *args)` awaits `task(uow, clock, *args)` in a unit of work."""


@dataclass(frozen=True)
class Sweep:
    """Delete rows of `table` whose `column` is older than `days` (and that match `only`)."""

    table: str
    column: str
    days: float
    only: str = ""

    def statement(self) -> str:
        only = f" AND {self.only}" if self.only else ""
        return (
            f"DELETE FROM {self.table} WHERE ctid = ANY(ARRAY("
            f"SELECT ctid FROM {self.table} WHERE {self.column} < :cutoff{only}"
            " LIMIT :limit FOR UPDATE SKIP LOCKED))"
        )


def sweeps(settings: ServiceSettings) -> list[Sweep]:
    """The sweeps these settings ask for (a length of 0 days keeps that table's rows for ever)."""
    all_sweeps = [
        Sweep("outbox", "published_at", settings.outbox_retention_days, only="published_at IS NOT NULL"),
        Sweep("inbox", "processed_at", settings.inbox_retention_days),
        Sweep("idempotency_keys", "created_at", settings.idempotency_retention_days),
        # an aggregate quiet for as long as the inbox keeps rows: a later event of it is first seen again
        Sweep("consumer_positions", "updated_at", settings.inbox_retention_days),
    ]
    return [s for s in all_sweeps if s.days > 0]


async def delete_batch(uow: UnitOfWork, clock: Clock, sweep: Sweep, cutoff: datetime, limit: int) -> int:
    """One bounded delete, committed; how many rows it deleted."""
    result = await uow.session.execute(text(sweep.statement()), {"cutoff": cutoff, "limit": limit})
    await uow.commit()
    return cast(CursorResult[Any], result).rowcount


async def purge(
    run: Run,
    clock: Clock,
    plan: list[Sweep],
    *,
    batch_size: int,
    service: str = "service",
    stop: asyncio.Event | None = None,
) -> dict[str, int]:
    """Run each sweep in batches until a batch comes back short; rows deleted per table.

    The cut-offs are taken once, so a sweep ends even while new rows age past them. A set `stop`
    ends the purge between batches (the next tick goes on where it left off).
    """
    now = clock.now()
    deleted: dict[str, int] = {}
    for sweep in plan:
        cutoff = now - timedelta(days=sweep.days)
        total = 0
        while stop is None or not stop.is_set():
            count: int = await run(delete_batch, sweep, cutoff, batch_size)
            total += count
            if count < batch_size:
                break
        deleted[sweep.table] = total
        if total:
            rows_deleted.labels(service, sweep.table).inc(total)
            log.info("retention_deleted", service=service, table=sweep.table, rows=total, before=cutoff.isoformat())
    return deleted
