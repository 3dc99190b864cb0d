"""Areas as this service knows them: a CBS code with, once loaded, a name, a year and a parent.

Any well-formed code is an area (its municipality and parent follow from the code alone); a name
and a year exist only where a wijk- en buurtkaart was loaded.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared import areas
from shared.areas import Level
from shared.errors import FieldErrors
from shared.events.codes import AreaLevel

LEVELS = {
    Level.MUNICIPALITY: AreaLevel.MUNICIPALITY,
    Level.DISTRICT: AreaLevel.DISTRICT,
    Level.NEIGHBOURHOOD: AreaLevel.NEIGHBOURHOOD,
}


@dataclass(frozen=True)
class AreaInfo:
    code: str
    level: AreaLevel
    municipality: str
    parent: str | None
    name: str | None = None
    year: int | None = None

    @classmethod
    def of(cls, code: str, name: str | None = None, year: int | None = None) -> AreaInfo:
        """The area of a well-formed code (`shared.areas.InvalidArea` otherwise)."""
        area = areas.parse(code)
        parent = area.parent
        return cls(
            code=area.code,
            level=LEVELS[area.level],
            municipality=area.municipality,
            parent=parent.code if parent else None,
            name=name,
            year=year,
        )


def check_area(errors: FieldErrors, field: str, code: object, *, levels: tuple[Level, ...] = tuple(Level)) -> str:
    """The code when well-formed and of one of `levels`; else a field error (and "")."""
    area = areas.parse_or_none(code)
    if area is None:
        errors.add(field, areas.FORM_RULE)
        return ""
    if area.level not in levels:
        names = " or ".join(f"{level.label} ({level.prefix}...)" for level in levels)
        errors.add(field, f"must be a {names}")
        return ""
    return area.code
