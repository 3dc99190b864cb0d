"""The quarterly review of an area, held together: who takes part, the scores participants give
each other, the agreements they make, and the rules for holding it. Pure Python, no I/O.

A partner *concerns* an area when one of its areas is it, contains it or lies in it (by code,
CONTRACT.md rule 9); those partners read the review, are rated and hear `area.reviewed`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from services.goals.domain.checks import MAX_REASON, check_text
from services.goals.domain.quarters import Quarter, parse_quarter
from shared import areas
from shared.errors import Conflict, FieldErrors
from shared.events.codes import GROUP_KINDS, PartnerKind

MAX_DUE_AHEAD = 8  # quarters


class ReviewHeld(Conflict):
    """A held review is frozen: held once, then no scores or agreements for that quarter."""

    def __init__(self, area: str, quarter: Quarter) -> None:
        super().__init__(f"the review of {area} for {quarter} is already held")


@dataclass(frozen=True)
class PartnerInfo:
    """What the goals service knows of a partner (from partner.* events)."""

    id: UUID
    name: str
    kind: PartnerKind
    municipalities: tuple[str, ...]
    areas: tuple[str, ...]
    active: bool

    @property
    def is_group(self) -> bool:
        return self.kind in GROUP_KINDS

    def concerns(self, area: str) -> bool:
        """One of its areas is `area`, contains it, or lies in it."""
        wanted = areas.parse_or_none(area)
        if wanted is None:
            return False
        for code in self.areas:
            own = areas.parse_or_none(code)
            if own is not None and (own.contains(wanted) or wanted.contains(own)):
                return True
        return False


def review_quarter(errors: FieldErrors, text: str, now: datetime) -> Quarter | None:
    """The current or a past quarter (a future one has nothing to review)."""
    quarter = parse_quarter(errors, "quarter", text)
    if quarter is not None and quarter > Quarter.of(now):
        errors.add("quarter", "must be the current or a past quarter")
        return None
    return quarter


def review_area(errors: FieldErrors, text: str) -> areas.Area | None:
    parsed = areas.parse_or_none(text)
    if parsed is None:
        errors.add("area", areas.FORM_RULE)
    return parsed


@dataclass(frozen=True)
class Score:
    from_partner: UUID
    to_partner: UUID
    score: int
    comment: str | None


def check_score(
    errors: FieldErrors, area: str, rater: PartnerInfo | None, to: PartnerInfo | None, score: int, comment: str | None
) -> None:
    """1..5 for a partner that concerns the area, never for oneself; the comment of a fair length."""
    if to is None or not to.active or not to.concerns(area):
        errors.add("toPartnerId", f"no active partner that concerns {area}")
    elif rater is not None and rater.id == to.id:
        errors.add("toPartnerId", "a partner does not rate itself")
    if not 1 <= score <= 5:
        errors.add("score", "must be between 1 and 5")
    check_text(errors, "comment", comment, MAX_REASON)


AGREEMENT_OPEN, AGREEMENT_DONE, AGREEMENT_DROPPED = "open", "done", "dropped"
AGREEMENT_STATUSES = (AGREEMENT_OPEN, AGREEMENT_DONE, AGREEMENT_DROPPED)


@dataclass(frozen=True)
class Agreement:
    id: UUID
    municipality: str
    area: str
    text: str
    owner: UUID
    made_in: str
    due_quarter: str
    status: str
    closed_in: str | None
    created_at: datetime
    updated_at: datetime

    def with_status(self, status: str, now: datetime) -> Agreement:
        """Marked done, dropped, or open again; `closed_in` keeps it in the review of that quarter."""
        closed_in = None if status == AGREEMENT_OPEN else str(Quarter.of(now))
        return replace(self, status=status, closed_in=closed_in, updated_at=now)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "area": self.area,
            "text": self.text,
            "ownerPartnerId": str(self.owner),
            "madeIn": self.made_in,
            "dueQuarter": self.due_quarter,
            "status": self.status,
        }


def check_agreement(
    errors: FieldErrors, quarter: Quarter | None, text: str, owner: PartnerInfo | None, due: str, municipality: str
) -> Quarter | None:
    """A text, an active partner of the municipality as owner, due not before `quarter` and at most
    eight quarters after it."""
    check_text(errors, "text", text, MAX_REASON, required=True)
    if owner is None or not owner.active or municipality not in owner.municipalities:
        errors.add("ownerPartnerId", f"no active partner with this id in {municipality}")
    due_quarter = parse_quarter(errors, "dueQuarter", due)
    if due_quarter is not None and quarter is not None:
        latest = quarter
        for _ in range(MAX_DUE_AHEAD):
            latest = latest.next()
        if not quarter <= due_quarter <= latest:
            errors.add("dueQuarter", f"must be from {quarter} up to {latest}")
    return due_quarter


def parse_agreement_status(errors: FieldErrors, value: str) -> str | None:
    if value not in AGREEMENT_STATUSES:
        errors.add("status", f"must be one of {', '.join(AGREEMENT_STATUSES)}")
        return None
    return value


def shown_in(agreement: Agreement, quarter: Quarter) -> bool:
    """Made in this quarter, or made earlier and open (or closed) in it: open agreements come back
    in every later review until done or dropped."""
    made = Quarter.parse(agreement.made_in)
    if made == quarter:
        return True
    if made > quarter:
        return False
    return agreement.closed_in is None or Quarter.parse(agreement.closed_in) >= quarter


__all__ = [
    "Agreement",
    "PartnerInfo",
    "ReviewHeld",
    "Score",
    "check_agreement",
    "check_score",
    "parse_agreement_status",
    "review_area",
    "review_quarter",
    "shown_in",
]
