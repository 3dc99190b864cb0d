"""The goals service's use cases, one plain async function each: `(uow, command, principal, clock)`.

The API and the periodic task call these; none of them knows HTTP. Goals and proposals raise
their events and the unit of work writes them to the outbox when it commits. Rules broken are
domain errors (`shared.errors`), rendered to problem+json in one place.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from services.goals import measurements, permissions, read_models
from services.goals.domain import (
    Goal,
    GoalChanges,
    GoalInput,
    Indicator,
    IndicatorInput,
    Measurement,
    Proposal,
    ProposalInput,
    Quarter,
    QuarterStats,
    Review,
    ReviewExists,
    ReviewInput,
    candidate_partner_ids,
    check_manual_measurement,
    check_room_for_active_goal,
    new_goal,
    parse_categories,
    parse_quarter,
    review_due_quarter,
    validate_review,
)
from services.goals.domain import continue_goal as domain_continue_goal
from services.goals.store import GoalFilter, GoalStore, ProposalStore
from services.goals.views import goal_json, proposal_json, review_json
from shared import areas
from shared.auth import Principal
from shared.clock import Clock
from shared.crypto import SecretBox, resident_ref
from shared.db import UnitOfWork
from shared.errors import FieldErrors, NotFound
from shared.events.codes import Category, Role
from shared.idempotency import Created, Once, create_once
from shared.observability import get_logger
from shared.pagination import decode_keyset

log = get_logger(__name__)

# --- goals ---------------------------------------------------------------------------------------


async def _readable_goal(uow: UnitOfWork, goal_id: UUID, principal: Principal) -> Goal:
    goal = await GoalStore(uow).get(goal_id)
    if goal is None:
        raise NotFound("no such goal")
    permissions.may_read_goal(principal, goal)
    return goal


async def _managed_goal(goals: GoalStore, goal_id: UUID, principal: Principal) -> Goal:
    """The goal, locked for this transaction, if the caller coordinates its municipality."""
    goal = await goals.get(goal_id, for_update=True)
    if goal is None:
        raise NotFound("no such goal")
    permissions.may_manage(principal, goal.municipality)
    return goal


async def _known_partners(uow: UnitOfWork, municipality: str, ids: Sequence[str]) -> set[UUID]:
    return await read_models.active_partners(uow.session, municipality, candidate_partner_ids(ids))


async def _check_room(goals: GoalStore, goal: Goal) -> None:
    """The three-goal rule, serialised per area and year."""
    await goals.lock_area_year(goal.area, goal.year)
    active = await goals.count_active(goal.area, goal.year, excluding=goal.id)
    check_room_for_active_goal(active, goal.area, goal.year)


async def _add_goal(uow: UnitOfWork, raw: GoalInput, now: datetime, proposal_id: UUID | None) -> Goal:
    goals = GoalStore(uow)
    known = await _known_partners(uow, raw.municipality, raw.partner_ids)
    goal = new_goal(raw, goal_id=uuid4(), now=now, known_partners=known, proposal_id=proposal_id)
    await _check_room(goals, goal)
    await goals.add(goal)
    return goal


@dataclass(frozen=True)
class SetGoal:
    goal: GoalInput
    once: Once


async def set_goal(uow: UnitOfWork, cmd: SetGoal, principal: Principal, clock: Clock) -> Created:
    permissions.may_manage(principal, cmd.goal.municipality)

    async def create() -> dict[str, Any]:
        return goal_json(await _add_goal(uow, cmd.goal, clock.now(), None))

    return await create_once(uow, cmd.once, f"goals.set:{principal.sub}", create)


@dataclass(frozen=True)
class UpdateGoal:
    goal_id: UUID
    changes: GoalChanges


async def update_goal(uow: UnitOfWork, cmd: UpdateGoal, principal: Principal, clock: Clock) -> Goal:
    goals = GoalStore(uow)
    goal = await _managed_goal(goals, cmd.goal_id, principal)
    # Partners already on the goal may stay even if deactivated since; new ones must be active.
    known = await _known_partners(uow, goal.municipality, cmd.changes.partner_ids or [])
    known.update(goal.partner_ids)
    if goal.change(cmd.changes, now=clock.now(), known_partners=known):
        await _check_room(goals, goal)
    await goals.save(goal)
    await uow.commit()
    return goal


async def read_goal(uow: UnitOfWork, goal_id: UUID, principal: Principal) -> Goal:
    return await _readable_goal(uow, goal_id, principal)


@dataclass(frozen=True)
class ListGoals:
    municipality: str | None
    area: str | None
    year: int | None
    status: str | None
    ids: list[UUID] | None
    limit: int
    after: str | None


async def list_goals(uow: UnitOfWork, q: ListGoals, principal: Principal) -> tuple[list[Goal], int]:
    municipalities, partner_id = permissions.readable_goals(principal, q.municipality)
    where = GoalFilter(municipalities, partner_id, q.area, q.year, q.status, q.ids)
    return await GoalStore(uow).find(where, q.limit, decode_keyset(q.after))


async def measure_goal(
    uow: UnitOfWork, goal_id: UUID, quarter: str | None, principal: Principal, clock: Clock
) -> list[Measurement]:
    """The goal's indicators in `quarter` (YYYY-Qn; the current quarter when None)."""
    goal = await _readable_goal(uow, goal_id, principal)
    errors = FieldErrors()
    q = parse_quarter(errors, "quarter", quarter) if quarter else Quarter.of(clock.now())
    errors.raise_if_any()
    assert q is not None
    return await measurements.measurements(uow.session, goal, q, clock.now())


async def goal_trend(
    uow: UnitOfWork, goal_id: UUID, principal: Principal, clock: Clock
) -> tuple[Goal, list[tuple[Indicator, list[float | None]]]]:
    goal = await _readable_goal(uow, goal_id, principal)
    return goal, await measurements.trend(uow.session, goal, clock.now())


@dataclass(frozen=True)
class AreaStatistics:
    area: str
    quarter: str
    categories: list[str]
    by_category: bool = False


@dataclass(frozen=True)
class AreaQuarter:
    area: str
    quarter: Quarter
    categories: list[Category]
    stats: QuarterStats
    by_category: dict[Category, int] | None = None  # when asked: the signal count per category


async def area_statistics(uow: UnitOfWork, q: AreaStatistics, principal: Principal) -> AreaQuarter:
    """The signals of a GM, WK or BU in a quarter; another municipality's area answers 404."""
    errors = FieldErrors()
    parsed = areas.parse_or_none(q.area)
    if parsed is None:
        errors.add("area", areas.FORM_RULE)
    else:
        permissions.may_read_in(principal, parsed.municipality)
    quarter = parse_quarter(errors, "quarter", q.quarter)
    categories = parse_categories(errors, "category", q.categories)
    errors.raise_if_any()
    assert quarter is not None
    stats = await read_models.quarter_stats(
        uow.session, q.area, categories, [quarter], ratings=False, initiatives=False
    )
    counts = await read_models.signals_by_category(uow.session, q.area, categories, quarter) if q.by_category else None
    return AreaQuarter(q.area, quarter, categories, stats[quarter], counts)


@dataclass(frozen=True)
class ContinueGoal:
    goal_id: UUID
    year: int


async def continue_goal(uow: UnitOfWork, cmd: ContinueGoal, principal: Principal, clock: Clock) -> Goal:
    """The goal again in the next year, baselines its last measured values; the three-goal rule holds."""
    goals = GoalStore(uow)
    goal = await _managed_goal(goals, cmd.goal_id, principal)
    now = clock.now()
    last = await measurements.last_values(uow.session, goal, now)
    successor = domain_continue_goal(goal, cmd.year, last, goal_id=uuid4(), now=now)
    await _check_room(goals, successor)
    await goals.add(successor)
    await uow.commit()
    return successor


@dataclass(frozen=True)
class RecordMeasurement:
    goal_id: UUID
    indicator: int
    quarter: str
    value: float
    source: str


async def record_measurement(uow: UnitOfWork, cmd: RecordMeasurement, principal: Principal, clock: Clock) -> Goal:
    """A coordinator's value for a `manual` indicator in a quarter that has begun; again replaces it."""
    goals = GoalStore(uow)
    goal = await _managed_goal(goals, cmd.goal_id, principal)
    now = clock.now()
    quarter = check_manual_measurement(goal, cmd.indicator, cmd.quarter, cmd.value, cmd.source, now)
    await read_models.record_manual(
        uow.session, goal.id, cmd.indicator, quarter, cmd.value, cmd.source.strip(), principal.sub, now
    )
    await uow.commit()
    return goal


# --- reviews -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordReview:
    goal_id: UUID
    review: ReviewInput
    once: Once


async def record_review(uow: UnitOfWork, cmd: RecordReview, principal: Principal, clock: Clock) -> Created:
    """The quarter's review with its measurements snapshotted; `achieved` achieves the goal."""
    goals = GoalStore(uow)
    goal = await _managed_goal(goals, cmd.goal_id, principal)

    async def create() -> dict[str, Any]:
        now = clock.now()
        decision = validate_review(goal, cmd.review, now)
        snapshot = await measurements.measurements(uow.session, goal, decision.quarter, now)
        review = goal.review(decision, review_id=uuid4(), measurements=snapshot, by=principal.sub, at=now)
        if not await goals.add_review(review):
            raise ReviewExists(review.quarter)
        await goals.save(goal)
        return review_json(review)

    return await create_once(uow, cmd.once, f"goals.review:{cmd.goal_id}:{principal.sub}", create)


async def goal_reviews(uow: UnitOfWork, goal_id: UUID, principal: Principal) -> list[Review]:
    goal = await _readable_goal(uow, goal_id, principal)
    return await GoalStore(uow).reviews([goal.id])


async def reviews_of(uow: UnitOfWork, goal_ids: list[UUID], principal: Principal) -> list[Review]:
    """The reviews of those of `goal_ids` the caller may read (batch read)."""
    municipalities, partner_id = permissions.readable_goals(principal, None)
    goals = GoalStore(uow)
    found, _ = await goals.find(GoalFilter(municipalities, partner_id, ids=goal_ids), max(len(goal_ids), 1), None)
    return await goals.reviews([g.id for g in found])


# --- residents' proposals ------------------------------------------------------------------------


async def _readable_proposal(
    proposals: ProposalStore, proposal_id: UUID, principal: Principal, *, lock: bool = False
) -> Proposal:
    p = await proposals.get(proposal_id, principal.sub, for_update=lock)
    if p is None:
        raise NotFound("no such proposal")
    permissions.may_read_in(principal, p.municipality)
    return p


@dataclass(frozen=True)
class Propose:
    proposal: ProposalInput
    once: Once


async def propose(
    uow: UnitOfWork, cmd: Propose, principal: Principal, clock: Clock, *, box: SecretBox | None = None
) -> Created:
    """An open proposal; the proposer's address (if given) is sealed, never in an event or a log."""
    permissions.may_propose(principal, cmd.proposal.municipality)
    group_id = permissions.acting_partner(principal) if principal.has(Role.GROUP_ADMIN) else None

    async def create() -> dict[str, Any]:
        proposal = Proposal.propose(
            cmd.proposal, proposal_id=uuid4(), proposer=principal.sub, group_id=group_id, now=clock.now()
        )
        email = cmd.proposal.contact_email
        if email is not None and box is None:
            raise RuntimeError("a contact address was given but no SECRETS_KEY is configured")
        sealed = box.seal(email.strip(), str(proposal.id)) if box is not None and email is not None else None
        await ProposalStore(uow).add(proposal, sealed)
        return proposal_json(proposal, principal)

    async def reread(proposal_id: UUID) -> dict[str, Any]:
        return proposal_json(await _readable_proposal(ProposalStore(uow), proposal_id, principal), principal)

    return await create_once(uow, cmd.once, f"goals.propose:{principal.sub}", create, reread)


async def read_proposal(uow: UnitOfWork, proposal_id: UUID, principal: Principal) -> Proposal:
    return await _readable_proposal(ProposalStore(uow), proposal_id, principal)


@dataclass(frozen=True)
class ListProposals:
    municipality: str | None
    area: str | None
    year: int | None
    status: str | None
    limit: int
    after: str | None


async def list_proposals(uow: UnitOfWork, q: ListProposals, principal: Principal) -> tuple[list[Proposal], int]:
    if q.municipality is not None:
        permissions.may_read_in(principal, q.municipality)
    visible = [q.municipality] if q.municipality else sorted(principal.municipalities)
    return await ProposalStore(uow).find(
        principal.sub, visible, q.area, q.year, q.status, q.limit, decode_keyset(q.after)
    )


@dataclass(frozen=True)
class Support:
    proposal_id: UUID


async def support(
    uow: UnitOfWork, cmd: Support, principal: Principal, clock: Clock, *, resident_ref_key: str = ""
) -> Proposal:
    """Once per resident: supporting again changes nothing. The supporter's pseudonym (the one
    neighbourhoods gives them) counts them in `supportFromArea` where they joined."""
    proposals = ProposalStore(uow)
    p = await _readable_proposal(proposals, cmd.proposal_id, principal)
    permissions.may_propose(principal, p.municipality)
    p.check_open()
    ref = resident_ref(resident_ref_key, principal.sub) if resident_ref_key else None
    await proposals.add_support(p.id, principal.sub, ref, clock.now())
    p = await _readable_proposal(proposals, cmd.proposal_id, principal)
    await uow.commit()
    return p


@dataclass(frozen=True)
class Adopt:
    """The goal a proposal becomes; what is left out (None) is taken from the proposal."""

    proposal_id: UUID
    municipality: str | None
    area: str | None
    year: int | None
    title: str | None
    description: str | None
    theme: str | None
    categories: Sequence[str] | None
    indicators: Sequence[IndicatorInput]
    partner_ids: Sequence[str]
    once: Once


async def adopt(uow: UnitOfWork, cmd: Adopt, principal: Principal, clock: Clock) -> Created:
    proposals = ProposalStore(uow)
    p = await _readable_proposal(proposals, cmd.proposal_id, principal, lock=True)
    permissions.may_manage(principal, p.municipality)

    async def create() -> dict[str, Any]:
        p.check_adoption(cmd.municipality, cmd.area, cmd.year)
        p.check_open()
        raw = GoalInput(
            p.municipality,
            p.area,
            p.year,
            cmd.title if cmd.title is not None else p.title,
            cmd.description if cmd.description is not None else p.description,
            cmd.theme,
            cmd.categories if cmd.categories is not None else p.categories,
            cmd.indicators,
            cmd.partner_ids,
        )
        now = clock.now()
        goal = await _add_goal(uow, raw, now, p.id)
        p.adopt(goal.id, now)
        await proposals.save(p)
        return goal_json(goal)

    return await create_once(uow, cmd.once, f"goals.adopt:{cmd.proposal_id}:{principal.sub}", create)


@dataclass(frozen=True)
class Decline:
    proposal_id: UUID
    reason: str


async def decline(uow: UnitOfWork, cmd: Decline, principal: Principal, clock: Clock) -> Proposal:
    """Declined with a reason the proposer sees."""
    proposals = ProposalStore(uow)
    p = await _readable_proposal(proposals, cmd.proposal_id, principal, lock=True)
    permissions.may_manage(principal, p.municipality)
    p.decline(cmd.reason, clock.now())
    await proposals.save(p)
    await uow.commit()
    return p


async def read_contact(uow: UnitOfWork, proposal_id: UUID, principal: Principal, box: SecretBox | None) -> str | None:
    """The proposer's address, opened for the notifications service only (to tell the decision)."""
    permissions.may_read_contacts(principal)
    proposals = ProposalStore(uow)
    p = await _readable_proposal(proposals, proposal_id, principal)
    sealed = await proposals.contact(p.id)
    if sealed is None:
        return None
    if box is None:
        raise RuntimeError("contacts are sealed but no SECRETS_KEY is configured")
    log.info("proposal_contact_read", proposal_id=str(p.id), reader=principal.sub)
    return box.open(sealed, str(p.id))


# --- periodic work -------------------------------------------------------------------------------


async def tell_reviews_due(uow: UnitOfWork, clock: Clock, batch_size: int) -> int:
    """One batch of the active goals due for the review of the quarter that ended last, each told
    once (`goal.review_due`, exactly once also with several replicas and across restarts: the
    (goal, quarter) row commits with the outbox row); the number told."""
    quarter = review_due_quarter(clock.now())
    goals = GoalStore(uow)
    due = await goals.claim_reviews_due(quarter, batch_size)
    for goal in due:
        goal.review_is_due(quarter)
        await goals.save(goal)
    await uow.commit()
    if due:
        log.info("reviews_due", quarter=str(quarter), goals=len(due))
    return len(due)
