"""REST API of goals: set, read, list, change; measurements, trend chart, area statistics."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response

from services.goals import domain, measurements, permissions, store
from services.goals.bodies import GoalIn, GoalPatch, codes
from services.goals.chart import trend_svg
from services.goals.domain import Quarter
from services.goals.web import (
    IdempotencyKey,
    finish,
    goal_facts,
    idempotent,
    known_partners,
    managed_goal,
    page,
    parse_quarter,
    partner_of,
    readable_goal,
    set_goal_in,
)
from shared import areas
from shared.auth import CurrentPrincipal
from shared.clock import ClockDep
from shared.errors import FieldErrors, NotFound
from shared.events.catalog import GoalUpdated
from shared.events.codes import GoalStatus
from shared.http import JSONBody
from shared.pagination import decode_keyset, page_size, parse_ids
from shared.runtime import RuntimeDep

router = APIRouter(prefix="/v1", tags=["goals"])


@router.post("/goals", status_code=201, summary="Set a goal for an area and year (coordinator)")
async def set_goal(
    body: GoalIn, principal: permissions.Manager, runtime: RuntimeDep, clock: ClockDep, key: IdempotencyKey = None
) -> JSONBody:
    permissions.may_manage(principal, body.municipality)
    scope = f"goals.set:{principal.sub}"
    async with runtime.uow() as uow:
        if (stored := await idempotent(uow, key, scope, body.model_dump(mode="json"))) is not None:
            return stored
        raw = domain.GoalInput(
            body.municipality,
            body.area,
            body.year,
            body.title,
            body.description,
            body.theme,
            body.categories,
            [i.to_domain() for i in body.indicators],
            body.partner_ids,
        )
        goal = await set_goal_in(uow, raw, clock.now(), None)
        return await finish(uow, key, scope, 201, goal.as_json())


@router.get("/goals", summary="Goals by area, year, municipality or ids")
async def list_goals(
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    area: str | None = None,
    year: int | None = None,
    municipality: str | None = None,
    status: Annotated[str, codes(GoalStatus)] | None = None,
    ids: Annotated[str | None, Query(description="comma-separated goal ids (batch read)")] = None,
    first: int = 50,
    after: str | None = None,
) -> JSONBody:
    limit = page_size(first)
    errors = FieldErrors()
    ids_wanted = parse_ids(ids, errors)
    errors.raise_if_any()
    if municipality is not None and not principal.acts_in(municipality) and not principal.is_service:
        raise NotFound()
    visible = [municipality] if municipality else sorted(principal.municipalities)
    where = store.GoalFilter(
        municipalities=visible,
        partner_id=None if municipality else partner_of(principal),
        area=area,
        year=year,
        status=status,
        ids=ids_wanted,
    )
    async with runtime.uow() as uow:
        goals, total = await store.list_goals(uow.session, where, limit, decode_keyset(after))
    last = (goals[-1].created_at, goals[-1].id) if goals else None
    return page([g.as_json() for g in goals], total, limit, last)


@router.get("/goals/{goal_id}", summary="A goal")
async def get_goal(goal_id: UUID, principal: CurrentPrincipal, runtime: RuntimeDep) -> JSONBody:
    async with runtime.uow() as uow:
        goal = await readable_goal(uow.session, principal, goal_id)
    return JSONBody(goal.as_json())


@router.patch("/goals/{goal_id}", summary="Change a goal's texts, categories, indicators, partners or status")
async def update_goal(
    goal_id: UUID, body: GoalPatch, principal: CurrentPrincipal, runtime: RuntimeDep, clock: ClockDep
) -> JSONBody:
    now = clock.now()
    async with runtime.uow() as uow:
        before = await managed_goal(uow.session, principal, goal_id)
        # Partners already on the goal may stay even if deactivated since; new ones must be active.
        known = await known_partners(uow.session, before.municipality, body.partner_ids or [])
        known.update(before.partner_ids)
        changes = domain.GoalChanges(
            title=body.title,
            description=body.description,
            theme=body.theme,
            categories=body.categories,
            indicators=None if body.indicators is None else [i.to_domain() for i in body.indicators],
            partner_ids=body.partner_ids,
            status=body.status,
        )
        after = domain.change_goal(before, changes, now=now, known_partners=known)
        if domain.reactivates(before, after):
            await store.lock_area_year(uow.session, after.area, after.year)
            active = await store.count_active(uow.session, after.area, after.year, excluding=after.id)
            domain.check_room_for_active_goal(active, after.area, after.year)
        await store.save_goal(uow.session, after)
        uow.emit(
            GoalUpdated(**goal_facts(after), updated_at=now),
            sequence=after.version,
            municipality=after.municipality,
            time=now,
        )
        await uow.commit()
    return JSONBody(after.as_json())


@router.get("/goals/{goal_id}/measurements", summary="The goal's indicators measured in a quarter")
async def get_measurements(
    goal_id: UUID,
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    clock: ClockDep,
    quarter: Annotated[str | None, Query(description="YYYY-Qn; the current quarter when left out")] = None,
) -> JSONBody:
    async with runtime.uow() as uow:
        goal = await readable_goal(uow.session, principal, goal_id)
        q = parse_quarter(quarter) if quarter else Quarter.of(clock.now())
        found = await measurements.measurements(uow.session, goal, q)
    return JSONBody([m.as_json() for m in found])


@router.get(
    "/goals/{goal_id}/trend.svg",
    summary="The goal's indicators per quarter against target and baseline (SVG)",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}}},
)
async def get_trend(goal_id: UUID, principal: CurrentPrincipal, runtime: RuntimeDep, clock: ClockDep) -> Response:
    async with runtime.uow() as uow:
        goal = await readable_goal(uow.session, principal, goal_id)
        series = await measurements.trend(uow.session, goal, clock.now())
    return Response(trend_svg(goal, series), media_type="image/svg+xml")


# --- statistics ----------------------------------------------------------------------------------


@router.get("/area-statistics", summary="Signal statistics of an area (GM, WK or BU) in a quarter")
async def area_statistics(
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    area: str,
    quarter: str,
    category: Annotated[list[str] | None, Query(description="repeat for several; none: all")] = None,
) -> JSONBody:
    errors = FieldErrors()
    parsed = areas.parse_or_none(area)
    if parsed is None:
        errors.add("area", areas.FORM_RULE)
    elif not principal.is_service and not principal.acts_in(parsed.municipality):
        raise NotFound()
    q = None
    try:
        q = Quarter.parse(quarter)
    except ValueError:
        errors.add("quarter", "must be of the form YYYY-Qn, e.g. 2026-Q4")
    categories = domain.parse_categories(errors, "category", category or [])
    errors.raise_if_any()
    assert q is not None
    async with runtime.uow() as uow:
        stats = (await store.quarter_stats(uow.session, area, categories, [q]))[q]
    return JSONBody(
        {
            "area": area,
            "quarter": str(q),
            "categories": [c.value for c in categories],
            "signalCount": stats.signals,
            "resolvedCount": stats.resolved,
            "resolvedShare": stats.resolved_share,
            "acknowledgedCount": len(stats.acknowledge_minutes),
            "medianAcknowledgeMinutes": stats.median_acknowledge_minutes,
            "p90AcknowledgeMinutes": stats.p90_acknowledge_minutes,
        }
    )
