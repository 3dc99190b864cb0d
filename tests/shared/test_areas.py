"""CBS area codes as CBS writes them, letters included (Amsterdam's WK0363AF, BU0363AF08)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared import areas
from shared.areas import Area, InvalidArea, Level


@pytest.mark.parametrize(
    ("code", "level", "municipality", "district"),
    [
        ("GM0363", Level.MUNICIPALITY, "GM0363", None),
        ("WK036301", Level.DISTRICT, "GM0363", "WK036301"),
        ("WK0363AF", Level.DISTRICT, "GM0363", "WK0363AF"),
        ("BU04790101", Level.NEIGHBOURHOOD, "GM0479", "WK047901"),
        ("BU0363AF08", Level.NEIGHBOURHOOD, "GM0363", "WK0363AF"),
        ("BU0363AFZZ", Level.NEIGHBOURHOOD, "GM0363", "WK0363AF"),
    ],
)
def test_real_cbs_codes_parse_with_their_level_municipality_and_district(
    code: str, level: Level, municipality: str, district: str | None
) -> None:
    area = areas.parse(code)
    assert (area.level, area.municipality, area.district) == (level, municipality, district)
    assert areas.is_area(code)


@pytest.mark.parametrize(
    "code",
    [
        "",
        "GM363",
        "GM03630",
        "GMABCD",
        "WK0363A",
        "wk0363af",
        "WK03a3AF",
        "BU0363AF0",
        "BU0363af08",
        "XX036301",
        "WK036301\n",
        363,
    ],
)
def test_what_cbs_does_not_write_is_no_area(code: object) -> None:
    assert not areas.is_area(code)
    assert areas.parse_or_none(code) is None
    with pytest.raises(InvalidArea):
        areas.parse(code)


def test_a_neighbourhood_lies_in_its_district_which_lies_in_its_municipality() -> None:
    bu = areas.parse("BU0363AF08")
    assert [a.code for a in bu.enclosing()] == ["BU0363AF08", "WK0363AF", "GM0363"]
    assert bu.parent == Area("WK0363AF")
    assert Area("GM0363").parent is None
    assert Area("WK0363AF").contains(bu) and Area("GM0363").contains(bu) and bu.contains(bu)
    assert not bu.contains(Area("WK0363AF"))
    assert not Area("WK0363AE").contains(bu)
    assert not Area("GM0479").contains(bu)
    assert bu.lies_in("GM0363") and not bu.lies_in("GM0479")


def test_the_neighbourhoods_of_a_district_are_matched_by_their_prefix() -> None:
    assert areas.parse("WK0363AF").neighbourhoods_like() == "BU0363AF%"


def test_only_a_gm_code_is_a_municipality() -> None:
    assert areas.is_municipality("GM0479")
    assert not any(areas.is_municipality(code) for code in ("WK047901", "GM047", None))


digits = st.from_regex(r"\A\d{4}\Z")
part = st.from_regex(r"\A[0-9A-Z]{2}\Z")


@given(digits, part, part, part)
def test_codes_nest_by_their_characters(gm: str, wk: str, bu: str, other: str) -> None:
    municipality, district, neighbourhood = f"GM{gm}", f"WK{gm}{wk}", f"BU{gm}{wk}{bu}"
    for a, b in [(municipality, district), (district, neighbourhood), (municipality, neighbourhood)]:
        assert areas.overlap(a, b) and areas.overlap(b, a)
    if other != wk:
        assert not areas.overlap(f"WK{gm}{other}", neighbourhood)
    assert areas.parse(neighbourhood).enclosing() == [Area(neighbourhood), Area(district), Area(municipality)]
