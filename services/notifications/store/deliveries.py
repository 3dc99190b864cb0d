"""The repository of deliveries and their attempts, within one unit of work.

Every delivery loaded or recorded here is tracked by the unit of work, which writes the events
the delivery raised (`notification.delivered` / `.failed`) to the outbox when it commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

import orjson
from sqlalchemy import text

from services.notifications.domain import Attempt, Channel, Delivery, Status, Target
from shared.db import UnitOfWork

DELIVERY_COLUMNS = (
    "id, seq, event_id, event_type, target, channel, partner_id, subject, municipality, data, body, status,"
    " attempts, round_attempts, last_attempt_at, next_attempt_at, last_error, claim_token, done_recipients, created_at"
)


def delivery_from_row(row: Any) -> Delivery:
    m = row._mapping
    data = m["data"]
    return Delivery(
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
class NewDeliveries:
    """One event to be delivered to some targets: one row per (event, target, channel)."""

    event_id: UUID
    event_type: str
    subject: str
    municipality: str
    data: dict[str, Any]
    body: str
    targets: Sequence[Target]
    sequence: int = 0


@dataclass(frozen=True)
class DeliveryFilter:
    municipalities: Sequence[str]
    partner_id: UUID | None = None
    event_id: UUID | None = None
    subject: str | None = None
    status: Status | None = None
    ids: Sequence[UUID] | None = None


_INSERT = text(
    "INSERT INTO deliveries (id, event_id, event_type, target, channel, partner_id, subject,"
    " municipality, order_key, sequence, data, body, status, next_attempt_at)"
    " VALUES (:id, :event_id, :event_type, :target, :channel, :partner_id, :subject, :municipality,"
    " :order_key, :sequence, CAST(:data AS jsonb), :body, 'pending', :now)"
    " ON CONFLICT (event_id, target, channel) DO NOTHING RETURNING id"
)


class DeliveryStore:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.session = uow.session

    def _tracked(self, delivery: Delivery) -> Delivery:
        self.uow.track(delivery)
        return delivery

    async def add(self, new: NewDeliveries, now: datetime) -> list[UUID]:
        """One row per (event, target, channel); an existing one is kept (a replay notifies nobody)."""
        created: list[UUID] = []
        data = orjson.dumps(new.data).decode()
        for t in new.targets:
            params = {
                "id": uuid4(),
                "event_id": new.event_id,
                "event_type": new.event_type,
                "target": t.target,
                "channel": str(t.channel),
                "partner_id": t.partner_id,
                "subject": new.subject,
                "municipality": new.municipality,
                "order_key": f"{new.subject}|{t.target}|{t.channel}",
                "sequence": new.sequence,
                "data": data,
                "body": new.body,
                "now": now,
            }
            row = (await self.session.execute(_INSERT, params)).first()
            if row is not None:
                created.append(row.id)
        return created

    async def get(self, delivery_id: UUID, *, lock: bool = False) -> Delivery | None:
        sql = f"SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE id = :id" + (" FOR UPDATE" if lock else "")
        row = (await self.session.execute(text(sql), {"id": delivery_id})).first()
        return self._tracked(delivery_from_row(row)) if row is not None else None

    async def save_resent(self, delivery: Delivery) -> None:
        """A resent delivery: its new state, and no sender's lease any more."""
        await self.session.execute(
            text(
                "UPDATE deliveries SET status = :status, round_attempts = :round_attempts,"
                " next_attempt_at = :next_at, done_recipients = :done, claimed_until = NULL, claim_token = NULL"
                " WHERE id = :id"
            ),
            {
                "id": delivery.id,
                "status": str(delivery.status),
                "round_attempts": delivery.round_attempts,
                "next_at": delivery.next_attempt_at,
                "done": list(delivery.done_recipients),
            },
        )

    async def page(self, f: DeliveryFilter, *, first: int, after_seq: int | None) -> tuple[list[Delivery], int]:
        """Up to `first + 1` deliveries after `after_seq` in arrival order (one more says there is
        a next page), and how many match in all."""
        where, params = _where(f)
        total = (
            await self.session.execute(text(f"SELECT count(*) FROM deliveries WHERE {where}"), params)
        ).scalar_one()
        page_params = dict(params, limit=first + 1, after=after_seq or 0)
        rows = await self.session.execute(
            text(f"SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE {where} AND seq > :after ORDER BY seq LIMIT :limit"),
            page_params,
        )
        return [delivery_from_row(r) for r in rows], int(total)

    async def attempts(self, delivery_id: UUID) -> list[Attempt]:
        rows = await self.session.execute(
            text(
                "SELECT at, status_code, error, duration_ms, outcome FROM attempts WHERE delivery_id = :id ORDER BY id"
            ),
            {"id": delivery_id},
        )
        return [Attempt(r.at, r.status_code, r.error, float(r.duration_ms), r.outcome) for r in rows]


def _where(f: DeliveryFilter) -> tuple[str, dict[str, Any]]:
    clauses = ["municipality = ANY(:municipalities)"]
    params: dict[str, Any] = {"municipalities": list(f.municipalities)}
    optional: list[tuple[str, Any]] = [
        ("partner_id", f.partner_id),
        ("event_id", f.event_id),
        ("subject", f.subject),
        ("status", str(f.status) if f.status is not None else None),
    ]
    for column, value in optional:
        if value is not None:
            clauses.append(f"{column} = :{column}")
            params[column] = value
    if f.ids is not None:
        clauses.append("id = ANY(:ids)")
        params["ids"] = list(f.ids)
    return " AND ".join(clauses), params
