"""The gateway's neighbourhood rules without servers: the contract's neighbourhood section is in the
schema, quarters, the summary's per-category counts, which goals belong to an area, and what a
report without an area is told."""

from __future__ import annotations

import re

import pytest
from graphql import build_schema

from gateway.domain import BAD_USER_INPUT, GatewayProblem, InputProblem
from gateway.neighbourhood_types import NeighbourhoodMessageConnection, listed
from gateway.neighbourhoods import (
    AREA_REQUIRED,
    by_category,
    category_counts,
    goals_of,
    point_of,
    previous_quarter,
    quarter_year,
    with_area_required,
)
from gateway.schema import build_schema as build_gateway_schema
from gateway.upstream import UpstreamError
from shared.events.codes import Category
from tests.gateway.test_schema_contract import CONTRACT, differences


def neighbourhood_contract() -> str:
    """The contract's first GraphQL block with the neighbourhood section's block added to it."""
    blocks: list[str] = re.findall(r"```graphql\n(.*?)```", CONTRACT.read_text(), re.S)
    section = next(b for b in blocks if "type NeighbourhoodSummary" in b)
    return blocks[0] + section


def test_the_schema_has_every_type_field_and_argument_of_the_neighbourhood_section() -> None:
    contract = build_schema(neighbourhood_contract())
    ours = build_schema(build_gateway_schema().as_str())
    found = differences(contract, ours)
    assert [p for p in found if "ReportSignalInput.area" not in p] == []
    assert "NeighbourhoodSummary" in ours.type_map and "areaAt" in ours.query_type.fields  # type: ignore[union-attr]


def test_report_signal_input_area_is_optional_as_the_additions_say() -> None:
    report = build_schema(build_gateway_schema().as_str()).type_map["ReportSignalInput"]
    assert str(report.fields["area"].type) == "String"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("quarter", "before", "year"),
    [("2026-Q4", "2026-Q3", 2026), ("2027-Q1", "2026-Q4", 2027), ("2026-Q5", None, None), ("Q1-2026", None, None)],
)
def test_the_quarter_before_and_the_year_of_a_quarter(quarter: str, before: str | None, year: int | None) -> None:
    assert previous_quarter(quarter) == before
    assert quarter_year(quarter) == year


def test_category_counts_follow_the_catalog_and_leave_out_categories_without_signals() -> None:
    counts = category_counts(
        {Category.LITTER_DUMPING: 3, Category.BURGLARY: 1}, {Category.LITTER_DUMPING: 5, Category.VANDALISM: 2}
    )
    assert [(c.category, c.count, c.previous) for c in counts] == [
        (Category.BURGLARY, 1, 0),
        (Category.VANDALISM, 0, 2),
        (Category.LITTER_DUMPING, 3, 5),
    ]
    assert category_counts({}, {}) == []


def test_goals_breakdown_becomes_counts_per_category() -> None:
    answer = {
        "signalCount": 4,
        "byCategory": [
            {"category": "litter_dumping", "signalCount": 3},
            {"category": "burglary", "signalCount": 1},
            {"category": "vandalism", "signalCount": 0},
            {"category": "a_category_added_later", "signalCount": 7},  # not in this gateway's catalog
        ],
    }
    assert by_category(answer) == {Category.LITTER_DUMPING: 3, Category.BURGLARY: 1, Category.VANDALISM: 0}
    assert by_category({"signalCount": 0}) == {}  # an answer without a breakdown (no quarter before)


def test_a_districts_goals_include_its_neighbourhoods_and_no_others() -> None:
    rows = [{"area": "WK047912"}, {"area": "BU04791210"}, {"area": "BU04791310"}, {"area": "GM0479"}]
    assert goals_of(rows, "WK047912") == [{"area": "WK047912"}, {"area": "BU04791210"}]
    assert goals_of(rows, "BU04791310") == [{"area": "BU04791310"}]
    assert goals_of(rows, "GM0479") == rows


def test_only_a_whole_point_on_the_globe_is_looked_up() -> None:
    assert point_of({"lat": 52.436, "lon": 4.848}) == (52.436, 4.848)
    assert point_of({"lat": 52.436}) is None
    assert point_of({"lat": 91.0, "lon": 4.8}) is None
    assert point_of({"lat": None, "lon": None}) is None


def test_a_report_without_area_is_told_why_on_area_with_the_other_fields_kept() -> None:
    problem = GatewayProblem(
        BAD_USER_INPUT,
        "Invalid input",
        400,
        (InputProblem("area", "must be a CBS code"), InputProblem("description", "must not be empty")),
    )
    explained = with_area_required(UpstreamError(problem)).problem
    assert [(f.field, f.message) for f in explained.fields] == [
        ("area", AREA_REQUIRED),
        ("description", "must not be empty"),
    ]
    assert explained.message == f"area: {AREA_REQUIRED}; description: must not be empty"
    forbidden = UpstreamError(GatewayProblem("FORBIDDEN", "Not allowed", 403))
    assert with_area_required(forbidden) is forbidden


def test_message_pages_read_the_services_list_shape() -> None:
    row = {
        "id": "m1",
        "area": "WK047912",
        "kind": "warning",
        "title": "t",
        "body": "b",
        "postedAt": "2026-12-01T10:00:00Z",
    }
    page = NeighbourhoodMessageConnection.from_rest({"results": [row], "totalCount": 3, "next": "c"})
    assert (len(page.nodes), page.total_count, page.end_cursor, page.has_next_page) == (1, 3, "c", True)
    last = NeighbourhoodMessageConnection.from_rest({"results": [row], "totalCount": 1, "next": None})
    assert (last.end_cursor, last.has_next_page) == (None, False)
    assert listed({"results": [row], "totalCount": 1, "next": None}) == [row] and listed(None) == []
