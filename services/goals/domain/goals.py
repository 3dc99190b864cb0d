"""Goals: set for an area and year, changed, reviewed each quarter; each change raises its event.

A goal raises `goal.set`, `goal.updated`, `goal.reviewed` and `goal.review_due` into `pending`
with the version it reaches; the unit of work that loaded it writes them when it commits.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from services.goals.domain.checks import (
    MAX_TEXT,
    MAX_THEME,
    MAX_TITLE,
    blank_is_none,
    check_place_and_texts,
    check_text,
    parse_categories,
    parse_code,
    parse_partner_ids,
)
from services.goals.domain.indicators import Indicator, IndicatorInput, Measurement, parse_indicators
from services.goals.domain.quarters import Quarter, parse_quarter
from services.goals.domain.reviews import Review, ReviewDecision
from shared.errors import Conflict, FieldErrors
from shared.events.catalog import EventData, GoalReviewDue, GoalReviewed, GoalSet, GoalUpdated
from shared.events.catalog import Indicator as IndicatorData
from shared.events.codes import Category, Decision, GoalStatus, IndicatorKind

MAX_ACTIVE_GOALS = 3
# What a review's decision does to its goal; `continue` and `adjust` leave it active.
DECISION_EFFECT = {Decision.ACHIEVED: GoalStatus.ACHIEVED, Decision.REPLACE: GoalStatus.DROPPED}


class TooManyActiveGoals(Conflict):
    """At most three active goals per area and year."""

    def __init__(self, area: str, year: int) -> None:
        super().__init__(
            f"{area} already has {MAX_ACTIVE_GOALS} active goals for {year}: achieve or drop one before setting another"
        )


class GoalNotActive(Conflict):
    """Only active goals are reviewed."""

    def __init__(self, status: GoalStatus) -> None:
        super().__init__(f"the goal is {status.value}: only active goals are reviewed")


def check_room_for_active_goal(active_goals: int, area: str, year: int) -> None:
    if active_goals >= MAX_ACTIVE_GOALS:
        raise TooManyActiveGoals(area, year)


@dataclass
class Goal:
    id: UUID
    municipality: str
    area: str
    year: int
    title: str
    description: str | None
    theme: str | None
    categories: list[Category]
    indicators: list[Indicator]
    partner_ids: list[UUID]
    status: GoalStatus
    proposal_id: UUID | None
    version: int
    created_at: datetime
    updated_at: datetime
    pending: list[tuple[int, EventData]] = field(default_factory=list, compare=False, repr=False)

    def reviewable_quarters(self, now: datetime) -> list[Quarter]:
        current = Quarter.of(now)
        return [q for q in Quarter.of_year(self.year) if q <= current]

    def facts(self) -> dict[str, Any]:
        """What every `goal.set` and `goal.updated` tells about the goal."""
        return {
            "goal_id": self.id,
            "municipality": self.municipality,
            "area": self.area,
            "year": self.year,
            "categories": self.categories,
            "indicators": [IndicatorData.model_validate(i.as_json()) for i in self.indicators],
            "partner_ids": self.partner_ids,
            "status": self.status,
        }

    def change(self, changes: GoalChanges, *, now: datetime, known_partners: Iterable[UUID]) -> bool:
        """Apply a change (`goal.updated`); True when it reactivates the goal, so that the
        three-goal rule has to be checked again."""
        after = change_goal(self, changes, now=now, known_partners=known_partners)
        reactivated = reactivates(self, after)
        for f in fields(self):
            if f.name not in ("version", "pending"):
                setattr(self, f.name, getattr(after, f.name))
        self._raise(GoalUpdated(**self.facts(), updated_at=now))
        return reactivated

    def review(
        self, decision: ReviewDecision, *, review_id: UUID, measurements: Sequence[Measurement], by: str, at: datetime
    ) -> Review:
        """Record a quarter's review (`goal.reviewed`); the decision takes effect: `achieved` achieves the
        goal, `replace` drops it (its slot among the area's three is free again)."""
        if self.status is not GoalStatus.ACTIVE:
            raise GoalNotActive(self.status)
        review = Review.of(decision, review_id=review_id, goal_id=self.id, measurements=measurements, by=by, at=at)
        self._raise(
            GoalReviewed(
                goal_id=self.id,
                review_id=review.id,
                municipality=self.municipality,
                area=self.area,
                year=self.year,
                quarter=review.quarter,
                partner_ids=self.partner_ids,
                assessment=decision.assessment,
                decision=decision.decision,
                reviewed_at=at,
            )
        )
        effect = DECISION_EFFECT.get(decision.decision)
        if effect is not None:
            self.change(GoalChanges(status=effect.value), now=at, known_partners=())
        return review

    def review_is_due(self, quarter: Quarter) -> None:
        """The quarter ended: tell that the goal's review is due (`goal.review_due`)."""
        self._raise(
            GoalReviewDue(
                goal_id=self.id,
                municipality=self.municipality,
                area=self.area,
                year=self.year,
                quarter=str(quarter),
                partner_ids=self.partner_ids,
            )
        )

    def _raise(self, event: EventData) -> None:
        self.version += 1
        self.pending.append((self.version, event))


# --- setting and changing goals ------------------------------------------------------------------


@dataclass(frozen=True)
class GoalInput:
    municipality: str
    area: str
    year: int
    title: str
    description: str | None = None
    theme: str | None = None
    categories: Sequence[str] = ()
    indicators: Sequence[IndicatorInput] = ()
    partner_ids: Sequence[str] = ()


def new_goal(
    raw: GoalInput, *, goal_id: UUID, now: datetime, known_partners: Iterable[UUID], proposal_id: UUID | None = None
) -> Goal:
    """An active goal, version 1, raising `goal.set`; every invalid field reported at once."""
    errors = FieldErrors()
    check_place_and_texts(errors, raw, now)
    check_text(errors, "theme", raw.theme, MAX_THEME)
    categories = parse_categories(errors, "categories", raw.categories)
    indicators = parse_indicators(errors, "indicators", raw.indicators)
    partners = parse_partner_ids(errors, "partnerIds", raw.partner_ids, known_partners, raw.municipality)
    errors.raise_if_any()
    goal = Goal(
        id=goal_id,
        municipality=raw.municipality,
        area=raw.area,
        year=raw.year,
        title=raw.title.strip(),
        description=blank_is_none(raw.description),
        theme=blank_is_none(raw.theme),
        categories=categories,
        indicators=indicators,
        partner_ids=partners,
        status=GoalStatus.ACTIVE,
        proposal_id=proposal_id,
        version=1,
        created_at=now,
        updated_at=now,
    )
    goal.pending.append((goal.version, GoalSet(**goal.facts(), proposal_id=proposal_id, set_at=now)))
    return goal


@dataclass(frozen=True)
class GoalChanges:
    """What a PATCH changes; None leaves a field as it is (an empty text clears it)."""

    title: str | None = None
    description: str | None = None
    theme: str | None = None
    categories: Sequence[str] | None = None
    indicators: Sequence[IndicatorInput] | None = None
    partner_ids: Sequence[str] | None = None
    status: str | None = None


def change_goal(goal: Goal, changes: GoalChanges, *, now: datetime, known_partners: Iterable[UUID]) -> Goal:
    """The goal as `changes` leave it, one version on (`goal` itself is untouched); every invalid
    field reported at once."""
    errors = FieldErrors()
    values: dict[str, Any] = {}
    if changes.title is not None:
        check_text(errors, "title", changes.title, MAX_TITLE, required=True)
        values["title"] = changes.title.strip()
    if changes.description is not None:
        check_text(errors, "description", changes.description, MAX_TEXT)
        values["description"] = blank_is_none(changes.description)
    if changes.theme is not None:
        check_text(errors, "theme", changes.theme, MAX_THEME)
        values["theme"] = blank_is_none(changes.theme)
    if changes.categories is not None:
        values["categories"] = parse_categories(errors, "categories", changes.categories)
    if changes.indicators is not None:
        values["indicators"] = parse_indicators(errors, "indicators", changes.indicators)
    if changes.partner_ids is not None:
        values["partner_ids"] = parse_partner_ids(
            errors, "partnerIds", changes.partner_ids, known_partners, goal.municipality
        )
    if changes.status is not None:
        values["status"] = parse_code(errors, "status", changes.status, GoalStatus)
    errors.raise_if_any()
    return replace(goal, **values, version=goal.version + 1, updated_at=now, pending=[])


def reactivates(before: Goal, after: Goal) -> bool:
    """A change that makes the goal count against the three-goal rule again."""
    return before.status is not GoalStatus.ACTIVE and after.status is GoalStatus.ACTIVE


def continue_goal(goal: Goal, year: int, last_values: Sequence[float | None], *, goal_id: UUID, now: datetime) -> Goal:
    """The goal again in the next year (`goal.set`), each indicator's baseline its last measured value
    (kept where nothing was measured); it counts towards that year's three."""
    errors = FieldErrors()
    if year != goal.year + 1:
        errors.add("year", f"must be the year after the goal's year ({goal.year + 1})")
    errors.raise_if_any()
    indicators = [
        replace(indicator, baseline=value if value is not None else indicator.baseline)
        for indicator, value in zip(goal.indicators, last_values, strict=True)
    ]
    successor = replace(
        goal,
        id=goal_id,
        year=year,
        indicators=indicators,
        status=GoalStatus.ACTIVE,
        proposal_id=None,
        version=1,
        created_at=now,
        updated_at=now,
        pending=[],
    )
    successor.pending.append((1, GoalSet(**successor.facts(), set_at=now, continues_goal_id=goal.id)))
    return successor


MAX_SOURCE = 200


def check_manual_measurement(
    goal: Goal, indicator: int, quarter: str, value: float, source: str, now: datetime
) -> Quarter:
    """A recorded value: for a `manual` indicator of the goal, a quarter that has begun, a number and
    where it comes from; every invalid field at once."""
    errors = FieldErrors()
    if not 0 <= indicator < len(goal.indicators):
        errors.add("indicator", f"no indicator at this position (the goal has {len(goal.indicators)})")
    elif goal.indicators[indicator].kind is not IndicatorKind.MANUAL:
        errors.add("indicator", "values are recorded only for a manual indicator")
    parsed = parse_quarter(errors, "quarter", quarter)
    if parsed is not None and parsed > Quarter.of(now):
        errors.add("quarter", "a quarter that has not begun has no value yet")
    if not math.isfinite(value):
        errors.add("value", "must be a number")
    check_text(errors, "source", source, MAX_SOURCE, required=True)
    errors.raise_if_any()
    assert parsed is not None
    return parsed
