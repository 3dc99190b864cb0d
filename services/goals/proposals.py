"""REST API of residents' proposals: propose, support, adopt into a goal, or decline."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID, uuid4

from fastapi import APIRouter
from pydantic import WithJsonSchema
from sqlalchemy.ext.asyncio import AsyncSession

from services.goals import domain, permissions, store
from services.goals.bodies import AdoptionIn, DeclineIn, ProposalIn
from services.goals.web import (
    IdempotencyKey,
    finish,
    idempotent,
    page,
    partner_of,
    set_goal_in,
)
from shared.auth import CurrentPrincipal, Principal
from shared.clock import ClockDep, rfc3339
from shared.errors import FieldErrors, NotFound
from shared.events.catalog import GoalProposed
from shared.events.codes import Role
from shared.http import JSONBody
from shared.pagination import decode_keyset, page_size
from shared.runtime import RuntimeDep

router = APIRouter(prefix="/v1", tags=["proposals"])


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
        "proposedAt": rfc3339(p.proposed_at),
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
    body: ProposalIn, principal: permissions.Proposer, runtime: RuntimeDep, clock: ClockDep, key: IdempotencyKey = None
) -> JSONBody:
    permissions.may_propose(principal, body.municipality)
    now = clock.now()
    scope = f"goals.propose:{principal.sub}"
    async with runtime.uow() as uow:
        if (stored := await idempotent(uow, key, scope, body.model_dump(mode="json"))) is not None:
            return stored
        raw = domain.ProposalInput(
            body.municipality, body.area, body.year, body.title, body.description, body.categories
        )
        categories = domain.check_proposal(raw, now)
        proposal = store.Proposal(
            id=uuid4(),
            municipality=body.municipality,
            area=body.area,
            year=body.year,
            title=body.title.strip(),
            description=domain.blank_is_none(body.description),
            categories=[c.value for c in categories],
            proposer=principal.sub,
            group_id=partner_of(principal) if principal.has(Role.GROUP_ADMIN) else None,
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
        return await finish(uow, key, scope, 201, _proposal_json(proposal, principal))


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
            uow.session, principal.sub, visible, area, year, status, limit, decode_keyset(after)
        )
    last = (found[-1].proposed_at, found[-1].id) if found else None
    return page([_proposal_json(p, principal) for p in found], total, limit, last)


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
        await store.add_support(uow.session, p.id, principal.sub, clock.now())
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
    now = clock.now()
    scope = f"goals.adopt:{proposal_id}:{principal.sub}"
    async with runtime.uow() as uow:
        p = await _proposal(uow.session, principal, proposal_id, lock=True)
        permissions.may_manage(principal, p.municipality)
        if (stored := await idempotent(uow, key, scope, body.model_dump(mode="json"))) is not None:
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
        goal = await set_goal_in(uow, raw, now, p.id)
        await store.decide_proposal(uow.session, p.id, "adopted", now, goal_id=goal.id, reason=None)
        return await finish(uow, key, scope, 201, goal.as_json())


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
        await store.decide_proposal(uow.session, p.id, "declined", clock.now(), goal_id=None, reason=reason)
        p = await _proposal(uow.session, principal, proposal_id)
        await uow.commit()
    return JSONBody(_proposal_json(p, principal))
