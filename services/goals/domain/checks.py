"""Input checks the goals domain shares: each adds its field errors, so all are reported at once."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from services.goals.domain.quarters import Quarter
from shared import areas
from shared.areas import Level
from shared.errors import FieldErrors
from shared.events.codes import Category

MAX_TITLE = 200
MAX_TEXT = 4000
MAX_THEME = 100
MAX_REASON = 2000


def parse_code(errors: FieldErrors, name: str, value: str | None, codes: type[Any]) -> Any:
    if value is None:
        return None
    try:
        return codes(value)
    except ValueError:
        errors.add(name, f"must be one of {', '.join(c.value for c in codes)}")
        return None


def parse_uuid(errors: FieldErrors, name: str, value: str) -> UUID | None:
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


class Placed(Protocol):
    """What goals and proposals are given alike: an area of a municipality, a year, their texts."""

    @property
    def municipality(self) -> str: ...
    @property
    def area(self) -> str: ...
    @property
    def year(self) -> int: ...
    @property
    def title(self) -> str: ...
    @property
    def description(self) -> str | None: ...


def check_place_and_texts(errors: FieldErrors, raw: Placed, now: datetime) -> None:
    """A WK or BU of the municipality, a year near now, a title and a description of a fair length."""
    check_area(errors, "area", raw.area, raw.municipality)
    check_year(errors, "year", raw.year, now)
    check_text(errors, "title", raw.title, MAX_TITLE, required=True)
    check_text(errors, "description", raw.description, MAX_TEXT)


def blank_is_none(value: str | None) -> str | None:
    return value if value is not None and value.strip() else None


def parse_categories(errors: FieldErrors, name: str, values: Iterable[str]) -> list[Category]:
    found: list[Category] = []
    for i, value in enumerate(values):
        category = parse_code(errors, f"{name}.{i}", value, Category)
        if category is not None and category not in found:
            found.append(category)
    return found


def candidate_partner_ids(values: Iterable[str]) -> list[UUID]:
    """The well-formed ids among `values`: the ones worth looking up in the partners read model."""
    found = []
    for value in values:
        try:
            found.append(UUID(value))
        except (ValueError, AttributeError, TypeError):
            continue
    return found


def parse_partner_ids(
    errors: FieldErrors, name: str, values: Sequence[str], known: Iterable[UUID], municipality: str
) -> list[UUID]:
    known_set = set(known)
    found: list[UUID] = []
    for i, value in enumerate(values):
        partner_id = parse_uuid(errors, f"{name}.{i}", value)
        if partner_id is None:
            continue
        if partner_id not in known_set:
            errors.add(f"{name}.{i}", f"no active partner with this id in {municipality}")
        elif partner_id not in found:
            found.append(partner_id)
    return found
