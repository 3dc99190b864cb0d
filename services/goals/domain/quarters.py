"""Quarters and what the signals of a quarter add up to: pure Python, no I/O.

Quarters are Europe/Amsterdam quarters (`YYYY-Qn`); statistics are computed from per-signal
facts on read, so the order in which signal events arrive does not matter.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from shared.errors import FieldErrors

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
QUARTER_FORM = re.compile(r"^(\d{4})-Q([1-4])$")
QUARTER_RULE = "must be of the form YYYY-Qn, e.g. 2026-Q4"

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

    def same_quarter_last_year(self) -> Quarter:
        return Quarter(self.year - 1, self.number)

    def has_ended(self, now: datetime) -> bool:
        return now >= self.ends_at

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


def parse_quarter(errors: FieldErrors, name: str, value: str) -> Quarter | None:
    """A quarter given as text; the field error when it is not one."""
    try:
        return Quarter.parse(value)
    except ValueError:
        errors.add(name, QUARTER_RULE)
        return None


def review_due_quarter(now: datetime) -> Quarter:
    """The quarter that has most recently ended."""
    return Quarter.of(now).previous()


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
    rated: int = 0  # ratings of resolutions in the quarter (one per signal and reporter)
    satisfied: int = 0
    initiatives: int = 0  # residents' initiatives active or done in the quarter
    participants: int = 0

    @property
    def satisfied_share(self) -> float | None:
        return self.satisfied / self.rated if self.rated else None

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
