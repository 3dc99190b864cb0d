"""REST API of quarterly reviews: recorded by coordinators with the measurements snapshotted."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID, uuid4

from fastapi import APIRouter, Query

from services.goals import domain, measurements, store
from services.goals.bodies import ReviewIn
from services.goals.web import (
    IdempotencyKey,
    finish,
    goal_facts,
    idempotent,
    managed_goal,
    partner_of,
    readable_goal,
)
from shared.auth import CurrentPrincipal
from shared.clock import ClockDep, rfc3339
from shared.errors import FieldErrors
from shared.events.catalog import GoalReviewed, GoalUpdated
from shared.events.codes import Decision, GoalStatus
from shared.http import JSONBody
from shared.pagination import parse_ids
from shared.runtime import RuntimeDep

router = APIRouter(prefix="/v1", tags=["reviews"])


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
        "reviewedAt": rfc3339(row["reviewed_at"]),
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
    now = clock.now()
    scope = f"goals.review:{goal_id}:{principal.sub}"
    async with runtime.uow() as uow:
        goal = await managed_goal(uow.session, principal, goal_id)
        if (stored := await idempotent(uow, key, scope, body.model_dump(mode="json"))) is not None:
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
                GoalUpdated(**goal_facts(goal), updated_at=now), sequence=goal.version, municipality=goal.municipality
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
        return await finish(uow, key, scope, 201, _review_json(review))


@router.get("/goals/{goal_id}/reviews", summary="A goal's reviews, by quarter")
async def list_goal_reviews(goal_id: UUID, principal: CurrentPrincipal, runtime: RuntimeDep) -> JSONBody:
    async with runtime.uow() as uow:
        goal = await readable_goal(uow.session, principal, goal_id)
        rows = await store.list_reviews(uow.session, [goal.id])
    return JSONBody({"results": [_review_json(r) for r in rows], "totalCount": len(rows), "next": None})


@router.get("/goal-reviews", summary="Reviews of several goals at once (batch read)")
async def list_reviews(
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    goal_ids: Annotated[str, Query(alias="goalIds", description="comma-separated goal ids")],
) -> JSONBody:
    errors = FieldErrors()
    ids = parse_ids(goal_ids, errors, "goalIds") or []
    errors.raise_if_any()
    where = store.GoalFilter(
        municipalities=sorted(principal.municipalities),
        partner_id=partner_of(principal),
        ids=ids,
    )
    async with runtime.uow() as uow:
        goals, _ = await store.list_goals(uow.session, where, max(len(ids), 1), None)
        rows = await store.list_reviews(uow.session, [g.id for g in goals])
    return JSONBody({"results": [_review_json(r) for r in rows], "totalCount": len(rows), "next": None})
