"""A delivery: one message about one event to one target over one channel, and its attempts.

The entity decides where it stands after each attempt and raises `notification.delivered` or
`notification.failed` into `pending` when it is done; the unit of work that stored the attempt
writes those events with it (the store tracks every delivery it loads or records).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from services.notifications.domain.channels import Channel
from services.notifications.domain.retries import Outcome, retry_delay
from shared.events.catalog import EventData, NotificationDelivered, NotificationFailed


class Status(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    RETRYING = "retrying"
    FAILED = "failed"


OPEN_STATUSES = (Status.PENDING, Status.RETRYING)
DONE_STATUSES = (Status.DELIVERED, Status.FAILED)


@dataclass(frozen=True)
class NextState:
    status: Status
    next_attempt_at: datetime | None
    disable_webhook: bool = False


def after_attempt(
    outcome: Outcome,
    *,
    round_attempt: int,
    now: datetime,
    schedule: Sequence[float],
    rand: Callable[[], float] = random.random,
) -> NextState:
    """Where a delivery stands after its `round_attempt`-th attempt since it was (re)sent."""
    if outcome == Outcome.DELIVERED:
        return NextState(Status.DELIVERED, None)
    if outcome == Outcome.GONE:
        return NextState(Status.FAILED, None, disable_webhook=True)
    if outcome == Outcome.REFUSED:
        return NextState(Status.FAILED, None)
    delay = retry_delay(round_attempt, schedule, rand)
    if delay is None:
        return NextState(Status.FAILED, None)
    return NextState(Status.RETRYING, now + delay)


@dataclass(frozen=True)
class Attempt:
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: float
    outcome: str


@dataclass
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
    pending: list[tuple[int, EventData]] = field(default_factory=list)

    def attempted(
        self, attempt: Attempt, *, now: datetime, schedule: Sequence[float], done_recipients: list[str] | None = None
    ) -> NextState:
        """Take in one finished attempt; the last one (delivered, or failed for good) raises its event."""
        state = after_attempt(
            Outcome(attempt.outcome), round_attempt=self.round_attempts + 1, now=now, schedule=schedule
        )
        self.attempts += 1
        self.round_attempts += 1
        self.last_attempt_at = attempt.at
        self.status, self.next_attempt_at = state.status, state.next_attempt_at
        self.last_error = None if state.status == Status.DELIVERED else (attempt.error or _code(attempt.status_code))
        if done_recipients is not None:
            self.done_recipients = list(done_recipients)
        if state.status in DONE_STATUSES:
            self.pending.append((self.attempts, self._outcome_event(attempt.at)))
        return state

    def resend(self, now: datetime) -> None:
        """Due now, with a fresh retry schedule; the webhook-id stays (same event and target)."""
        if self.status in DONE_STATUSES:
            self.done_recipients = []
        self.status = Status.RETRYING if self.status == Status.RETRYING else Status.PENDING
        self.round_attempts = 0
        self.next_attempt_at = now
        self.claim_token = None

    def _outcome_event(self, at: datetime) -> EventData:
        facts: dict[str, Any] = {
            "delivery_id": self.id,
            "event_id": self.event_id,
            "event_type_delivered": self.event_type,
            "channel": str(self.channel),
            "target": self.target,
            "partner_id": self.partner_id,
            "subject": self.subject,
            "municipality": self.municipality,
            "attempts": self.attempts,
            "at": at,
        }
        if self.status == Status.DELIVERED:
            return NotificationDelivered(**facts)
        return NotificationFailed(**facts, last_error=self.last_error)


def _code(status_code: int | None) -> str | None:
    return f"http_{status_code}" if status_code is not None else None
