"""What the routers share: idempotency, paging, and loading goals with permission."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID, uuid4

from fastapi import Header
from sqlalchemy.ext.asyncio import AsyncSession

from services.goals import domain, permissions, store
from services.goals.domain import Goal, Quarter
from shared.auth import Principal
from shared.db import UnitOfWork
from shared.errors import FieldError, NotFound, ValidationFailed
from shared.events.catalog import GoalSet
from shared.events.catalog import Indicator as IndicatorData
from shared.http import JSONBody
from shared.idempotency import claim, complete, request_hash
from shared.pagination import Keyset, encode_keyset

IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]


def partner_of(principal: Principal) -> UUID | None:
    """The partner the caller acts for (partner agents, integration clients, group admins)."""
    ids = domain.candidate_partner_ids([principal.partner_id] if principal.partner_id else [])
    return ids[0] if ids else None


def page(results: list[dict[str, Any]], total: int, limit: int, last: Keyset | None) -> JSONBody:
    more = len(results) == limit and last is not None
    return JSONBody(
        {
            "results": results,
            "totalCount": total,
            "next": encode_keyset(last) if more and last else None,
        }
    )


def parse_quarter(value: str, name: str = "quarter") -> Quarter:
    try:
        return Quarter.parse(value)
    except ValueError:
        raise ValidationFailed([FieldError(name, "must be of the form YYYY-Qn, e.g. 2026-Q4")]) from None


async def idempotent(uow: UnitOfWork, key: str | None, scope: str, body: Any) -> JSONBody | None:
    if key is None:
        return None
    stored = await claim(uow.session, scope, key, request_hash(body))
    return JSONBody(stored.body, status_code=stored.status_code) if stored else None


async def finish(uow: UnitOfWork, key: str | None, scope: str, status: int, body: Any) -> JSONBody:
    if key is not None:
        await complete(uow.session, scope, key, status, body)
    await uow.commit()
    return JSONBody(body, status_code=status)


def goal_facts(goal: Goal) -> dict[str, Any]:
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


async def readable_goal(session: AsyncSession, principal: Principal, goal_id: UUID) -> Goal:
    goal = await store.get_goal(session, goal_id)
    if goal is None:
        raise NotFound("no such goal")
    permissions.may_read_goal(principal, goal.municipality, [str(p) for p in goal.partner_ids])
    return goal


async def managed_goal(session: AsyncSession, principal: Principal, goal_id: UUID) -> Goal:
    goal = await store.get_goal(session, goal_id, for_update=True)
    if goal is None:
        raise NotFound("no such goal")
    permissions.may_manage(principal, goal.municipality)
    return goal


async def known_partners(session: AsyncSession, municipality: str, ids: list[str]) -> set[UUID]:
    return await store.active_partners(session, municipality, domain.candidate_partner_ids(ids))


async def set_goal_in(uow: UnitOfWork, raw: domain.GoalInput, now: datetime, proposal_id: UUID | None) -> Goal:
    known = await known_partners(uow.session, raw.municipality, list(raw.partner_ids))
    goal = domain.new_goal(raw, goal_id=uuid4(), now=now, known_partners=known, proposal_id=proposal_id)
    await store.lock_area_year(uow.session, goal.area, goal.year)
    domain.check_room_for_active_goal(await store.count_active(uow.session, goal.area, goal.year), goal.area, goal.year)
    await store.insert_goal(uow.session, goal)
    uow.emit(
        GoalSet(**goal_facts(goal), proposal_id=proposal_id, set_at=now),
        sequence=goal.version,
        municipality=goal.municipality,
        time=now,
    )
    return goal
