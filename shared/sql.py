"""Building the WHERE of a list query filter by filter, with its bound parameters."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Where:
    conditions: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)

    def add(self, condition: str, **params: Any) -> None:
        self.conditions.append(condition)
        self.params.update(params)

    def given(self, value: object, condition: str, **params: Any) -> None:
        """Add `condition` only when the filter was given (not None, not an empty list)."""
        if value is not None and value != []:
            self.add(condition, **params)

    @property
    def sql(self) -> str:
        return " AND ".join(self.conditions) or "TRUE"
