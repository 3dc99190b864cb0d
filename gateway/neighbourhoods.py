"""The neighbourhood in GraphQL: areas, residents, messages, initiatives and the quarter's summary,
from the neighbourhoods service (and, for the summary, goals' statistics), with the caller's token.

The service authorises and validates; the gateway shapes the answer. Two things are joined here:
`neighbourhoodSummary` (the service's initiatives and messages with goals' per-area statistics and
goals) and the area of a report given only as a point (`place_report`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import Mapping, Sequence
from typing import Any

import strawberry
from strawberry.types import Info

from gateway.context import GatewayContext, Row
from gateway.domain import BAD_USER_INPUT, INTERNAL, InputProblem, area_within
from gateway.inputs import to_rest
from gateway.neighbourhood_types import (
    Area,
    CategoryCount,
    Initiative,
    InitiativeStatus,
    NeighbourhoodMessage,
    NeighbourhoodMessageConnection,
    NeighbourhoodSummary,
    PostMessageInput,
    StartInitiativeInput,
    SupportKind,
    listed,
)
from gateway.types import Goal, ctx, opt_float
from gateway.upstream import UpstreamError
from shared import areas
from shared.events.codes import Category

SERVICE = "neighbourhoods"
UNSET: Any = strawberry.UNSET
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")
GOALS_PAGE = 200
PAGE = 200  # the services' largest page (shared.pagination.MAX_PAGE)


def given(value: Any) -> Any:
    return None if value is UNSET else value


# --- pure rules ----------------------------------------------------------------------------------


def previous_quarter(quarter: str) -> str | None:
    """The quarter before `2026-Q1` is `2025-Q4`; None for what is no quarter (the services say why)."""
    match = _QUARTER.match(quarter)
    if match is None:
        return None
    year, number = int(match.group(1)), int(match.group(2))
    return f"{year - 1}-Q4" if number == 1 else f"{year}-Q{number - 1}"


def quarter_year(quarter: str) -> int | None:
    match = _QUARTER.match(quarter)
    return int(match.group(1)) if match else None


def category_counts(now: Mapping[Category, int], before: Mapping[Category, int]) -> list[CategoryCount]:
    """Per category in the catalog's order; a category with nothing in either quarter is left out."""
    return [
        CategoryCount(category=category, count=now.get(category, 0), previous=before.get(category, 0))
        for category in Category
        if now.get(category, 0) or before.get(category, 0)
    ]


def goals_of(rows: Sequence[Row], area: str) -> list[Row]:
    """The goals set for `area` or for an area inside it (a WK's BUs), in the order given."""
    return [row for row in rows if area_within(str(row.get("area")), area)]


def point_of(body: Mapping[str, Any]) -> tuple[float, float] | None:
    """(lat, lon) of a report when both are given and on the globe; else None (signals says why)."""
    lat, lon = body.get("lat"), body.get("lon")
    if not isinstance(lat, (int, float)) or not isinstance(lon, (int, float)):
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return float(lat), float(lon)


AREA_REQUIRED = "required: give area, or lat/lon inside a loaded neighbourhood of the municipality"


def with_area_required(error: UpstreamError) -> UpstreamError:
    """A refused report whose area was left out and not found from the point: say so on `area`."""
    problem = error.problem
    if problem.code != BAD_USER_INPUT:
        return error
    fields = [f for f in problem.fields if f.field != "area"]
    fields.insert(0, InputProblem("area", AREA_REQUIRED))
    message = "; ".join(f"{f.field}: {f.message}" for f in fields)
    return UpstreamError(dataclasses.replace(problem, message=message, fields=tuple(fields)), error.body)


# --- calls ---------------------------------------------------------------------------------------


async def _send(c: GatewayContext, method: str, path: str, json: object = None) -> Any:
    return await c.upstream.call(SERVICE, method, path, token=c.token, json=json)


async def area_at(c: GatewayContext, lat: float, lon: float) -> Row | None:
    """The loaded neighbourhood containing the point, or None (no boundaries, or outside them)."""
    body = await c.get(SERVICE, "/v1/area-at", lat=str(lat), lon=str(lon))
    found = body.get("area") if isinstance(body, Mapping) else None
    return found if isinstance(found, dict) else None


async def place_report(c: GatewayContext, body: dict[str, Any]) -> Row:
    """POST a report; without `area` the neighbourhood at `lat`/`lon` (of the report's municipality) is used.

    The service refuses a report without an area, listing every invalid field; the gateway adds why
    the area is missing. Only an unreachable neighbourhoods service fails the report (INTERNAL).
    """
    if body.get("area"):
        row: Row = await c.post("signals", "/v1/signals", body)
        return row
    body.pop("area", None)
    point = point_of(body)
    if point is not None:
        try:
            found = await area_at(c, *point)
        except UpstreamError as exc:
            if exc.problem.code == INTERNAL:
                raise
            found = None  # the point is refused: signals names the invalid field
        if found is not None and str(found.get("municipality")) == body.get("municipality"):
            body["area"] = str(found["code"])
    try:
        placed: Row = await c.post("signals", "/v1/signals", body)
    except UpstreamError as exc:
        raise (with_area_required(exc) if "area" not in body else exc) from None
    return placed


async def _goals(c: GatewayContext, area: str, year: int) -> list[Row]:
    """The goals of `area` and the areas inside it in `year` (every page)."""
    parsed = areas.parse_or_none(area)
    if parsed is None:
        return []
    narrow = parsed.level is areas.Level.NEIGHBOURHOOD
    query: dict[str, Any] = {"area": area} if narrow else {"municipality": parsed.municipality}
    rows: list[Row] = []
    after: str | None = None
    while True:
        body = await c.get("goals", "/v1/goals", year=year, first=GOALS_PAGE, after=after, **query)
        rows.extend(listed(body))
        after = body.get("next")
        if not after:
            return goals_of(rows, area)


def by_category(answer: Mapping[str, Any]) -> dict[Category, int]:
    """Goals' `byCategory` breakdown as counts; a category this gateway does not know is left out."""
    known = {c.value: c for c in Category}
    return {
        known[str(row["category"])]: int(row.get("signalCount") or 0)
        for row in answer.get("byCategory") or []
        if str(row.get("category")) in known
    }


async def _statistics(c: GatewayContext, area: str, quarter: str) -> Row:
    """Goals' statistics of the area in the quarter, overall and per category (one read)."""
    answer: Row = await c.get("goals", "/v1/area-statistics", area=area, quarter=quarter, byCategory="true")
    return answer


async def summary(c: GatewayContext, area: str, quarter: str) -> NeighbourhoodSummary:
    """The service's summary joined with goals' statistics (this quarter and the one before, each
    overall and per category in one read) and goals, read at once; the service's own refusal
    (authorisation, then every invalid field) wins over goals'."""
    c.principal  # noqa: B018 (UNAUTHENTICATED before any call)
    year = quarter_year(quarter)
    before = previous_quarter(quarter)
    results = await asyncio.gather(
        c.get(SERVICE, "/v1/summary", area=area, quarter=quarter),
        _statistics(c, area, quarter),
        _statistics(c, area, before) if before is not None else _empty(),
        _goals(c, area, year) if year is not None else _nothing(),
        return_exceptions=True,
    )
    for result in results:
        if isinstance(result, BaseException):
            raise result
    own, overall, earlier, goal_rows = results
    assert isinstance(own, dict) and isinstance(overall, dict) and isinstance(earlier, dict)
    assert isinstance(goal_rows, list)
    return NeighbourhoodSummary(
        area=Area.from_rest(own["area"]),
        quarter=str(own.get("quarter") or quarter),
        reported=category_counts(by_category(overall), by_category(earlier)),
        resolved_share=opt_float(overall.get("resolvedShare")),
        median_acknowledge_minutes=opt_float(overall.get("medianAcknowledgeMinutes")),
        goals=[Goal.from_rest(r) for r in goal_rows],
        initiatives=[Initiative.from_rest(r) for r in own.get("initiatives") or []],
        messages=[NeighbourhoodMessage.from_rest(r) for r in own.get("messages") or []],
    )


async def _empty() -> Row:
    return {}


async def _nothing() -> list[Row]:
    return []


# --- GraphQL -------------------------------------------------------------------------------------
# Resolvers are plain functions given to `strawberry.field(resolver=..., description=...)`, so they stay typed.


async def resolve_area(info: Info, code: str) -> Area | None:
    return Area.from_rest(await ctx(info).get(SERVICE, f"/v1/areas/{code}"))


async def resolve_areas(info: Info, municipality: str, parent: str | None = UNSET) -> list[Area]:
    body = await ctx(info).get(SERVICE, "/v1/areas", municipality=municipality, parent=given(parent))
    return [Area.from_rest(r) for r in listed(body)]


async def resolve_area_at(info: Info, lat: float, lon: float) -> Area | None:
    found = await area_at(ctx(info), lat, lon)
    return Area.from_rest(found) if found else None


async def resolve_my_neighbourhoods(info: Info) -> list[Area]:
    return [Area.from_rest(r) for r in listed(await ctx(info).get(SERVICE, "/v1/me/neighbourhoods"))]


async def resolve_messages(
    info: Info, area: str, first: int | None = 50, after: str | None = UNSET
) -> NeighbourhoodMessageConnection:
    body = await ctx(info).get(
        SERVICE, "/v1/messages", area=area, first=first if first is not None else 50, after=given(after)
    )
    return NeighbourhoodMessageConnection.from_rest(body)


async def resolve_initiative(info: Info, id: strawberry.ID) -> Initiative | None:
    return Initiative.from_rest(await ctx(info).get(SERVICE, f"/v1/initiatives/{id}"))


async def resolve_initiatives(info: Info, area: str, status: list[InitiativeStatus] | None = UNSET) -> list[Initiative]:
    """Every page of the service's list (the contract's field is a plain list)."""
    statuses = given(status)
    wanted = ",".join(s.value for s in statuses) if statuses else None
    rows: list[Row] = []
    after: str | None = None
    while True:
        body = await ctx(info).get(SERVICE, "/v1/initiatives", area=area, status=wanted, first=PAGE, after=after)
        rows.extend(listed(body))
        after = body.get("next")
        if not after:
            return [Initiative.from_rest(r) for r in rows]


async def resolve_summary(info: Info, area: str, quarter: str) -> NeighbourhoodSummary:
    return await summary(ctx(info), area, quarter)


@strawberry.type
class NeighbourhoodQuery:
    """Everyone with a token for the municipality reads its areas, messages, initiatives and summaries."""

    area: Area | None = strawberry.field(
        resolver=resolve_area,
        description="every well-formed code of the caller's municipalities; name null where none is loaded",
    )
    areas: list[Area] = strawberry.field(
        resolver=resolve_areas, description="the loaded areas, children of parent (GM or WK) when given"
    )
    area_at: Area | None = strawberry.field(
        resolver=resolve_area_at,
        description="the neighbourhood (BU) containing the point; null where no boundaries are loaded",
    )
    my_neighbourhoods: list[Area] = strawberry.field(
        resolver=resolve_my_neighbourhoods, description="the neighbourhoods the calling resident lives in"
    )
    neighbourhood_messages: NeighbourhoodMessageConnection = strawberry.field(
        resolver=resolve_messages, description="newest first; a WK includes its BUs; withdrawn and expired left out"
    )
    initiative: Initiative | None = strawberry.field(resolver=resolve_initiative)
    initiatives: list[Initiative] = strawberry.field(
        resolver=resolve_initiatives, description="newest first; a WK includes its BUs; every status when none given"
    )
    neighbourhood_summary: NeighbourhoodSummary = strawberry.field(
        resolver=resolve_summary,
        description='the residents\' "je meldde, wij deden" view of an area\'s quarter ("2026-Q4"); a WK with its BUs',
    )


async def _initiative(info: Info, initiative_id: str, action: str, body: dict[str, Any] | None = None) -> Initiative:
    row = await ctx(info).post(SERVICE, f"/v1/initiatives/{initiative_id}/{action}", body or {})
    return Initiative.from_rest(row)


async def join_neighbourhood(info: Info, area: str) -> Area:
    return Area.from_rest(await _send(ctx(info), "PUT", f"/v1/me/neighbourhoods/{area}"))


async def leave_neighbourhood(info: Info, area: str) -> bool:
    body = await _send(ctx(info), "DELETE", f"/v1/me/neighbourhoods/{area}")
    return bool(body.get("left")) if isinstance(body, Mapping) else False


async def post_message(info: Info, input: PostMessageInput) -> NeighbourhoodMessage:
    return NeighbourhoodMessage.from_rest(await ctx(info).post(SERVICE, "/v1/messages", to_rest(input)))


async def withdraw_message(info: Info, id: strawberry.ID) -> NeighbourhoodMessage:
    return NeighbourhoodMessage.from_rest(await ctx(info).post(SERVICE, f"/v1/messages/{id}/withdraw"))


async def start_initiative(info: Info, input: StartInitiativeInput) -> Initiative:
    return Initiative.from_rest(await ctx(info).post(SERVICE, "/v1/initiatives", to_rest(input)))


async def join_initiative(info: Info, id: strawberry.ID) -> Initiative:
    return await _initiative(info, id, "join")


async def leave_initiative(info: Info, id: strawberry.ID) -> Initiative:
    return await _initiative(info, id, "leave")


async def pledge_support(
    info: Info,
    initiative_id: strawberry.ID,
    kind: SupportKind,
    note: str | None = UNSET,
    partner_id: strawberry.ID | None = UNSET,
) -> Initiative:
    body = {"kind": kind.value, "note": given(note), "partnerId": given(partner_id)}
    return await _initiative(info, initiative_id, "pledges", {k: v for k, v in body.items() if v is not None})


async def complete_initiative(info: Info, id: strawberry.ID, outcome: str) -> Initiative:
    return await _initiative(info, id, "complete", {"outcome": outcome})


async def stop_initiative(info: Info, id: strawberry.ID, reason: str) -> Initiative:
    return await _initiative(info, id, "stop", {"reason": reason})


@strawberry.type
class NeighbourhoodMutation:
    join_neighbourhood: Area = strawberry.mutation(
        resolver=join_neighbourhood,
        description="a resident names a neighbourhood (BU) they live in; idempotent; at most 3",
    )
    leave_neighbourhood: bool = strawberry.mutation(
        resolver=leave_neighbourhood, description="true when the caller had named it"
    )
    post_neighbourhood_message: NeighbourhoodMessage = strawberry.mutation(
        resolver=post_message,
        description="partner agents for their partner, in areas it covers; coordinators (partnerId: a partner"
        " of theirs, or none)",
    )
    withdraw_neighbourhood_message: NeighbourhoodMessage = strawberry.mutation(
        resolver=withdraw_message, description="who posted it, or a coordinator"
    )
    start_initiative: Initiative = strawberry.mutation(
        resolver=start_initiative, description="residents and group admins; the starter leads it"
    )
    join_initiative: Initiative = strawberry.mutation(resolver=join_initiative, description="residents; idempotent")
    leave_initiative: Initiative = strawberry.mutation(resolver=leave_initiative, description="residents; idempotent")
    pledge_support: Initiative = strawberry.mutation(
        resolver=pledge_support,
        description="partner agents for their partner; coordinators for a partner of theirs",
    )
    complete_initiative: Initiative = strawberry.mutation(
        resolver=complete_initiative, description="its leader or a coordinator; ACTIVE -> DONE"
    )
    stop_initiative: Initiative = strawberry.mutation(
        resolver=stop_initiative, description="its leader or a coordinator; ACTIVE -> STOPPED"
    )
