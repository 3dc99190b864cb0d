"""REST for goals, their reviews and residents' proposals: parse, call a handler, answer (camelCase
JSON). One router per concept, so the OpenAPI document groups them."""

from __future__ import annotations

import functools
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Header, Query, Response
from pydantic import BaseModel, WithJsonSchema

from services.goals import handlers, permissions, review_api
from services.goals.bodies import (
    AdoptionIn,
    ContinuationIn,
    DeclineIn,
    GoalIn,
    GoalPatch,
    ManualMeasurementIn,
    ProposalIn,
    ReviewIn,
    codes,
)
from services.goals.chart import trend_svg
from services.goals.domain import CooperationInput, GoalChanges, ProposalInput, ReviewInput
from services.goals.views import goal_json, proposal_json, review_json
from shared.auth import CurrentPrincipal
from shared.clock import ClockDep
from shared.crypto import SecretBox
from shared.errors import FieldErrors
from shared.events.codes import GoalStatus
from shared.http import JSONBody
from shared.idempotency import Created, Once, request_hash
from shared.pagination import Keyset, listing, page_size, parse_ids
from shared.runtime import RuntimeDep, ServiceRuntime

goals = APIRouter(prefix="/v1", tags=["goals"])
reviews = APIRouter(prefix="/v1", tags=["reviews"])
proposals = APIRouter(prefix="/v1", tags=["proposals"])
internal = APIRouter(prefix="/internal/v1", tags=["internal"])
routers = [goals, reviews, proposals, review_api.router, internal]

IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]
ProposalStatus = Annotated[str, WithJsonSchema({"type": "string", "enum": ["open", "adopted", "declined"]})]


@functools.cache
def _secret_box(key_material: str) -> SecretBox:
    return SecretBox(key_material)


def _box(runtime: ServiceRuntime) -> SecretBox | None:
    """Proposers' addresses are sealed with the service's SECRETS_KEY (None when none is configured)."""
    key = runtime.settings.secrets_key
    return _secret_box(key) if key else None


def _once(key: str | None, body: BaseModel) -> Once:
    return Once(key, request_hash(body.model_dump(mode="json")))


def _created(created: Created) -> JSONBody:
    return JSONBody(created.body, status_code=created.status)


def _page(results: list[dict[str, Any]], total: int, limit: int, last: Keyset | None) -> JSONBody:
    """A page of a list; `next` only when the page is full."""
    more = len(results) == limit and last is not None
    return JSONBody(listing(results, total, last if more else None))


def _all(results: list[dict[str, Any]]) -> JSONBody:
    """A list that is never paged."""
    return JSONBody(listing(results, len(results), None))


# --- goals ---------------------------------------------------------------------------------------


@goals.post("/goals", status_code=201, summary="Set a goal for an area and year (coordinator)")
async def set_goal(
    body: GoalIn, principal: permissions.Manager, runtime: RuntimeDep, clock: ClockDep, key: IdempotencyKey = None
) -> JSONBody:
    async with runtime.uow() as uow:
        cmd = handlers.SetGoal(body.to_domain(), _once(key, body))
        created = await handlers.set_goal(uow, cmd, principal, clock)
    return _created(created)


@goals.get("/goals", summary="Goals by area, year, municipality or ids")
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
    q = handlers.ListGoals(municipality, area, year, status, ids_wanted, limit, after)
    async with runtime.uow() as uow:
        found, total = await handlers.list_goals(uow, q, principal)
    last = (found[-1].created_at, found[-1].id) if found else None
    return _page([goal_json(g) for g in found], total, limit, last)


@goals.get("/goals/{goal_id}", summary="A goal")
async def get_goal(goal_id: UUID, principal: CurrentPrincipal, runtime: RuntimeDep) -> JSONBody:
    async with runtime.uow() as uow:
        goal = await handlers.read_goal(uow, goal_id, principal)
    return JSONBody(goal_json(goal))


@goals.patch("/goals/{goal_id}", summary="Change a goal's texts, categories, indicators, partners or status")
async def update_goal(
    goal_id: UUID, body: GoalPatch, principal: CurrentPrincipal, runtime: RuntimeDep, clock: ClockDep
) -> JSONBody:
    changes = GoalChanges(
        title=body.title,
        description=body.description,
        theme=body.theme,
        categories=body.categories,
        indicators=None if body.indicators is None else [i.to_domain() for i in body.indicators],
        partner_ids=body.partner_ids,
        status=body.status,
    )
    async with runtime.uow() as uow:
        goal = await handlers.update_goal(uow, handlers.UpdateGoal(goal_id, changes), principal, clock)
    return JSONBody(goal_json(goal))


@goals.post(
    "/goals/{goal_id}/continuation",
    status_code=201,
    summary="The goal again in the next year, each baseline its last measured value (coordinator)",
)
async def continue_goal(
    goal_id: UUID, body: ContinuationIn, principal: permissions.Manager, runtime: RuntimeDep, clock: ClockDep
) -> JSONBody:
    async with runtime.uow() as uow:
        goal = await handlers.continue_goal(uow, handlers.ContinueGoal(goal_id, body.year), principal, clock)
    return JSONBody(goal_json(goal), status_code=201)


@goals.post("/goals/{goal_id}/measurements", summary="Record the value of a manual indicator in a quarter")
async def record_measurement(
    goal_id: UUID, body: ManualMeasurementIn, principal: permissions.Manager, runtime: RuntimeDep, clock: ClockDep
) -> JSONBody:
    cmd = handlers.RecordMeasurement(goal_id, body.indicator, body.quarter, body.value, body.source)
    async with runtime.uow() as uow:
        goal = await handlers.record_measurement(uow, cmd, principal, clock)
    return JSONBody(goal_json(goal))


@goals.get("/goals/{goal_id}/measurements", summary="The goal's indicators measured in a quarter")
async def get_measurements(
    goal_id: UUID,
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    clock: ClockDep,
    quarter: Annotated[str | None, Query(description="YYYY-Qn; the current quarter when left out")] = None,
) -> JSONBody:
    async with runtime.uow() as uow:
        found = await handlers.measure_goal(uow, goal_id, quarter, principal, clock)
    return JSONBody([m.as_json() for m in found])


@goals.get(
    "/goals/{goal_id}/trend.svg",
    summary="The goal's indicators per quarter against target and baseline (SVG)",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}}},
)
async def get_trend(goal_id: UUID, principal: CurrentPrincipal, runtime: RuntimeDep, clock: ClockDep) -> Response:
    async with runtime.uow() as uow:
        goal, series = await handlers.goal_trend(uow, goal_id, principal, clock)
    return Response(trend_svg(goal, series), media_type="image/svg+xml")


@goals.get("/area-statistics", summary="Signal statistics of an area (GM, WK or BU) in a quarter")
async def area_statistics(
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    area: str,
    quarter: str,
    category: Annotated[list[str] | None, Query(description="repeat for several; none: all")] = None,
    by_category: Annotated[
        bool, Query(alias="byCategory", description="also the signal count per category (of those asked)")
    ] = False,
) -> JSONBody:
    async with runtime.uow() as uow:
        asked = handlers.AreaStatistics(area, quarter, category or [], by_category)
        found = await handlers.area_statistics(uow, asked, principal)
    stats = found.stats
    body: dict[str, Any] = {
        "area": found.area,
        "quarter": str(found.quarter),
        "categories": [c.value for c in found.categories],
        "signalCount": stats.signals,
        "resolvedCount": stats.resolved,
        "resolvedShare": stats.resolved_share,
        "acknowledgedCount": len(stats.acknowledge_minutes),
        "medianAcknowledgeMinutes": stats.median_acknowledge_minutes,
        "p90AcknowledgeMinutes": stats.p90_acknowledge_minutes,
    }
    if found.by_category is not None:
        body["byCategory"] = [{"category": c.value, "signalCount": n} for c, n in found.by_category.items()]
    return JSONBody(body)


# --- reviews -------------------------------------------------------------------------------------


@reviews.post("/goals/{goal_id}/reviews", status_code=201, summary="Record the quarterly review (coordinator)")
async def review_goal(
    goal_id: UUID,
    body: ReviewIn,
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    clock: ClockDep,
    key: IdempotencyKey = None,
) -> JSONBody:
    cooperation = [CooperationInput(c.partner_id, c.score) for c in body.cooperation]
    review = ReviewInput(body.quarter, body.assessment, body.decision, cooperation, body.notes)
    async with runtime.uow() as uow:
        cmd = handlers.RecordReview(goal_id, review, _once(key, body))
        created = await handlers.record_review(uow, cmd, principal, clock)
    return _created(created)


@reviews.get("/goals/{goal_id}/reviews", summary="A goal's reviews, by quarter")
async def list_goal_reviews(goal_id: UUID, principal: CurrentPrincipal, runtime: RuntimeDep) -> JSONBody:
    async with runtime.uow() as uow:
        found = await handlers.goal_reviews(uow, goal_id, principal)
    return _all([review_json(r) for r in found])


@reviews.get("/goal-reviews", summary="Reviews of several goals at once (batch read)")
async def list_reviews(
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    goal_ids: Annotated[str, Query(alias="goalIds", description="comma-separated goal ids")],
) -> JSONBody:
    errors = FieldErrors()
    ids = parse_ids(goal_ids, errors, "goalIds") or []
    errors.raise_if_any()
    async with runtime.uow() as uow:
        found = await handlers.reviews_of(uow, ids, principal)
    return _all([review_json(r) for r in found])


# --- residents' proposals ------------------------------------------------------------------------


@proposals.post("/goal-proposals", status_code=201, summary="Propose a goal for an area and year (residents)")
async def propose_goal(
    body: ProposalIn, principal: permissions.Proposer, runtime: RuntimeDep, clock: ClockDep, key: IdempotencyKey = None
) -> JSONBody:
    raw = ProposalInput(
        body.municipality, body.area, body.year, body.title, body.description, body.categories, body.contact_email
    )
    async with runtime.uow() as uow:
        cmd = handlers.Propose(raw, _once(key, body))
        created = await handlers.propose(uow, cmd, principal, clock, box=_box(runtime))
    return _created(created)


@proposals.get("/goal-proposals", summary="Proposals by area and year, with their support")
async def list_proposals(
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    area: str | None = None,
    year: int | None = None,
    municipality: str | None = None,
    status: ProposalStatus | None = None,
    first: int = 50,
    after: str | None = None,
) -> JSONBody:
    limit = page_size(first)
    q = handlers.ListProposals(municipality, area, year, status, limit, after)
    async with runtime.uow() as uow:
        found, total = await handlers.list_proposals(uow, q, principal)
    last = (found[-1].proposed_at, found[-1].id) if found else None
    return _page([proposal_json(p, principal) for p in found], total, limit, last)


@proposals.get("/goal-proposals/{proposal_id}", summary="A proposal")
async def get_proposal(proposal_id: UUID, principal: CurrentPrincipal, runtime: RuntimeDep) -> JSONBody:
    async with runtime.uow() as uow:
        p = await handlers.read_proposal(uow, proposal_id, principal)
    return JSONBody(proposal_json(p, principal))


@proposals.post("/goal-proposals/{proposal_id}/support", summary="Support a proposal (once per resident)")
async def support_proposal(
    proposal_id: UUID, principal: CurrentPrincipal, runtime: RuntimeDep, clock: ClockDep
) -> JSONBody:
    async with runtime.uow() as uow:
        p = await handlers.support(
            uow, handlers.Support(proposal_id), principal, clock, resident_ref_key=runtime.settings.resident_ref_key
        )
    return JSONBody(proposal_json(p, principal))


@proposals.post("/goal-proposals/{proposal_id}/adoption", status_code=201, summary="Adopt a proposal as a goal")
async def adopt_proposal(
    proposal_id: UUID,
    body: AdoptionIn,
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    clock: ClockDep,
    key: IdempotencyKey = None,
) -> JSONBody:
    cmd = handlers.Adopt(
        proposal_id,
        body.municipality,
        body.area,
        body.year,
        body.title,
        body.description,
        body.theme,
        body.categories,
        [i.to_domain() for i in body.indicators],
        body.partner_ids,
        _once(key, body),
    )
    async with runtime.uow() as uow:
        created = await handlers.adopt(uow, cmd, principal, clock)
    return _created(created)


@proposals.post("/goal-proposals/{proposal_id}/decline", summary="Decline a proposal with a reason the proposer sees")
async def decline_proposal(
    proposal_id: UUID, body: DeclineIn, principal: CurrentPrincipal, runtime: RuntimeDep, clock: ClockDep
) -> JSONBody:
    async with runtime.uow() as uow:
        p = await handlers.decline(uow, handlers.Decline(proposal_id, body.reason), principal, clock)
    return JSONBody(proposal_json(p, principal))


@internal.get("/goal-proposals/{proposal_id}/contact", summary="The proposer's address (notifications only)")
async def proposal_contact(proposal_id: UUID, principal: CurrentPrincipal, runtime: RuntimeDep) -> JSONBody:
    async with runtime.uow() as uow:
        email = await handlers.read_contact(uow, proposal_id, principal, _box(runtime))
    return JSONBody({"email": email})
