"""Where a consumer keeps the events it took from Kafka but cannot apply yet (`consumer_waiting`).

An event waits when its handler says a fact it needs is not there (`NotYet`) or meets a passing
failure of its own (a peer away) while the database is fine, and when an earlier event of the same
aggregate (its subject) is waiting or, for an `ordered` consumer, has not been applied yet. The
event is recorded in the inbox when it starts to wait, so its offset is committed and the partition
goes on; only its aggregate waits behind it.

The head of each subject's queue (lowest `sequence`) is retried when due: at once when it was
held for order (and again every barrier tick), with backoff after a failed try. An event that
still cannot be applied at its `deadline` goes to the DLQ. `consumer_positions` keeps the highest
aggregate version each consumer applied per subject, for the ordering.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

NOT_YET = "not_yet"  # the handler could not apply it yet
ORDER = "order"  # held behind an earlier event of its aggregate


@dataclass(frozen=True)
class Waiting:
    id: int
    event_id: UUID
    subject: str
    sequence: int
    topic: str
    partition: int
    kafka_offset: int
    payload: bytes
    traceparent: str | None
    reason: str
    attempts: int
    waiting_since: datetime
    deadline: datetime
    parked_at: datetime  # the database's time (see the migration)
    db_now: datetime  # the database's time when the row was taken


@dataclass(frozen=True)
class NewWaiting:
    event_id: UUID
    subject: str
    sequence: int
    topic: str
    partition: int
    kafka_offset: int
    payload: bytes
    traceparent: str | None
    reason: str
    error: str | None
    retry_in: float  # seconds from now (the database's time) until it is tried
    deadline: datetime


_COLUMNS = (
    "id, event_id, subject, sequence, topic, partition, kafka_offset, payload, traceparent, reason, attempts,"
    " waiting_since, deadline, parked_at, clock_timestamp() AS db_now"
)

_HEAD = f"""
SELECT {_COLUMNS} FROM consumer_waiting w
WHERE w.consumer = :consumer AND w.next_attempt_at <= clock_timestamp()
  AND NOT EXISTS (
      SELECT 1 FROM consumer_waiting e
      WHERE e.consumer = w.consumer AND e.subject = w.subject AND (e.sequence, e.id) < (w.sequence, w.id))
ORDER BY w.next_attempt_at, w.id
LIMIT 1
FOR UPDATE OF w SKIP LOCKED
"""


async def park(session: AsyncSession, consumer: str, row: NewWaiting, now: datetime) -> None:
    await session.execute(
        text(
            "INSERT INTO consumer_waiting (consumer, event_id, subject, sequence, topic, partition, kafka_offset,"
            " payload, traceparent, reason, error, waiting_since, next_attempt_at, deadline)"
            " VALUES (:consumer, :event_id, :subject, :sequence, :topic, :partition, :kafka_offset, :payload,"
            " :traceparent, :reason, :error, :now, clock_timestamp() + make_interval(secs => :retry_in), :deadline)"
            " ON CONFLICT (consumer, event_id) DO NOTHING"
        ),
        {"consumer": consumer, "now": now, **row.__dict__},
    )


async def subjects_waiting(session: AsyncSession, consumer: str, subjects: Iterable[str]) -> set[str]:
    rows = await session.execute(
        text("SELECT DISTINCT subject FROM consumer_waiting WHERE consumer = :c AND subject = ANY(:s)"),
        {"c": consumer, "s": sorted(set(subjects))},
    )
    return set(rows.scalars())


async def database_now(session: AsyncSession) -> datetime:
    """The database's wall time now (never a pinned clock: see `parked_at`)."""
    at: datetime = (await session.execute(text("SELECT clock_timestamp()"))).scalar_one()
    return at


async def positions(session: AsyncSession, consumer: str, subjects: Iterable[str]) -> dict[str, int]:
    rows = await session.execute(
        text("SELECT subject, sequence FROM consumer_positions WHERE consumer = :c AND subject = ANY(:s)"),
        {"c": consumer, "s": sorted(set(subjects))},
    )
    return {r.subject: r.sequence for r in rows}


async def advance(session: AsyncSession, consumer: str, applied: dict[str, int], now: datetime) -> None:
    """Each subject's position moves up to the version applied (never down)."""
    if not applied:
        return
    await session.execute(
        text(
            "INSERT INTO consumer_positions (consumer, subject, sequence, updated_at)"
            " SELECT :c, * FROM unnest(CAST(:s AS text[]), CAST(:q AS bigint[])), CAST(:now AS timestamptz)"
            " ON CONFLICT (consumer, subject) DO UPDATE SET"
            " sequence = greatest(consumer_positions.sequence, EXCLUDED.sequence), updated_at = EXCLUDED.updated_at"
        ),
        {"c": consumer, "s": list(applied), "q": list(applied.values()), "now": now},
    )


async def next_head(session: AsyncSession, consumer: str) -> Waiting | None:
    """The due head of some subject's queue, locked for this transaction (others skip it)."""
    row = (await session.execute(text(_HEAD), {"consumer": consumer})).first()
    if row is None:
        return None
    return Waiting(**{k: v for k, v in row._mapping.items() if k != "payload"}, payload=bytes(row.payload))


async def remove(session: AsyncSession, row_id: int) -> None:
    await session.execute(text("DELETE FROM consumer_waiting WHERE id = :id"), {"id": row_id})


async def forget(session: AsyncSession, consumer: str, event_id: UUID) -> None:
    """The event leaves the inbox too: it was never applied, so a DLQ replay must apply it."""
    await session.execute(
        text("DELETE FROM inbox WHERE consumer = :c AND event_id = :e"), {"c": consumer, "e": event_id}
    )


async def wake_subject(session: AsyncSession, consumer: str, subject: str) -> None:
    """The events held behind one that was just applied are due now (their turn may have come)."""
    await session.execute(
        text(
            "UPDATE consumer_waiting SET next_attempt_at = clock_timestamp()"
            " WHERE consumer = :c AND subject = :s AND reason = 'order' AND next_attempt_at > clock_timestamp()"
        ),
        {"c": consumer, "s": subject},
    )


async def postpone(
    session: AsyncSession, row_id: int, *, seconds: float, reason: str, error: str | None, tried: bool
) -> None:
    """Due again `seconds` from now, by the database's time (retries must not wait on a pinned clock)."""
    await session.execute(
        text(
            "UPDATE consumer_waiting SET next_attempt_at = clock_timestamp() + make_interval(secs => :seconds),"
            " reason = :reason, error = coalesce(:error, error), attempts = attempts + :tried WHERE id = :id"
        ),
        {"id": row_id, "seconds": seconds, "reason": reason, "error": error, "tried": int(tried)},
    )


async def backlog(session: AsyncSession, consumer: str) -> tuple[int, datetime | None]:
    """How many events wait for this consumer, and since when the oldest waits."""
    row = (
        await session.execute(
            text("SELECT count(*) AS n, min(waiting_since) AS oldest FROM consumer_waiting WHERE consumer = :c"),
            {"c": consumer},
        )
    ).one()
    return int(row.n), row.oldest


def describe(row: Waiting) -> dict[str, Any]:
    """What a log line may say about a waiting event (ids and places, no data)."""
    return {"event_id": str(row.event_id), "topic": row.topic, "reason": row.reason, "attempts": row.attempts}
