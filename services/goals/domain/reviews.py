"""Quarterly reviews: the coordinator's assessment and decision, with the measurements of the
quarter snapshotted and the partners' cooperation scored. One review per goal and quarter."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from services.goals.domain.checks import MAX_TEXT, blank_is_none, check_text, parse_code, parse_uuid
from services.goals.domain.indicators import Measurement
from services.goals.domain.quarters import Quarter, parse_quarter
from shared.errors import Conflict, FieldErrors
from shared.events.codes import Assessment, Decision

if TYPE_CHECKING:
    from services.goals.domain.goals import Goal


class ReviewExists(Conflict):
    """One review per goal and quarter."""

    def __init__(self, quarter: str) -> None:
        super().__init__(f"this goal already has a review for {quarter}")


@dataclass(frozen=True)
class CooperationInput:
    partner_id: str
    score: int


@dataclass(frozen=True)
class ReviewInput:
    quarter: str
    assessment: str
    decision: str
    cooperation: Sequence[CooperationInput] = ()
    notes: str | None = None


@dataclass(frozen=True)
class ReviewDecision:
    quarter: Quarter
    assessment: Assessment
    decision: Decision
    cooperation: list[tuple[UUID, int]] = field(default_factory=list)
    notes: str | None = None


def validate_review(goal: Goal, raw: ReviewInput, now: datetime) -> ReviewDecision:
    """A review of the current quarter (interim) or a past quarter of the goal's year."""
    errors = FieldErrors()
    quarter = parse_quarter(errors, "quarter", raw.quarter)
    if quarter is not None and quarter not in goal.reviewable_quarters(now):
        errors.add("quarter", f"must be the current quarter or a past quarter of {goal.year}")
    assessment = parse_code(errors, "assessment", raw.assessment, Assessment)
    decision = parse_code(errors, "decision", raw.decision, Decision)
    cooperation: list[tuple[UUID, int]] = []
    for i, item in enumerate(raw.cooperation):
        partner_id = parse_uuid(errors, f"cooperation.{i}.partnerId", item.partner_id)
        if partner_id is not None and partner_id not in goal.partner_ids:
            errors.add(f"cooperation.{i}.partnerId", "not a partner of this goal")
        elif partner_id is not None and any(p == partner_id for p, _ in cooperation):
            errors.add(f"cooperation.{i}.partnerId", "scored twice")
        if not 1 <= item.score <= 5:
            errors.add(f"cooperation.{i}.score", "must be between 1 and 5")
        elif partner_id is not None and partner_id in goal.partner_ids:
            cooperation.append((partner_id, item.score))
    check_text(errors, "notes", raw.notes, MAX_TEXT)
    errors.raise_if_any()
    assert quarter is not None and assessment is not None and decision is not None
    return ReviewDecision(quarter, assessment, decision, cooperation, raw.notes)


@dataclass(frozen=True)
class Review:
    """A recorded review as it is kept: codes as text, measurements and scores as JSON."""

    id: UUID
    goal_id: UUID
    quarter: str
    assessment: str
    decision: str
    notes: str | None
    measurements: list[dict[str, Any]]
    cooperation: list[dict[str, Any]]
    reviewed_at: datetime
    reviewed_by: str | None = None

    @classmethod
    def of(
        cls,
        decision: ReviewDecision,
        *,
        review_id: UUID,
        goal_id: UUID,
        measurements: Sequence[Measurement],
        by: str,
        at: datetime,
    ) -> Review:
        return cls(
            id=review_id,
            goal_id=goal_id,
            quarter=str(decision.quarter),
            assessment=decision.assessment.value,
            decision=decision.decision.value,
            notes=blank_is_none(decision.notes),
            measurements=[m.as_json() for m in measurements],
            cooperation=[{"partnerId": str(p), "score": s} for p, s in decision.cooperation],
            reviewed_at=at,
            reviewed_by=by,
        )
