"""Quarters (`YYYY-Qn`, Europe/Amsterdam) as the summary reads them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from shared.clock import AMSTERDAM

QUARTER_FORM = re.compile(r"(\d{4})-Q([1-4])")
QUARTER_RULE = "must be of the form YYYY-Qn, e.g. 2026-Q4"


@dataclass(frozen=True)
class Quarter:
    year: int
    number: int

    @classmethod
    def parse(cls, value: str) -> Quarter | None:
        match = QUARTER_FORM.fullmatch(value)
        return cls(int(match.group(1)), int(match.group(2))) if match else None

    @property
    def starts_at(self) -> datetime:
        return datetime(self.year, 3 * self.number - 2, 1, tzinfo=AMSTERDAM).astimezone(UTC)

    @property
    def ends_at(self) -> datetime:
        """The first instant after the quarter."""
        if self.number == 4:
            return datetime(self.year + 1, 1, 1, tzinfo=AMSTERDAM).astimezone(UTC)
        return datetime(self.year, 3 * self.number + 1, 1, tzinfo=AMSTERDAM).astimezone(UTC)

    def __str__(self) -> str:
        return f"{self.year}-Q{self.number}"
