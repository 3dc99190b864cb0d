"""Indicators: what a goal measures, its target and direction, and a quarter's measurement."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from services.goals.domain.checks import parse_code
from services.goals.domain.quarters import QuarterStats
from shared.errors import FieldErrors
from shared.events.codes import Category, Direction, IndicatorKind

KINDS_NEEDING_CATEGORY = frozenset({IndicatorKind.SIGNAL_COUNT})
SHARES = frozenset({IndicatorKind.RESOLVED_SHARE, IndicatorKind.SATISFIED_SHARE})


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
        """Its value from the quarter's statistics; a `manual` one is what a coordinator recorded."""
        match self.kind:
            case IndicatorKind.SIGNAL_COUNT:
                return float(stats.signals)
            case IndicatorKind.MEDIAN_ACKNOWLEDGE_MINUTES:
                return stats.median_acknowledge_minutes
            case IndicatorKind.RESOLVED_SHARE:
                return stats.resolved_share
            case IndicatorKind.SATISFIED_SHARE:
                return stats.satisfied_share
            case IndicatorKind.INITIATIVES:
                return float(stats.initiatives)
            case IndicatorKind.PARTICIPANTS:
                return float(stats.participants)
            case _:
                return None

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
    partial: bool = False  # the quarter has not ended: the value may still change

    @property
    def on_track(self) -> bool | None:
        return self.indicator.on_track(self.value)

    def as_json(self) -> dict[str, Any]:
        return {
            "indicator": self.indicator.as_json(),
            "value": self.value,
            "previous": self.previous,
            "onTrack": self.on_track,
            "partial": self.partial,
        }


def measure(
    indicator: Indicator, current: QuarterStats, previous: QuarterStats, *, partial: bool = False
) -> Measurement:
    return Measurement(indicator, indicator.value(current), indicator.value(previous), partial)


# --- input ---------------------------------------------------------------------------------------


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
        kind = parse_code(errors, f"{at}.kind", raw.kind, IndicatorKind)
        direction = parse_code(errors, f"{at}.direction", raw.direction, Direction)
        category = parse_code(errors, f"{at}.category", raw.category, Category)
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
            elif kind in SHARES and number > 1:
                errors.add(f"{at}.{part}", "a share is between 0 and 1")
                ok = False
        if raw.baseline is not None and raw.baseline == raw.target:
            errors.add(f"{at}.target", "equals the baseline: with a direction the target must differ from it")
            ok = False
        if ok:
            found.append(Indicator(kind, float(raw.target), direction, category, raw.baseline))
    return found
