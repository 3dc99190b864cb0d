"""Which partner may act where (CONTRACT.md rule 9): a partner covers an area when one of its areas
is that area or contains it, by code alone (never by geometry)."""

from __future__ import annotations

from collections.abc import Iterable

from shared import areas


def covers(partner_areas: Iterable[str], area: str) -> bool:
    target = areas.parse_or_none(area)
    if target is None:
        return False
    return any((own := areas.parse_or_none(code)) is not None and own.contains(target) for code in partner_areas)


def shown_in(area: str) -> tuple[list[str], str]:
    """What a list for `area` shows, as (the codes enclosing it, a LIKE pattern on `substr(code, 3)`
    for the codes lying in it): a WK shows its BUs, a BU those of its WK and GM."""
    parsed = areas.parse(area)
    return [a.code for a in parsed.enclosing()], parsed.code[2:] + "%"
