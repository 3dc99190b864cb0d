"""What the senders work from: due deliveries leased in order, attempts recorded in batches.

A lease rather than a long transaction: a sender that dies mid-send leaves its rows to be
taken again when the lease ends (same webhook-id: at-least-once, as the contract says). Only
the earliest open delivery per order key (subject, target, channel) is ever due.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifications.domain import Attempt, Delivery
from services.notifications.store.deliveries import DELIVERY_COLUMNS, delivery_from_row
from shared.db import UnitOfWork


def wake_channel(schema: str) -> str:
    return f"wk_deliveries_{schema}"


async def notify_workers(session: AsyncSession, schema: str) -> None:
    """Delivered on commit: the senders of every replica wake up."""
    await session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": wake_channel(schema)})


_CLAIM = f"""
WITH due AS (
    SELECT d.id FROM deliveries d
    WHERE d.status IN ('pending', 'retrying') AND d.next_attempt_at <= :now
      AND (d.claimed_until IS NULL OR d.claimed_until < :now)
      {{only}}
      AND NOT EXISTS (
          SELECT 1 FROM deliveries e
          WHERE e.order_key = d.order_key AND (e.sequence, e.seq) < (d.sequence, d.seq)
            AND e.status IN ('pending', 'retrying'))
    ORDER BY d.next_attempt_at, d.seq
    LIMIT :limit
    FOR UPDATE OF d SKIP LOCKED
)
UPDATE deliveries SET claimed_until = CAST(:now AS timestamptz) + make_interval(secs => :lease), claim_token = :token
FROM due WHERE deliveries.id = due.id
RETURNING {", ".join("deliveries." + c.strip() for c in DELIVERY_COLUMNS.split(","))}
"""


async def claim_due(
    session: AsyncSession, limit: int, lease_seconds: float, now: datetime, only: UUID | None = None
) -> list[Delivery]:
    """Lease due deliveries, only the earliest open one per order key (so order is kept)."""
    sql = _CLAIM.format(only="AND d.id = :only" if only is not None else "")
    params: dict[str, Any] = {"limit": limit, "lease": lease_seconds, "token": uuid4(), "now": now}
    if only is not None:
        params["only"] = only
    rows = await session.execute(text(sql), params)
    return sorted((delivery_from_row(r) for r in rows), key=lambda d: d.seq)


async def next_due_in(session: AsyncSession, now: datetime) -> float | None:
    """Seconds until the next sendable delivery is due (or its lease ends), None if there is none."""
    row = (
        await session.execute(
            text(
                "SELECT EXTRACT(EPOCH FROM (min(GREATEST(d.next_attempt_at,"
                " COALESCE(d.claimed_until, d.next_attempt_at))) - CAST(:now AS timestamptz))) AS wait"
                " FROM deliveries d WHERE d.status IN ('pending', 'retrying')"
                " AND NOT EXISTS (SELECT 1 FROM deliveries e WHERE e.order_key = d.order_key"
                " AND (e.sequence, e.seq) < (d.sequence, d.seq)"
                " AND e.status IN ('pending', 'retrying'))"
            ),
            {"now": now},
        )
    ).first()
    if row is None or row.wait is None:
        return None
    return max(float(row.wait), 0.0)


_RECORD = """
UPDATE deliveries d SET status = v.status, attempts = d.attempts + 1, round_attempts = d.round_attempts + 1,
    last_attempt_at = v.at, next_attempt_at = v.next_at, last_error = v.error,
    claimed_until = NULL, claim_token = NULL
FROM unnest(CAST(:ids AS uuid[]), CAST(:tokens AS uuid[]), CAST(:statuses AS text[]),
            CAST(:ats AS timestamptz[]), CAST(:nexts AS timestamptz[]), CAST(:errors AS text[]))
     AS v(id, token, status, at, next_at, error)
WHERE d.id = v.id AND d.claim_token = v.token
RETURNING d.id
"""
_ATTEMPTS = """
INSERT INTO attempts (delivery_id, at, status_code, error, duration_ms, outcome)
SELECT * FROM unnest(CAST(:ids AS uuid[]), CAST(:ats AS timestamptz[]), CAST(:codes AS integer[]),
                     CAST(:errors AS text[]), CAST(:ms AS double precision[]), CAST(:outcomes AS text[]))
"""


async def record_attempts(
    uow: UnitOfWork, attempted: Sequence[tuple[Delivery, Attempt]], *, with_recipients: set[UUID]
) -> set[UUID]:
    """Store a batch of attempts and the deliveries' new states in three statements.

    Returns the deliveries whose lease this sender still held, tracked by the unit of work (their
    events go out with the commit); the others were taken over by another sender after the lease
    ran out, and their attempt here is neither recorded nor announced.
    """
    if not attempted:
        return set()
    session = uow.session
    rows = await session.execute(
        text(_RECORD),
        {
            "ids": [d.id for d, _ in attempted],
            "tokens": [d.claim_token for d, _ in attempted],
            "statuses": [str(d.status) for d, _ in attempted],
            "ats": [a.at for _, a in attempted],
            "nexts": [d.next_attempt_at for d, _ in attempted],
            "errors": [d.last_error for d, _ in attempted],
        },
    )
    kept = {row.id for row in rows}
    mine = [(d, a) for d, a in attempted if d.id in kept]
    if not mine:
        return kept
    await session.execute(
        text(_ATTEMPTS),
        {
            "ids": [d.id for d, _ in mine],
            "ats": [a.at for _, a in mine],
            "codes": [a.status_code for _, a in mine],
            "errors": [a.error for _, a in mine],
            "ms": [a.duration_ms for _, a in mine],
            "outcomes": [a.outcome for _, a in mine],
        },
    )
    for delivery, _ in mine:
        uow.track(delivery)
        if delivery.id in with_recipients:
            await session.execute(
                text("UPDATE deliveries SET done_recipients = :done WHERE id = :id"),
                {"id": delivery.id, "done": list(delivery.done_recipients)},
            )
    return kept


async def record_recipient(session: AsyncSession, delivery_id: UUID, reporter: str) -> None:
    """One reporter mailed in this delivery, kept at once (not only with the attempt's record)."""
    await session.execute(
        text(
            "UPDATE deliveries SET done_recipients = array_append(done_recipients, :reporter)"
            " WHERE id = :id AND NOT (:reporter = ANY(done_recipients))"
        ),
        {"id": delivery_id, "reporter": reporter},
    )
