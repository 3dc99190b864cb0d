"""Chains: partners pass a signal on, as a region agrees ("van preventie naar repressie"). Pure
Python, no I/O.

A partner's chain is a list of steps: a signal escalated to it (in the step's category, or any
when the step has none; the step for its category wins) and not acknowledged `after_minutes`
after its escalation, not counting time spent waiting for a reporter's answer, goes to the
step's next partner. A chain never returns a signal to a partner it was escalated to before.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from services.signals.domain.routing import Partner
from services.signals.domain.signal import Signal
from shared.errors import FieldError
from shared.events.codes import Category
from shared.events.codes import SignalStatus as Status

MAX_AFTER_MINUTES = 60 * 24 * 30  # a month: longer is no chain but a forgotten signal
MAX_STEPS = len(Category) + 1  # one per category and one for any


@dataclass(frozen=True)
class ChainStep:
    category: Category | None
    next_partner_id: UUID
    after_minutes: int


def step_for(steps: Sequence[ChainStep], category: Category) -> ChainStep | None:
    """The step for the category, else the step for any category."""
    specific = next((s for s in steps if s.category == category), None)
    return specific or next((s for s in steps if s.category is None), None)


def paused(signal: Signal, since: datetime, now: datetime) -> timedelta:
    """Time spent in REACTION_REQUESTED since `since` (an open question counts until now)."""
    total = timedelta()
    for q in signal.questions:
        if q.asked_at >= since:
            total += (q.ended_at or now) - q.asked_at
    return total


def due_step(signal: Signal, steps: Sequence[ChainStep], now: datetime) -> ChainStep | None:
    """The step that passes the signal on now: it is escalated and not acknowledged `after_minutes`
    (plus the pauses) after its escalation, and the next partner never had it."""
    e = signal.escalation
    if signal.status != Status.ESCALATED or e is None or e.acknowledged_at is not None:
        return None
    step = step_for(steps, signal.category)
    if step is None or signal.escalated_to(step.next_partner_id):
        return None
    if now < e.at + timedelta(minutes=step.after_minutes) + paused(signal, e.at, now):
        return None
    return step


def chain_problems(
    steps: Sequence[tuple[str | None, str | None, int | None]],
    *,
    partner_id: UUID | None,
    municipalities: Sequence[str],
    known: dict[UUID, Partner],
    group: bool = False,
) -> tuple[list[FieldError], list[ChainStep]]:
    """Check raw steps (category, next partner id, after minutes): every problem at once, with the
    field as `chain[i].<field>`; and the checked steps. The next partner is an active partner of
    one of the municipalities, not a group and not the chained partner itself (CONTRACT.md rule 6);
    a group itself has no chain."""
    errors: list[FieldError] = []
    checked: list[ChainStep] = []
    seen: set[Category | None] = set()
    if group and steps:
        errors.append(FieldError("chain", "a WhatsApp or resident group is never escalated to: it has no chain"))
    if len(steps) > MAX_STEPS:
        errors.append(FieldError("chain", f"at most {MAX_STEPS} steps: one per category and one for any"))
    for i, (raw_category, raw_next, after) in enumerate(steps):
        name = f"chain[{i}]"
        category: Category | None = None
        if raw_category is not None:
            if raw_category not in Category._value2member_map_:
                errors.append(FieldError(f"{name}.category", f"unknown category {raw_category!r}"))
            else:
                category = Category(raw_category)
        if raw_category is None or category is not None:  # a known category, or any
            if category in seen:
                errors.append(FieldError(f"{name}.category", "one step per category (and one for any category)"))
            seen.add(category)
        next_id: UUID | None = None
        try:
            next_id = UUID(raw_next or "")
        except ValueError:
            errors.append(FieldError(f"{name}.nextPartnerId", "must be a partner id (uuid)"))
        if next_id is not None:
            target = known.get(next_id)
            if target is None or not target.active or not set(target.municipalities) & set(municipalities):
                errors.append(
                    FieldError(f"{name}.nextPartnerId", "not an active partner of the partner's municipality")
                )
            elif target.is_group:
                errors.append(FieldError(f"{name}.nextPartnerId", "a WhatsApp or resident group takes no signals"))
            elif next_id == partner_id:
                errors.append(FieldError(f"{name}.nextPartnerId", "a chain passes signals on to another partner"))
        if after is None or not 1 <= after <= MAX_AFTER_MINUTES:
            errors.append(FieldError(f"{name}.afterMinutes", f"must be 1..{MAX_AFTER_MINUTES} minutes"))
        if next_id is not None and after is not None:
            checked.append(ChainStep(category, next_id, after))
    return errors, checked
