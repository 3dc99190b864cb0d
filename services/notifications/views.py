"""Deliveries and attempts as the API answers them (camelCase JSON)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from services.notifications.domain import OPEN_STATUSES, Attempt, Delivery
from shared.bodies import CamelBody


class DeliveryOut(CamelBody):
    id: UUID
    channel: str
    target: str
    partner_id: UUID | None
    event_type: str
    event_id: UUID
    subject: str
    status: str
    attempts: int
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None
    last_error: str | None
    created_at: datetime

    @classmethod
    def of(cls, d: Delivery) -> DeliveryOut:
        return cls(
            id=d.id,
            channel=str(d.channel),
            target=d.target,
            partner_id=d.partner_id,
            event_type=d.event_type,
            event_id=d.event_id,
            subject=d.subject,
            status=str(d.status),
            attempts=d.attempts,
            last_attempt_at=d.last_attempt_at,
            next_attempt_at=d.next_attempt_at if d.status in OPEN_STATUSES else None,
            last_error=d.last_error,
            created_at=d.created_at,
        )


class DeliveryPage(CamelBody):
    results: list[DeliveryOut]
    total_count: int
    next: str | None


class AttemptOut(CamelBody):
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: float
    outcome: str

    @classmethod
    def of(cls, a: Attempt) -> AttemptOut:
        return cls(at=a.at, status_code=a.status_code, error=a.error, duration_ms=a.duration_ms, outcome=a.outcome)


class AttemptPage(CamelBody):
    results: list[AttemptOut]
    total_count: int
    next: str | None
