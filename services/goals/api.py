"""REST API of the goals service: parse, authorise, call the domain, answer (camelCase JSON).

Request bodies are parsed leniently (codes as strings) so that authorisation comes before
validation and every field error is reported at once by the domain.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID, uuid4

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema
from pydantic.alias_generators import to_camel
from sqlalchemy.ext.asyncio import AsyncSession

from services.goals import domain, measurements, permissions, store
from services.goals.chart import trend_svg
from services.goals.domain import Goal, Quarter
from shared.auth import CurrentPrincipal, Principal
from shared.db import UnitOfWork
from shared.errors import FieldError, FieldErrors, NotFound, ValidationFailed
from shared.events.catalog import GoalProposed, GoalReviewed, GoalSet, GoalUpdated
from shared.events.catalog import Indicator as IndicatorData
from shared.events.codes import Assessment, Category, Decision, Direction, GoalStatus, IndicatorKind, Role
from shared.http import JSONBody
from shared.idempotency import claim, complete, request_hash
from shared.pagination import decode_cursor, encode_cursor, page_size
from shared.runtime import RuntimeDep

router = APIRouter(prefix="/v1", tags=["goals"])

Clock = Callable[[], datetime]


def get_clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


ClockDep = Annotated[Clock, Depends(get_clock)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]


def _codes(enum: type[Any]) -> WithJsonSchema:
    return WithJsonSchema({"type": "string", "enum": [c.value for c in enum]})


CategoryCode = Annotated[str, _codes(Category)]


class In(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class IndicatorIn(In):
    kind: Annotated[str, _codes(IndicatorKind)]
    category: CategoryCode | None = None
    baseline: float | None = None
    target: float
    direction: Annotated[str, _codes(Direction)]

    def to_domain(self) -> domain.IndicatorInput:
        return domain.IndicatorInput(self.kind, self.target, self.direction, self.category, self.baseline)


class GoalIn(In):
    municipality: str
    area: str = Field(description="a WK or BU code of the municipality")
    year: int
    title: str
    description: str | None = None
    theme: str | None = None
    categories: list[CategoryCode] = []
    indicators: list[IndicatorIn] = []
    partner_ids: list[str] = []


class AdoptionIn(In):
    """The goal a proposal becomes; what is left out is taken from the proposal."""

    municipality: str | None = None
    area: str | None = None
    year: int | None = None
    title: str | None = None
    description: str | None = None
    theme: str | None = None
    categories: list[CategoryCode] | None = None
    indicators: list[IndicatorIn] = []
    partner_ids: list[str] = []


class GoalPatch(In):
    title: str | None = None
    description: str | None = None
    theme: str | None = None
    categories: list[CategoryCode] | None = None
    indicators: list[IndicatorIn] | None = None
    partner_ids: list[str] | None = None
    status: Annotated[str, _codes(GoalStatus)] | None = None


class CooperationIn(In):
    partner_id: str
    score: int


class ReviewIn(In):
    quarter: str = Field(description="YYYY-Qn, Europe/Amsterdam", examples=["2026-Q4"])
    assessment: Annotated[str, _codes(Assessment)]
    decision: Annotated[str, _codes(Decision)]
    cooperation: list[CooperationIn] = []
    notes: str | None = None


class ProposalIn(In):
    municipality: str
    area: str
    year: int
    title: str
    description: str | None = None
    categories: list[CategoryCode] = []


class DeclineIn(In):
    reason: str


# --- helpers -------------------------------------------------------------------------------------


def _rfc3339(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def _parse_ids(value: str | None, name: str = "ids") -> list[UUID] | None:
    if value is None:
        return None
    errors = FieldErrors()
    found = []
    for i, part in enumerate(p for p in value.split(",") if p.strip()):
        try:
            found.append(UUID(part.strip()))
        except ValueError:
            errors.add(f"{name}.{i}", "not a uuid")
    errors.raise_if_any()
    return found


def _after(cursor: str | None) -> tuple[datetime, UUID] | None:
    values = decode_cursor(cursor)
    if values is None:
        return None
    try:
        return datetime.fromisoformat(values[0]), UUID(values[1])
    except (ValueError, IndexError, TypeError) as exc:
        raise ValidationFailed([FieldError("after", "not a cursor this API gave out")]) from exc


def _page(results: list[dict[str, Any]], total: int, limit: int, last: tuple[datetime, UUID] | None) -> JSONBody:
    more = len(results) == limit and last is not None
    return JSONBody(
        {
            "results": results,
            "totalCount": total,
            "next": encode_cursor(last[0].isoformat(), str(last[1])) if more and last else None,
        }
    )


def _quarter(value: str, name: str = "quarter") -> Quarter:
    try:
        return Quarter.parse(value)
    except ValueError:
        errors = FieldErrors()
        errors.add(name, "must be of the form YYYY-Qn, e.g. 2026-Q4")
        errors.raise_if_any()
        raise


async def _idempotent(uow: UnitOfWork, key: str | None, scope: str, body: Any) -> JSONBody | None:
    if key is None:
        return None
    stored = await claim(uow.session, scope, key, request_hash(body))
    return JSONBody(stored.body, status_code=stored.status_code) if stored else None


async def _finish(uow: UnitOfWork, key: str | None, scope: str, status: int, body: Any) -> JSONBody:
    if key is not None:
        await complete(uow.session, scope, key, status, body)
    await uow.commit()
    return JSONBody(body, status_code=status)


def _goal_facts(goal: Goal) -> dict[str, Any]:
    return {
        "goal_id": goal.id,
        "municipality": goal.municipality,
        "area": goal.area,
        "year": goal.year,
        "categories": goal.categories,
        "indicators": [IndicatorData.model_validate(i.as_json()) for i in goal.indicators],
        "partner_ids": goal.partner_ids,
        "status": goal.status,
    }


async def _readable_goal(session: AsyncSession, principal: Principal, goal_id: UUID) -> Goal:
    goal = await store.get_goal(session, goal_id)
    if goal is None:
        raise NotFound("no such goal")
    permissions.may_read_goal(principal, goal.municipality, [str(p) for p in goal.partner_ids])
    return goal


async def _managed_goal(session: AsyncSession, principal: Principal, goal_id: UUID) -> Goal:
    goal = await store.get_goal(session, goal_id, for_update=True)
    if goal is None:
        raise NotFound("no such goal")
    permissions.may_manage(principal, goal.municipality)
    return goal


async def _known_partners(session: AsyncSession, municipality: str, ids: list[str]) -> set[UUID]:
    return await store.active_partners(session, municipality, domain.candidate_partner_ids(ids))


async def _set_goal(uow: UnitOfWork, raw: domain.GoalInput, now: datetime, proposal_id: UUID | None) -> Goal:
    known = await _known_partners(uow.session, raw.municipality, list(raw.partner_ids))
    goal = domain.new_goal(raw, goal_id=uuid4(), now=now, known_partners=known, proposal_id=proposal_id)
    await store.lock_area_year(uow.session, goal.area, goal.year)
    domain.check_room_for_active_goal(await store.count_active(uow.session, goal.area, goal.year), goal.area, goal.year)
    await store.insert_goal(uow.session, goal)
    uow.emit(
        GoalSet(**_goal_facts(goal), proposal_id=proposal_id, set_at=now),
        sequence=goal.version,
        municipality=goal.municipality,
        time=now,
    )
    return goal


# --- goals ---------------------------------------------------------------------------------------


@router.post("/goals", status_code=201, summary="Set a goal for an area and year (coordinator)")
async def set_goal(
    body: GoalIn, principal: CurrentPrincipal, runtime: RuntimeDep, clock: ClockDep, key: IdempotencyKey = None
) -> JSONBody:
    permissions.may_manage(principal, body.municipality)
    scope = f"goals.set:{principal.sub}"
    async with runtime.uow() as uow:
        if (stored := await _idempotent(uow, key, scope, body.model_dump(mode="json"))) is not None:
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
        goal = await _set_goal(uow, raw, clock(), None)
        return await _finish(uow, key, scope, 201, goal.as_json())


@router.get("/goals", summary="Goals by area, year, municipality or ids")
async def list_goals(
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    area: str | None = None,
    year: int | None = None,
    municipality: str | None = None,
    status: Annotated[str, _codes(GoalStatus)] | None = None,
    ids: Annotated[str | None, Query(description="comma-separated goal ids (batch read)")] = None,
    first: int = 50,
    after: str | None = None,
) -> JSONBody:
    limit = page_size(first)
    if municipality is not None and not principal.acts_in(municipality) and not principal.is_service:
        raise NotFound()
    visible = [municipality] if municipality else sorted(principal.municipalities)
    where = store.GoalFilter(
        municipalities=visible,
        partner_id=UUID(principal.partner_id) if principal.partner_id and not municipality else None,
        area=area,
        year=year,
        status=status,
        ids=_parse_ids(ids),
    )
    async with runtime.uow() as uow:
        goals, total = await store.list_goals(uow.session, where, limit, _after(after))
    last = (goals[-1].created_at, goals[-1].id) if goals else None
    return _page([g.as_json() for g in goals], total, limit, last)


@router.get("/goals/{goal_id}", summary="A goal")
async def get_goal(goal_id: UUID, principal: CurrentPrincipal, runtime: RuntimeDep) -> JSONBody:
    async with runtime.uow() as uow:
        goal = await _readable_goal(uow.session, principal, goal_id)
    return JSONBody(goal.as_json())


@router.patch("/goals/{goal_id}", summary="Change a goal's texts, categories, indicators, partners or status")
async def update_goal(
    goal_id: UUID, body: GoalPatch, principal: CurrentPrincipal, runtime: RuntimeDep, clock: ClockDep
) -> JSONBody:
    now = clock()
    async with runtime.uow() as uow:
        before = await _managed_goal(uow.session, principal, goal_id)
        # Partners already on the goal may stay even if deactivated since; new ones must be active.
        known = await _known_partners(uow.session, before.municipality, body.partner_ids or [])
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
            GoalUpdated(**_goal_facts(after), updated_at=now),
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
        goal = await _readable_goal(uow.session, principal, goal_id)
        q = _quarter(quarter) if quarter else Quarter.of(clock())
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
        goal = await _readable_goal(uow.session, principal, goal_id)
        series = await measurements.trend(uow.session, goal, clock())
    return Response(trend_svg(goal, series), media_type="image/svg+xml")


# --- reviews -------------------------------------------------------------------------------------


def _review_json(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "goalId": str(row["goal_id"]),
        "quarter": row["quarter"],
        "assessment": row["assessment"],
        "decision": row["decision"],
        "notes": row["notes"],
        "measurements": row["measurements"],
        "cooperation": row["cooperation"],
        "reviewedAt": _rfc3339(row["reviewed_at"]),
    }


@router.post("/goals/{goal_id}/reviews", status_code=201, summary="Record the quarterly review (coordinator)")
async def review_goal(
    goal_id: UUID,
    body: ReviewIn,
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    clock: ClockDep,
    key: IdempotencyKey = None,
) -> JSONBody:
    now = clock()
    scope = f"goals.review:{goal_id}:{principal.sub}"
    async with runtime.uow() as uow:
        goal = await _managed_goal(uow.session, principal, goal_id)
        if (stored := await _idempotent(uow, key, scope, body.model_dump(mode="json"))) is not None:
            return stored
        decision = domain.validate_review(
            goal,
            domain.ReviewInput(
                body.quarter,
                body.assessment,
                body.decision,
                [domain.CooperationInput(c.partner_id, c.score) for c in body.cooperation],
                body.notes,
            ),
            now,
        )
        if goal.status is not GoalStatus.ACTIVE:
            raise domain.GoalNotActive(goal.status)
        snapshot = [m.as_json() for m in await measurements.measurements(uow.session, goal, decision.quarter)]
        review = {
            "id": uuid4(),
            "goal_id": goal.id,
            "quarter": str(decision.quarter),
            "assessment": decision.assessment.value,
            "decision": decision.decision.value,
            "notes": domain.blank_is_none(decision.notes),
            "measurements": snapshot,
            "cooperation": [{"partnerId": str(p), "score": s} for p, s in decision.cooperation],
            "reviewed_by": principal.sub,
            "reviewed_at": now,
        }
        if not await store.insert_review(uow.session, review):
            raise domain.ReviewExists(decision.quarter)
        if decision.decision is Decision.ACHIEVED:
            goal = domain.change_goal(goal, domain.GoalChanges(status="achieved"), now=now, known_partners=())
            await store.save_goal(uow.session, goal)
            uow.emit(
                GoalUpdated(**_goal_facts(goal), updated_at=now), sequence=goal.version, municipality=goal.municipality
            )
        version = await store.bump_goal_version(uow.session, goal.id)
        uow.emit(
            GoalReviewed(
                goal_id=goal.id,
                review_id=review["id"],
                municipality=goal.municipality,
                area=goal.area,
                year=goal.year,
                quarter=str(decision.quarter),
                partner_ids=goal.partner_ids,
                assessment=decision.assessment,
                decision=decision.decision,
                reviewed_at=now,
            ),
            sequence=version,
            municipality=goal.municipality,
            time=now,
        )
        return await _finish(uow, key, scope, 201, _review_json(review))


@router.get("/goals/{goal_id}/reviews", summary="A goal's reviews, by quarter")
async def list_goal_reviews(goal_id: UUID, principal: CurrentPrincipal, runtime: RuntimeDep) -> JSONBody:
    async with runtime.uow() as uow:
        goal = await _readable_goal(uow.session, principal, goal_id)
        rows = await store.list_reviews(uow.session, [goal.id])
    return JSONBody({"results": [_review_json(r) for r in rows], "totalCount": len(rows), "next": None})


@router.get("/goal-reviews", summary="Reviews of several goals at once (batch read)")
async def list_reviews(
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    goal_ids: Annotated[str, Query(alias="goalIds", description="comma-separated goal ids")],
) -> JSONBody:
    ids = _parse_ids(goal_ids, "goalIds") or []
    where = store.GoalFilter(
        municipalities=sorted(principal.municipalities),
        partner_id=UUID(principal.partner_id) if principal.partner_id else None,
        ids=ids,
    )
    async with runtime.uow() as uow:
        goals, _ = await store.list_goals(uow.session, where, max(len(ids), 1), None)
        rows = await store.list_reviews(uow.session, [g.id for g in goals])
    return JSONBody({"results": [_review_json(r) for r in rows], "totalCount": len(rows), "next": None})


# --- statistics ----------------------------------------------------------------------------------


@router.get("/area-statistics", summary="Signal statistics of an area (GM, WK or BU) in a quarter")
async def area_statistics(
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    area: str,
    quarter: str,
    category: Annotated[list[str] | None, Query(description="repeat for several; none: all")] = None,
) -> JSONBody:
    if not principal.is_service and not principal.acts_in(domain.area_municipality(area)):
        raise NotFound()
    errors = FieldErrors()
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


# --- residents' proposals ------------------------------------------------------------------------


def _proposal_json(p: store.Proposal, principal: Principal) -> dict[str, Any]:
    return {
        "id": str(p.id),
        "municipality": p.municipality,
        "area": p.area,
        "year": p.year,
        "title": p.title,
        "description": p.description,
        "categories": p.categories,
        "groupId": str(p.group_id) if p.group_id else None,
        "supportCount": p.support_count,
        "supportedByMe": p.supported_by_me,
        "status": p.status,
        "declineReason": p.decline_reason if permissions.sees_decline_reason(principal, p.proposer) else None,
        "goalId": str(p.goal_id) if p.goal_id else None,
        "proposedAt": _rfc3339(p.proposed_at),
    }


async def _proposal(
    session: AsyncSession, principal: Principal, proposal_id: UUID, *, lock: bool = False
) -> store.Proposal:
    p = await store.get_proposal(session, proposal_id, principal.sub, for_update=lock)
    if p is None:
        raise NotFound("no such proposal")
    permissions.may_read_proposals(principal, p.municipality)
    return p


@router.post("/goal-proposals", status_code=201, summary="Propose a goal for an area and year (residents)")
async def propose_goal(
    body: ProposalIn, principal: CurrentPrincipal, runtime: RuntimeDep, clock: ClockDep, key: IdempotencyKey = None
) -> JSONBody:
    permissions.may_propose(principal, body.municipality)
    now = clock()
    scope = f"goals.propose:{principal.sub}"
    async with runtime.uow() as uow:
        if (stored := await _idempotent(uow, key, scope, body.model_dump(mode="json"))) is not None:
            return stored
        raw = domain.ProposalInput(
            body.municipality, body.area, body.year, body.title, body.description, body.categories
        )
        categories = domain.check_proposal(raw, now)
        group = principal.partner_id if principal.has(Role.GROUP_ADMIN) else None
        proposal = store.Proposal(
            id=uuid4(),
            municipality=body.municipality,
            area=body.area,
            year=body.year,
            title=body.title.strip(),
            description=domain.blank_is_none(body.description),
            categories=[c.value for c in categories],
            proposer=principal.sub,
            group_id=UUID(group) if group else None,
            status="open",
            decline_reason=None,
            goal_id=None,
            proposed_at=now,
            support_count=0,
            supported_by_me=False,
        )
        await store.insert_proposal(uow.session, proposal)
        uow.emit(
            GoalProposed(
                proposal_id=proposal.id,
                municipality=proposal.municipality,
                area=proposal.area,
                year=proposal.year,
                categories=categories,
                proposed_at=now,
            ),
            sequence=1,
            municipality=proposal.municipality,
            time=now,
        )
        return await _finish(uow, key, scope, 201, _proposal_json(proposal, principal))


@router.get("/goal-proposals", summary="Proposals by area and year, with their support")
async def list_proposals(
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    area: str | None = None,
    year: int | None = None,
    municipality: str | None = None,
    status: Annotated[str, WithJsonSchema({"type": "string", "enum": ["open", "adopted", "declined"]})] | None = None,
    first: int = 50,
    after: str | None = None,
) -> JSONBody:
    limit = page_size(first)
    if municipality is not None:
        permissions.may_read_proposals(principal, municipality)
    visible = [municipality] if municipality else sorted(principal.municipalities)
    async with runtime.uow() as uow:
        found, total = await store.list_proposals(
            uow.session, principal.sub, visible, area, year, status, limit, _after(after)
        )
    last = (found[-1].proposed_at, found[-1].id) if found else None
    return _page([_proposal_json(p, principal) for p in found], total, limit, last)


@router.get("/goal-proposals/{proposal_id}", summary="A proposal")
async def get_proposal(proposal_id: UUID, principal: CurrentPrincipal, runtime: RuntimeDep) -> JSONBody:
    async with runtime.uow() as uow:
        p = await _proposal(uow.session, principal, proposal_id)
    return JSONBody(_proposal_json(p, principal))


@router.post("/goal-proposals/{proposal_id}/support", summary="Support a proposal (once per resident)")
async def support_proposal(
    proposal_id: UUID, principal: CurrentPrincipal, runtime: RuntimeDep, clock: ClockDep
) -> JSONBody:
    async with runtime.uow() as uow:
        p = await _proposal(uow.session, principal, proposal_id)
        permissions.may_propose(principal, p.municipality)
        if p.status != "open":
            raise domain.ProposalDecided(p.status)
        await store.add_support(uow.session, p.id, principal.sub, clock())
        p = await _proposal(uow.session, principal, proposal_id)
        await uow.commit()
    return JSONBody(_proposal_json(p, principal))


@router.post("/goal-proposals/{proposal_id}/adoption", status_code=201, summary="Adopt a proposal as a goal")
async def adopt_proposal(
    proposal_id: UUID,
    body: AdoptionIn,
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    clock: ClockDep,
    key: IdempotencyKey = None,
) -> JSONBody:
    now = clock()
    scope = f"goals.adopt:{proposal_id}:{principal.sub}"
    async with runtime.uow() as uow:
        p = await _proposal(uow.session, principal, proposal_id, lock=True)
        permissions.may_manage(principal, p.municipality)
        if (stored := await _idempotent(uow, key, scope, body.model_dump(mode="json"))) is not None:
            return stored
        errors = FieldErrors()
        for name, given, own in (("municipality", body.municipality, p.municipality), ("area", body.area, p.area)):
            if given is not None and given != own:
                errors.add(name, f"must be the proposal's {name} {own}")
        if body.year is not None and body.year != p.year:
            errors.add("year", f"must be the proposal's year {p.year}")
        errors.raise_if_any()
        if p.status != "open":
            raise domain.ProposalDecided(p.status)
        raw = domain.GoalInput(
            p.municipality,
            p.area,
            p.year,
            body.title if body.title is not None else p.title,
            body.description if body.description is not None else p.description,
            body.theme,
            body.categories if body.categories is not None else p.categories,
            [i.to_domain() for i in body.indicators],
            body.partner_ids,
        )
        goal = await _set_goal(uow, raw, now, p.id)
        await store.decide_proposal(uow.session, p.id, "adopted", now, goal_id=goal.id, reason=None)
        return await _finish(uow, key, scope, 201, goal.as_json())


@router.post("/goal-proposals/{proposal_id}/decline", summary="Decline a proposal with a reason the proposer sees")
async def decline_proposal(
    proposal_id: UUID, body: DeclineIn, principal: CurrentPrincipal, runtime: RuntimeDep, clock: ClockDep
) -> JSONBody:
    async with runtime.uow() as uow:
        p = await _proposal(uow.session, principal, proposal_id, lock=True)
        permissions.may_manage(principal, p.municipality)
        reason = domain.check_decline_reason(body.reason)
        if p.status != "open":
            raise domain.ProposalDecided(p.status)
        await store.decide_proposal(uow.session, p.id, "declined", clock(), goal_id=None, reason=reason)
        p = await _proposal(uow.session, principal, proposal_id)
        await uow.commit()
    return JSONBody(_proposal_json(p, principal))
