"""Goals, proposals, reviews and the indicators that measure them: pure Python, no I/O.

Quarters are Europe/Amsterdam quarters (`YYYY-Qn`); statistics are computed from per-signal
facts on read, so the order in which signal events arrive does not matter.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from shared import areas
from shared.areas import Level
from shared.clock import rfc3339
from shared.errors import Conflict, FieldErrors
from shared.events.codes import Assessment, Category, Decision, Direction, GoalStatus, IndicatorKind

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
MAX_ACTIVE_GOALS = 3
MAX_TITLE = 200
MAX_TEXT = 4000
MAX_THEME = 100
MAX_REASON = 2000
QUARTER_FORM = re.compile(r"^(\d{4})-Q([1-4])$")

# --- quarters ------------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Quarter:
    year: int
    number: int

    @classmethod
    def parse(cls, text: str) -> Quarter:
        match = QUARTER_FORM.fullmatch(text)
        if match is None:
            raise ValueError(f"{text!r} is not a quarter of the form YYYY-Qn")
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def of(cls, at: datetime) -> Quarter:
        """The Europe/Amsterdam quarter an instant falls in."""
        if at.tzinfo is None:
            raise ValueError("a naive datetime has no quarter")
        local = at.astimezone(AMSTERDAM)
        return cls(local.year, (local.month - 1) // 3 + 1)

    @classmethod
    def of_year(cls, year: int) -> list[Quarter]:
        return [cls(year, n) for n in range(1, 5)]

    def __str__(self) -> str:
        return f"{self.year}-Q{self.number}"

    @property
    def label(self) -> str:
        """Dutch: K1 2026 (kwartaal)."""
        return f"K{self.number} {self.year}"

    def previous(self) -> Quarter:
        return Quarter(self.year - 1, 4) if self.number == 1 else Quarter(self.year, self.number - 1)

    def next(self) -> Quarter:
        return Quarter(self.year + 1, 1) if self.number == 4 else Quarter(self.year, self.number + 1)

    @property
    def starts_at(self) -> datetime:
        """Local midnight of the quarter's first day, in UTC."""
        return datetime(self.year, 3 * self.number - 2, 1, tzinfo=AMSTERDAM).astimezone(UTC)

    @property
    def ends_at(self) -> datetime:
        """The first instant after the quarter (the next quarter's start)."""
        return self.next().starts_at


# --- statistics ----------------------------------------------------------------------------------


def median(values: Sequence[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    mid = len(ordered) // 2
    return float(ordered[mid]) if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def p90(values: Sequence[float]) -> float | None:
    """Nearest-rank 90th percentile: a value that was actually measured."""
    if not values:
        return None
    ordered = sorted(values)
    return float(ordered[math.ceil(0.9 * len(ordered)) - 1])


@dataclass(frozen=True)
class QuarterStats:
    """What the signal events of one area, category set and quarter add up to."""

    signals: int = 0
    resolved: int = 0
    acknowledge_minutes: tuple[float, ...] = ()

    @property
    def median_acknowledge_minutes(self) -> float | None:
        return median(self.acknowledge_minutes)

    @property
    def p90_acknowledge_minutes(self) -> float | None:
        return p90(self.acknowledge_minutes)

    @property
    def resolved_share(self) -> float | None:
        return self.resolved / self.signals if self.signals else None


def acknowledge_minutes(escalated_at: datetime, acknowledged_at: datetime) -> float:
    return max((acknowledged_at - escalated_at).total_seconds() / 60, 0.0)


# --- indicators and measurements -----------------------------------------------------------------

KINDS_NEEDING_CATEGORY = frozenset({IndicatorKind.SIGNAL_COUNT})


@dataclass(frozen=True)
class Indicator:
    kind: IndicatorKind
    target: float
    direction: Direction
    category: Category | None = None
    baseline: float | None = None

    def categories(self, goal_categories: Sequence[Category]) -> list[Category]:
        """Which signals it measures: its own category, else the goal's (none given: all)."""
        return [self.category] if self.category else list(goal_categories)

    def value(self, stats: QuarterStats) -> float | None:
        if self.kind is IndicatorKind.SIGNAL_COUNT:
            return float(stats.signals)
        if self.kind is IndicatorKind.MEDIAN_ACKNOWLEDGE_MINUTES:
            return stats.median_acknowledge_minutes
        return stats.resolved_share

    def on_track(self, value: float | None) -> bool | None:
        """At or beyond the target in its direction; unknown without a value."""
        if value is None:
            return None
        return value <= self.target if self.direction is Direction.DECREASE else value >= self.target

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "category": self.category.value if self.category else None,
            "baseline": self.baseline,
            "target": self.target,
            "direction": self.direction.value,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Indicator:
        return cls(
            kind=IndicatorKind(raw["kind"]),
            target=float(raw["target"]),
            direction=Direction(raw["direction"]),
            category=Category(raw["category"]) if raw.get("category") else None,
            baseline=None if raw.get("baseline") is None else float(raw["baseline"]),
        )


@dataclass(frozen=True)
class Measurement:
    indicator: Indicator
    value: float | None
    previous: float | None

    @property
    def on_track(self) -> bool | None:
        return self.indicator.on_track(self.value)

    def as_json(self) -> dict[str, Any]:
        return {
            "indicator": self.indicator.as_json(),
            "value": self.value,
            "previous": self.previous,
            "onTrack": self.on_track,
        }


def measure(indicator: Indicator, current: QuarterStats, previous: QuarterStats) -> Measurement:
    return Measurement(indicator, indicator.value(current), indicator.value(previous))


# --- input validation (every field error at once) ------------------------------------------------


def _code(errors: FieldErrors, name: str, value: str | None, codes: type[Any]) -> Any:
    if value is None:
        return None
    try:
        return codes(value)
    except ValueError:
        errors.add(name, f"must be one of {', '.join(c.value for c in codes)}")
        return None


def _uuid(errors: FieldErrors, name: str, value: str) -> UUID | None:
    try:
        return UUID(value)
    except (ValueError, AttributeError, TypeError):
        errors.add(name, "not a uuid")
        return None


def check_area(errors: FieldErrors, name: str, area: str, municipality: str) -> None:
    parsed = areas.parse_or_none(area)
    if parsed is None or parsed.level is Level.MUNICIPALITY or not parsed.lies_in(municipality):
        errors.add(name, f"not a district (WK) or neighbourhood (BU) code of {municipality}")


def check_year(errors: FieldErrors, name: str, year: int, now: datetime) -> None:
    this_year = Quarter.of(now).year
    if not this_year - 1 <= year <= this_year + 1:
        errors.add(name, f"must be between {this_year - 1} and {this_year + 1}")


def check_text(errors: FieldErrors, name: str, value: str | None, limit: int, *, required: bool = False) -> None:
    if value is None or not value.strip():
        if required:
            errors.add(name, "must not be empty")
        return
    if len(value) > limit:
        errors.add(name, f"at most {limit} characters")


def parse_categories(errors: FieldErrors, name: str, values: Iterable[str]) -> list[Category]:
    found: list[Category] = []
    for i, value in enumerate(values):
        category = _code(errors, f"{name}.{i}", value, Category)
        if category is not None and category not in found:
            found.append(category)
    return found


@dataclass(frozen=True)
class IndicatorInput:
    kind: str
    target: float
    direction: str
    category: str | None = None
    baseline: float | None = None


def parse_indicators(errors: FieldErrors, name: str, values: Sequence[IndicatorInput]) -> list[Indicator]:
    found: list[Indicator] = []
    for i, raw in enumerate(values):
        at = f"{name}.{i}"
        kind = _code(errors, f"{at}.kind", raw.kind, IndicatorKind)
        direction = _code(errors, f"{at}.direction", raw.direction, Direction)
        category = _code(errors, f"{at}.category", raw.category, Category)
        ok = kind is not None and direction is not None and (raw.category is None or category is not None)
        if kind in KINDS_NEEDING_CATEGORY and raw.category is None:
            errors.add(f"{at}.category", f"required for {kind.value}")
            ok = False
        for part, number in (("target", raw.target), ("baseline", raw.baseline)):
            if number is None:
                continue
            if not math.isfinite(number) or number < 0:
                errors.add(f"{at}.{part}", "must be a number of at least 0")
                ok = False
            elif kind is IndicatorKind.RESOLVED_SHARE and number > 1:
                errors.add(f"{at}.{part}", "a share is between 0 and 1")
                ok = False
        if raw.baseline is not None and raw.baseline == raw.target:
            errors.add(f"{at}.target", "equals the baseline: with a direction the target must differ from it")
            ok = False
        if ok:
            found.append(Indicator(kind, float(raw.target), direction, category, raw.baseline))
    return found


def parse_partner_ids(
    errors: FieldErrors, name: str, values: Sequence[str], known: Iterable[UUID], municipality: str
) -> list[UUID]:
    known_set = set(known)
    found: list[UUID] = []
    for i, value in enumerate(values):
        partner_id = _uuid(errors, f"{name}.{i}", value)
        if partner_id is None:
            continue
        if partner_id not in known_set:
            errors.add(f"{name}.{i}", f"no active partner with this id in {municipality}")
        elif partner_id not in found:
            found.append(partner_id)
    return found


# --- goals ---------------------------------------------------------------------------------------


class TooManyActiveGoals(Conflict):
    def __init__(self, area: str, year: int) -> None:
        super().__init__(
            f"{area} already has {MAX_ACTIVE_GOALS} active goals for {year}: achieve or drop one before setting another"
        )


class ReviewExists(Conflict):
    def __init__(self, quarter: Quarter) -> None:
        super().__init__(f"this goal already has a review for {quarter}")


class GoalNotActive(Conflict):
    def __init__(self, status: GoalStatus) -> None:
        super().__init__(f"the goal is {status.value}: only active goals are reviewed")


class ProposalDecided(Conflict):
    def __init__(self, status: str) -> None:
        super().__init__(f"the proposal is already {status}")


def check_room_for_active_goal(active_goals: int, area: str, year: int) -> None:
    if active_goals >= MAX_ACTIVE_GOALS:
        raise TooManyActiveGoals(area, year)


@dataclass(frozen=True)
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

    def reviewable_quarters(self, now: datetime) -> list[Quarter]:
        current = Quarter.of(now)
        return [q for q in Quarter.of_year(self.year) if q <= current]

    def as_json(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "municipality": self.municipality,
            "area": self.area,
            "year": self.year,
            "title": self.title,
            "description": self.description,
            "theme": self.theme,
            "categories": [c.value for c in self.categories],
            "indicators": [i.as_json() for i in self.indicators],
            "partnerIds": [str(p) for p in self.partner_ids],
            "status": self.status.value,
            "proposalId": str(self.proposal_id) if self.proposal_id else None,
            "createdAt": rfc3339(self.created_at),
            "updatedAt": rfc3339(self.updated_at),
        }


# --- reviews -------------------------------------------------------------------------------------


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
    quarter: Quarter | None = None
    try:
        quarter = Quarter.parse(raw.quarter)
    except ValueError:
        errors.add("quarter", "must be of the form YYYY-Qn, e.g. 2026-Q4")
    if quarter is not None and quarter not in goal.reviewable_quarters(now):
        errors.add("quarter", f"must be the current quarter or a past quarter of {goal.year}")
    assessment = _code(errors, "assessment", raw.assessment, Assessment)
    decision = _code(errors, "decision", raw.decision, Decision)
    cooperation: list[tuple[UUID, int]] = []
    for i, item in enumerate(raw.cooperation):
        partner_id = _uuid(errors, f"cooperation.{i}.partnerId", item.partner_id)
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


def review_due_quarter(now: datetime) -> Quarter:
    """The quarter that has most recently ended."""
    return Quarter.of(now).previous()


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


def candidate_partner_ids(values: Iterable[str]) -> list[UUID]:
    """The well-formed ids among `values`: the ones worth looking up in the partners read model."""
    found = []
    for value in values:
        try:
            found.append(UUID(value))
        except (ValueError, AttributeError, TypeError):
            continue
    return found


def blank_is_none(value: str | None) -> str | None:
    return value if value is not None and value.strip() else None


def new_goal(
    raw: GoalInput, *, goal_id: UUID, now: datetime, known_partners: Iterable[UUID], proposal_id: UUID | None = None
) -> Goal:
    errors = FieldErrors()
    check_area(errors, "area", raw.area, raw.municipality)
    check_year(errors, "year", raw.year, now)
    check_text(errors, "title", raw.title, MAX_TITLE, required=True)
    check_text(errors, "description", raw.description, MAX_TEXT)
    check_text(errors, "theme", raw.theme, MAX_THEME)
    categories = parse_categories(errors, "categories", raw.categories)
    indicators = parse_indicators(errors, "indicators", raw.indicators)
    partners = parse_partner_ids(errors, "partnerIds", raw.partner_ids, known_partners, raw.municipality)
    errors.raise_if_any()
    return Goal(
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
        values["status"] = _code(errors, "status", changes.status, GoalStatus)
    errors.raise_if_any()
    return Goal(**{**goal.__dict__, **values, "version": goal.version + 1, "updated_at": now})


def reactivates(before: Goal, after: Goal) -> bool:
    """A change that makes the goal count against the three-goal rule again."""
    return before.status is not GoalStatus.ACTIVE and after.status is GoalStatus.ACTIVE


# --- residents' proposals ------------------------------------------------------------------------


@dataclass(frozen=True)
class ProposalInput:
    municipality: str
    area: str
    year: int
    title: str
    description: str | None = None
    categories: Sequence[str] = ()


def check_proposal(raw: ProposalInput, now: datetime) -> list[Category]:
    errors = FieldErrors()
    check_area(errors, "area", raw.area, raw.municipality)
    check_year(errors, "year", raw.year, now)
    check_text(errors, "title", raw.title, MAX_TITLE, required=True)
    check_text(errors, "description", raw.description, MAX_TEXT)
    categories = parse_categories(errors, "categories", raw.categories)
    errors.raise_if_any()
    return categories


def check_decline_reason(reason: str) -> str:
    errors = FieldErrors()
    check_text(errors, "reason", reason, MAX_REASON, required=True)
    errors.raise_if_any()
    return reason.strip()
