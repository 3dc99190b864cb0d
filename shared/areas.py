"""CBS area codes as CBS writes them: the one place that parses and relates them.

`GM0363` is a municipality (gemeente: 4 digits), `WK0363AF` a district (wijk: the municipality's
digits and 2 digits or capitals), `BU0363AF08` a neighbourhood (buurt: the district's code and
2 more). A code's parents are its prefixes, so containment is a matter of characters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import IntEnum

_FORM = re.compile(r"GM\d{4}|WK\d{4}[0-9A-Z]{2}|BU\d{4}[0-9A-Z]{4}")
FORM_RULE = "must be a CBS code: GM + 4 digits, WK + 6 or BU + 8 characters (the GM digits, then digits or capitals)"
_LENGTH = {"GM": 6, "WK": 8, "BU": 10}


class Level(IntEnum):
    """How specific an area is; routing prefers the higher one."""

    MUNICIPALITY = 1
    DISTRICT = 2
    NEIGHBOURHOOD = 3

    @property
    def prefix(self) -> str:
        return ("GM", "WK", "BU")[self - 1]

    @property
    def label(self) -> str:
        return ("municipality", "district", "neighbourhood")[self - 1]


_LEVELS = {level.prefix: level for level in Level}


class InvalidArea(ValueError):
    """Not a CBS area code."""

    def __init__(self, code: object) -> None:
        super().__init__(f"{code!r}: {FORM_RULE}")
        self.code = code


@dataclass(frozen=True, order=True)
class Area:
    code: str

    @property
    def level(self) -> Level:
        return _LEVELS[self.code[:2]]

    @property
    def municipality(self) -> str:
        """The GM code the area lies in (itself for a municipality)."""
        return "GM" + self.code[2:6]

    @property
    def district(self) -> str | None:
        """The WK code of a district or neighbourhood, None for a municipality."""
        return None if self.level is Level.MUNICIPALITY else "WK" + self.code[2:8]

    @property
    def parent(self) -> Area | None:
        if self.level is Level.MUNICIPALITY:
            return None
        prefix = Level(self.level - 1).prefix
        return Area(prefix + self.code[2 : _LENGTH[prefix]])

    def enclosing(self) -> list[Area]:
        """The area itself and every area that contains it, most specific first."""
        chain: list[Area] = [self]
        while (parent := chain[-1].parent) is not None:
            chain.append(parent)
        return chain

    def contains(self, other: Area) -> bool:
        """Whether `other` is this area or lies in it."""
        return other.level >= self.level and other.code[2 : _LENGTH[self.code[:2]]] == self.code[2:]

    def lies_in(self, municipality: str) -> bool:
        return self.municipality == municipality

    def neighbourhoods_like(self) -> str:
        """A SQL LIKE pattern matching the BU codes that lie in this area."""
        return "BU" + self.code[2:] + "%"

    def __str__(self) -> str:
        return self.code


def is_area(code: object) -> bool:
    return isinstance(code, str) and bool(_FORM.fullmatch(code))


def parse(code: object) -> Area:
    """The area of a CBS code; `InvalidArea` when it is none."""
    if not is_area(code):
        raise InvalidArea(code)
    assert isinstance(code, str)
    return Area(code)


def parse_or_none(code: object) -> Area | None:
    return Area(code) if isinstance(code, str) and is_area(code) else None


def is_municipality(code: object) -> bool:
    area = parse_or_none(code)
    return area is not None and area.level is Level.MUNICIPALITY


def overlap(a: str, b: str) -> bool:
    """Whether one of two codes lies in the other (a GM and its WK, a WK and its BU, or equal)."""
    x, y = parse_or_none(a), parse_or_none(b)
    return x is not None and y is not None and (x.contains(y) or y.contains(x))
