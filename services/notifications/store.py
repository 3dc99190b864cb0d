"""Tables of the notifications schema (see migrations/) and the queries on them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifications.domain import Channel, PartnerChannels, Status, Target
from shared.events.codes import PartnerKind

_DELIVERY_COLUMNS = (
    "id, seq, event_id, event_type, target, channel, partner_id, subject, municipality, data, body, status,"
    " attempts, round_attempts, last_attempt_at, next_attempt_at, last_error, claim_token, done_recipients, created_at"
)


@dataclass(frozen=True)
class Delivery:
    id: UUID
    seq: int
    event_id: UUID
    event_type: str
    target: str
    channel: Channel
    partner_id: UUID | None
    subject: str
    municipality: str
    data: dict[str, Any]
    body: str
    status: Status
    attempts: int
    round_attempts: int
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None
    last_error: str | None
    claim_token: UUID | None
    done_recipients: list[str]
    created_at: datetime

    @classmethod
    def from_row(cls, row: Any) -> Delivery:
        m = row._mapping
        data = m["data"]
        return cls(
            id=m["id"],
            seq=m["seq"],
            event_id=m["event_id"],
            event_type=m["event_type"],
            target=m["target"],
            channel=Channel(m["channel"]),
            partner_id=m["partner_id"],
            subject=m["subject"],
            municipality=m["municipality"],
            data=orjson.loads(data) if isinstance(data, str) else dict(data),
            body=m["body"],
            status=Status(m["status"]),
            attempts=m["attempts"],
            round_attempts=m["round_attempts"],
            last_attempt_at=m["last_attempt_at"],
            next_attempt_at=m["next_attempt_at"],
            last_error=m["last_error"],
            claim_token=m["claim_token"],
            done_recipients=list(m["done_recipients"] or []),
            created_at=m["created_at"],
        )


@dataclass(frozen=True)
class Attempt:
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: float
    outcome: str


def wake_channel(schema: str) -> str:
    return f"wk_deliveries_{schema}"


# --- channels (partner read model) ---------------------------------------------------------------


def _channels(row: Any) -> PartnerChannels:
    m = row._mapping
    return PartnerChannels(
        partner_id=m["partner_id"],
        kind=PartnerKind(m["kind"]),
        municipalities=tuple(m["municipalities"]),
        areas=tuple(m["areas"]),
        active=m["active"],
        webhook_url=m["webhook_url"],
        email=m["email"],
        webhook_disabled=m["webhook_disabled"],
    )


async def channels_of(session: AsyncSession, partner_id: UUID) -> PartnerChannels | None:
    row = (await session.execute(text("SELECT * FROM channels WHERE partner_id = :id"), {"id": partner_id})).first()
    return _channels(row) if row is not None else None


async def channels_for_update(session: AsyncSession, partner_id: UUID) -> tuple[PartnerChannels, int] | None:
    row = (
        await session.execute(text("SELECT * FROM channels WHERE partner_id = :id FOR UPDATE"), {"id": partner_id})
    ).first()
    return (_channels(row), int(row.version)) if row is not None else None


async def save_channels(session: AsyncSession, partner: PartnerChannels, version: int) -> None:
    await session.execute(
        text(
            "INSERT INTO channels (partner_id, kind, municipalities, areas, active, webhook_url, email,"
            " webhook_disabled, version, updated_at)"
            " VALUES (:id, :kind, :municipalities, :areas, :active, :webhook_url, :email, :disabled, :version, now())"
            " ON CONFLICT (partner_id) DO UPDATE SET kind = EXCLUDED.kind, municipalities = EXCLUDED.municipalities,"
            " areas = EXCLUDED.areas, active = EXCLUDED.active, webhook_url = EXCLUDED.webhook_url,"
            " email = EXCLUDED.email, webhook_disabled = EXCLUDED.webhook_disabled, version = EXCLUDED.version,"
            " updated_at = now() WHERE channels.version < EXCLUDED.version"
        ),
        {
            "id": partner.partner_id,
            "kind": str(partner.kind),
            "municipalities": list(partner.municipalities),
            "areas": list(partner.areas),
            "active": partner.active,
            "webhook_url": partner.webhook_url,
            "email": partner.email,
            "disabled": partner.webhook_disabled,
            "version": version,
        },
    )


async def disable_webhook(session: AsyncSession, partner_id: UUID) -> None:
    await session.execute(
        text("UPDATE channels SET webhook_disabled = true WHERE partner_id = :id"), {"id": partner_id}
    )


async def enable_webhook(session: AsyncSession, partner_id: UUID) -> None:
    await session.execute(
        text("UPDATE channels SET webhook_disabled = false WHERE partner_id = :id"), {"id": partner_id}
    )


async def candidates(session: AsyncSession, partner_ids: Sequence[UUID], municipality: str) -> list[PartnerChannels]:
    """The partners named, and the municipality's own and group partners (who may be in the audience)."""
    rows = await session.execute(
        text(
            "SELECT * FROM channels WHERE partner_id = ANY(:ids)"
            " OR (:municipality = ANY(municipalities) AND kind = ANY(:kinds))"
        ),
        {
            "ids": list(partner_ids),
            "municipality": municipality,
            "kinds": [str(PartnerKind.MUNICIPALITY), str(PartnerKind.RESIDENT_GROUP), str(PartnerKind.WHATSAPP_GROUP)],
        },
    )
    return [_channels(r) for r in rows]


# --- deliveries ----------------------------------------------------------------------------------


async def add_deliveries(
    session: AsyncSession,
    *,
    event_id: UUID,
    event_type: str,
    subject: str,
    municipality: str,
    data: dict[str, Any],
    body: str,
    targets: Sequence[Target],
    now: datetime,
    sequence: int = 0,
) -> list[UUID]:
    """One row per (event, target, channel); an existing one is kept (a replay notifies nobody)."""
    created: list[UUID] = []
    for t in targets:
        row = (
            await session.execute(
                text(
                    "INSERT INTO deliveries (id, event_id, event_type, target, channel, partner_id, subject,"
                    " municipality, order_key, sequence, data, body, status, next_attempt_at)"
                    " VALUES (:id, :event_id, :event_type, :target, :channel, :partner_id, :subject, :municipality,"
                    " :order_key, :sequence, CAST(:data AS jsonb), :body, 'pending', :now)"
                    " ON CONFLICT (event_id, target, channel) DO NOTHING RETURNING id"
                ),
                {
                    "id": uuid4(),
                    "event_id": event_id,
                    "event_type": event_type,
                    "target": t.target,
                    "channel": str(t.channel),
                    "partner_id": t.partner_id,
                    "subject": subject,
                    "municipality": municipality,
                    "order_key": f"{subject}|{t.target}|{t.channel}",
                    "sequence": sequence,
                    "data": orjson.dumps(data).decode(),
                    "body": body,
                    "now": now,
                },
            )
        ).first()
        if row is not None:
            created.append(row.id)
    return created


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
RETURNING {", ".join("deliveries." + c.strip() for c in _DELIVERY_COLUMNS.split(","))}
"""


async def claim_due(
    session: AsyncSession, limit: int, lease_seconds: float, now: datetime, only: UUID | None = None
) -> list[Delivery]:
    """Lease due deliveries, only the earliest open one per order key (so order is kept).

    A lease rather than a long transaction: a sender that dies mid-send leaves its rows to be
    taken again when the lease ends (same webhook-id: at-least-once, as the contract says).
    """
    sql = _CLAIM.format(only="AND d.id = :only" if only is not None else "")
    params: dict[str, Any] = {"limit": limit, "lease": lease_seconds, "token": uuid4(), "now": now}
    if only is not None:
        params["only"] = only
    rows = await session.execute(text(sql), params)
    return sorted((Delivery.from_row(r) for r in rows), key=lambda d: d.seq)


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


@dataclass(frozen=True)
class AttemptRecord:
    """One finished attempt and the delivery's state after it."""

    delivery_id: UUID
    claim_token: UUID | None
    attempt: Attempt
    status: Status
    next_attempt_at: datetime | None
    last_error: str | None
    done_recipients: Sequence[str] | None = None


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


async def record_attempts(session: AsyncSession, records: Sequence[AttemptRecord]) -> set[UUID]:
    """Store a batch of attempts and the deliveries' new states in three statements.

    Returns the deliveries whose lease this sender still held; the others were taken over by
    another sender after the lease ran out, and their attempt here is not recorded.
    """
    if not records:
        return set()
    rows = await session.execute(
        text(_RECORD),
        {
            "ids": [r.delivery_id for r in records],
            "tokens": [r.claim_token for r in records],
            "statuses": [str(r.status) for r in records],
            "ats": [r.attempt.at for r in records],
            "nexts": [r.next_attempt_at for r in records],
            "errors": [r.last_error for r in records],
        },
    )
    kept = {row.id for row in rows}
    mine = [r for r in records if r.delivery_id in kept]
    if not mine:
        return kept
    await session.execute(
        text(_ATTEMPTS),
        {
            "ids": [r.delivery_id for r in mine],
            "ats": [r.attempt.at for r in mine],
            "codes": [r.attempt.status_code for r in mine],
            "errors": [r.attempt.error for r in mine],
            "ms": [r.attempt.duration_ms for r in mine],
            "outcomes": [r.attempt.outcome for r in mine],
        },
    )
    for r in mine:
        if r.done_recipients is not None:
            await session.execute(
                text("UPDATE deliveries SET done_recipients = :done WHERE id = :id"),
                {"id": r.delivery_id, "done": list(r.done_recipients)},
            )
    return kept


async def channels_for(session: AsyncSession, partner_ids: Sequence[UUID]) -> dict[UUID, PartnerChannels]:
    if not partner_ids:
        return {}
    rows = await session.execute(
        text("SELECT * FROM channels WHERE partner_id = ANY(:ids)"), {"ids": sorted(set(partner_ids))}
    )
    return {p.partner_id: p for p in (_channels(r) for r in rows)}


async def get_delivery(session: AsyncSession, delivery_id: UUID, *, lock: bool = False) -> Delivery | None:
    sql = f"SELECT {_DELIVERY_COLUMNS} FROM deliveries WHERE id = :id" + (" FOR UPDATE" if lock else "")
    row = (await session.execute(text(sql), {"id": delivery_id})).first()
    return Delivery.from_row(row) if row is not None else None


async def resend(session: AsyncSession, delivery_id: UUID, now: datetime) -> None:
    """Due now, with a fresh retry schedule; the webhook-id stays (same event and target)."""
    await session.execute(
        text(
            "UPDATE deliveries SET status = CASE WHEN status = 'retrying' THEN 'retrying' ELSE 'pending' END,"
            " round_attempts = 0, next_attempt_at = :now, claimed_until = NULL, claim_token = NULL,"
            " done_recipients = CASE WHEN status IN ('delivered', 'failed') THEN '{}' ELSE done_recipients END"
            " WHERE id = :id"
        ),
        {"id": delivery_id, "now": now},
    )


@dataclass(frozen=True)
class DeliveryFilter:
    municipalities: Sequence[str]
    partner_id: UUID | None = None
    event_id: UUID | None = None
    subject: str | None = None
    status: Status | None = None
    ids: Sequence[UUID] | None = None


def _where(f: DeliveryFilter) -> tuple[str, dict[str, Any]]:
    clauses = ["municipality = ANY(:municipalities)"]
    params: dict[str, Any] = {"municipalities": list(f.municipalities)}
    if f.partner_id is not None:
        clauses.append("partner_id = :partner_id")
        params["partner_id"] = f.partner_id
    if f.event_id is not None:
        clauses.append("event_id = :event_id")
        params["event_id"] = f.event_id
    if f.subject is not None:
        clauses.append("subject = :subject")
        params["subject"] = f.subject
    if f.status is not None:
        clauses.append("status = :status")
        params["status"] = str(f.status)
    if f.ids is not None:
        clauses.append("id = ANY(:ids)")
        params["ids"] = list(f.ids)
    return " AND ".join(clauses), params


async def list_deliveries(
    session: AsyncSession, f: DeliveryFilter, *, first: int, after_seq: int | None
) -> tuple[list[Delivery], int]:
    where, params = _where(f)
    total = (await session.execute(text(f"SELECT count(*) FROM deliveries WHERE {where}"), params)).scalar_one()
    page_params = dict(params, limit=first + 1, after=after_seq or 0)
    rows = await session.execute(
        text(f"SELECT {_DELIVERY_COLUMNS} FROM deliveries WHERE {where} AND seq > :after ORDER BY seq LIMIT :limit"),
        page_params,
    )
    return [Delivery.from_row(r) for r in rows], int(total)


async def attempts_of(session: AsyncSession, delivery_id: UUID) -> list[Attempt]:
    rows = await session.execute(
        text("SELECT at, status_code, error, duration_ms, outcome FROM attempts WHERE delivery_id = :id ORDER BY id"),
        {"id": delivery_id},
    )
    return [Attempt(r.at, r.status_code, r.error, float(r.duration_ms), r.outcome) for r in rows]
