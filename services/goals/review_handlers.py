"""Use cases of the quarterly review of an area, held together: read it (live until held, then
frozen), rate cooperation, make and follow up agreements, hold it (`area.reviewed`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy.ext.asyncio import AsyncSession

from services.goals import measurements, permissions, review_store
from services.goals.domain import Quarter
from services.goals.domain.area_reviews import (
    AGREEMENT_OPEN,
    Agreement,
    PartnerInfo,
    ReviewHeld,
    Score,
    check_agreement,
    check_score,
    parse_agreement_status,
    review_area,
    review_quarter,
    shown_in,
)
from services.goals.domain.checks import blank_is_none, check_text, parse_uuid
from services.goals.report import Report, partner_ids
from shared.areas import Area
from shared.auth import Principal
from shared.clock import Clock, rfc3339
from shared.db import UnitOfWork
from shared.errors import FieldErrors, NotFound
from shared.events.catalog import AreaReviewed
from shared.events.codes import Category, PartnerKind
from shared.idempotency import Created, Once, create_once

MAX_NOTES = 4000
TREND_QUARTERS = 6  # the quarter, the five before it: the previous one and the same one last year


async def _acting_partner(session: AsyncSession, principal: Principal) -> PartnerInfo | None:
    acting = permissions.acting_partner(principal)
    if acting is None:
        return None
    return (await review_store.partners(session, [acting])).get(acting)


async def _place(
    uow: UnitOfWork,
    principal: Principal,
    area: str,
    quarter: str,
    clock: Clock,
    authorise: Callable[[Area, PartnerInfo | None], None] | None = None,
) -> tuple[Area, Quarter, PartnerInfo | None]:
    """The area, authorised for reading (and by `authorise`) before the quarter is checked, a
    quarter that has begun, and the partner the caller acts for."""
    errors = FieldErrors()
    parsed = review_area(errors, area)
    errors.raise_if_any()
    assert parsed is not None
    acting = await _acting_partner(uow.session, principal)
    permissions.may_read_review(principal, parsed, acting)
    if authorise is not None:
        authorise(parsed, acting)
    q = review_quarter(errors, quarter, clock.now())
    errors.raise_if_any()
    assert q is not None
    return parsed, q, acting


def _counts(by_category: dict[str, int], before: dict[str, int]) -> list[dict[str, Any]]:
    return [
        {"category": c.value, "count": by_category.get(c.value, 0), "previous": before.get(c.value, 0)}
        for c in Category
    ]


async def _figures(session: AsyncSession, area: Area, quarter: Quarter) -> dict[str, Any]:
    """What the review shows, computed now (and frozen as it is when held)."""
    quarters = [quarter]
    while len(quarters) < TREND_QUARTERS:
        quarters.insert(0, quarters[0].previous())
    counts = await review_store.category_counts(session, area.code, quarters)
    last_year = quarter.same_quarter_last_year()
    agreements = await review_store.agreements_until(session, area.code, quarter)
    return {
        "trends": _counts(counts[str(quarter)], counts[str(quarter.previous())]),
        "sameQuarterLastYear": _counts(counts[str(last_year)], counts[str(last_year.previous())]),
        "history": [{"quarter": str(q), "counts": counts[str(q)]} for q in quarters],
        "partners": [r.as_json() for r in await review_store.responsiveness(session, area.code, quarter)],
        "cooperation": [
            {
                "fromPartnerId": str(s.from_partner),
                "toPartnerId": str(s.to_partner),
                "score": s.score,
                "comment": s.comment,
            }
            for s in await review_store.scores(session, area.code, quarter)
        ],
        "agreements": [a.as_json() for a in agreements if shown_in(a, quarter)],
        "goalReviews": [
            {
                "id": str(r["id"]),
                "goalId": str(r["goal_id"]),
                "goalTitle": r["title"],
                "quarter": r["quarter"],
                "assessment": r["assessment"],
                "decision": r["decision"],
                "notes": r["notes"],
                "measurements": r["measurements"],
                "cooperation": r["cooperation"],
                "reviewedAt": rfc3339(r["reviewed_at"]),
            }
            for r in await review_store.goal_reviews_of(session, area.code, quarter)
        ],
    }


async def _review(session: AsyncSession, area: Area, quarter: Quarter, now: datetime) -> dict[str, Any]:
    held = await review_store.held(session, area.code, quarter)
    figures = held.figures if held is not None else await _figures(session, area, quarter)
    return {
        "area": area.code,
        "municipality": area.municipality,
        "quarter": str(quarter),
        "status": "held" if held is not None else "open",
        "partial": not quarter.has_ended(now),
        "notes": held.notes if held is not None else None,
        "heldAt": rfc3339(held.held_at) if held is not None else None,
        **figures,
    }


async def area_review(uow: UnitOfWork, area: str, quarter: str, principal: Principal, clock: Clock) -> dict[str, Any]:
    parsed, q, _ = await _place(uow, principal, area, quarter, clock)
    return await _review(uow.session, parsed, q, clock.now())


async def _open_for_changes(session: AsyncSession, area: Area, quarter: Quarter) -> None:
    if await review_store.held(session, area.code, quarter, lock=True) is not None:
        raise ReviewHeld(area.code, quarter)


async def _municipality_partner(
    session: AsyncSession, errors: FieldErrors, area: Area, given: str | None
) -> PartnerInfo | None:
    """The partner a coordinator rates for: an active municipality partner of their municipality."""
    wanted = parse_uuid(errors, "fromPartnerId", given or "")
    found = (await review_store.partners(session, [wanted])).get(wanted) if wanted else None
    if (
        found is None
        or not found.active
        or found.kind is not PartnerKind.MUNICIPALITY
        or area.municipality not in found.municipalities
    ):
        found = None
    if found is None and wanted is not None:
        errors.add("fromPartnerId", f"no active municipality partner of {area.municipality}")
    return found


@dataclass(frozen=True)
class RateCooperation:
    area: str
    quarter: str
    to_partner_id: str
    score: int
    comment: str | None
    from_partner_id: str | None


async def rate_cooperation(uow: UnitOfWork, cmd: RateCooperation, principal: Principal, clock: Clock) -> dict[str, Any]:
    """A partner agent or group admin for their own partner, a coordinator for a municipality
    partner of theirs; rating again replaces."""
    session = uow.session

    def may_rate(area: Area, acting: PartnerInfo | None) -> None:
        permissions.may_rate(principal, area, acting, cmd.from_partner_id)

    parsed, quarter, acting = await _place(uow, principal, cmd.area, cmd.quarter, clock, may_rate)
    errors = FieldErrors()
    rater = None if permissions.rates_as_coordinator(principal) else acting
    if rater is None:
        rater = await _municipality_partner(session, errors, parsed, cmd.from_partner_id)
    to_id = parse_uuid(errors, "toPartnerId", cmd.to_partner_id)
    to = (await review_store.partners(session, [to_id])).get(to_id) if to_id else None
    check_score(errors, parsed.code, rater, to, cmd.score, cmd.comment)
    errors.raise_if_any()
    assert rater is not None and to is not None
    await _open_for_changes(session, parsed, quarter)
    score = Score(rater.id, to.id, cmd.score, blank_is_none(cmd.comment))
    await review_store.rate(session, parsed.code, quarter, score, principal.sub, clock.now())
    await uow.commit()
    return await _review(session, parsed, quarter, clock.now())


@dataclass(frozen=True)
class AddAgreement:
    area: str
    quarter: str
    text: str
    owner_partner_id: str
    due_quarter: str


async def add_agreement(
    uow: UnitOfWork, cmd: AddAgreement, principal: Principal, clock: Clock, once: Once | None = None
) -> Created:
    """Coordinators; the same Idempotency-Key and body answer the first agreement again."""
    session = uow.session
    errors = FieldErrors()
    parsed = review_area(errors, cmd.area)
    errors.raise_if_any()
    assert parsed is not None
    permissions.may_manage(principal, parsed.municipality)

    async def create() -> dict[str, Any]:
        now = clock.now()
        quarter = review_quarter(errors, cmd.quarter, now)
        owner_id = parse_uuid(errors, "ownerPartnerId", cmd.owner_partner_id)
        owner = (await review_store.partners(session, [owner_id])).get(owner_id) if owner_id else None
        due = check_agreement(errors, quarter, cmd.text, owner, cmd.due_quarter, parsed.municipality)
        errors.raise_if_any()
        assert quarter is not None and owner is not None and due is not None
        await _open_for_changes(session, parsed, quarter)
        agreement = Agreement(
            id=uuid4(),
            municipality=parsed.municipality,
            area=parsed.code,
            text=cmd.text.strip(),
            owner=owner.id,
            made_in=str(quarter),
            due_quarter=str(due),
            status=AGREEMENT_OPEN,
            closed_in=None,
            created_at=now,
            updated_at=now,
        )
        await review_store.add_agreement(session, agreement, principal.sub)
        return agreement.as_json()

    scope = f"goals.agreement:{parsed.code}:{cmd.quarter}:{principal.sub}"
    return await create_once(uow, once or Once(None, ""), scope, create)


async def update_agreement(
    uow: UnitOfWork, agreement_id: UUID, status: str, principal: Principal, clock: Clock
) -> dict[str, Any]:
    """Coordinators and the owner partner's agents mark it done, dropped or open again."""
    found = await review_store.agreement(uow.session, agreement_id, for_update=True)
    if found is None:
        raise NotFound("no such agreement")
    permissions.may_update_agreement(principal, found.municipality, found.owner)
    errors = FieldErrors()
    wanted = parse_agreement_status(errors, status)
    errors.raise_if_any()
    assert wanted is not None
    changed = found.with_status(wanted, clock.now()) if wanted != found.status else found
    await review_store.save_agreement(uow.session, changed)
    await uow.commit()
    return changed.as_json()


@dataclass(frozen=True)
class HoldReview:
    area: str
    quarter: str
    notes: str | None


async def hold_area_review(uow: UnitOfWork, cmd: HoldReview, principal: Principal, clock: Clock) -> dict[str, Any]:
    """Freezes the figures and tells the participants (`area.reviewed`); held once."""
    session = uow.session
    errors = FieldErrors()
    parsed = review_area(errors, cmd.area)
    errors.raise_if_any()
    assert parsed is not None
    permissions.may_manage(principal, parsed.municipality)
    now = clock.now()
    quarter = review_quarter(errors, cmd.quarter, now)
    check_text(errors, "notes", cmd.notes, MAX_NOTES)
    errors.raise_if_any()
    assert quarter is not None
    await _open_for_changes(session, parsed, quarter)
    # held before the quarter ended, its figures stay those of a partial quarter
    figures = {**await _figures(session, parsed, quarter), "partial": not quarter.has_ended(now)}
    await review_store.hold(
        session, parsed.code, quarter, parsed.municipality, blank_is_none(cmd.notes), figures, principal.sub, now
    )
    participants = [
        p.id
        for p in await review_store.partners_of(session, parsed.municipality)
        if p.active and p.concerns(parsed.code)
    ]
    event = AreaReviewed(
        review_id=f"{parsed.code}/{quarter}",
        municipality=parsed.municipality,
        area=parsed.code,
        quarter=str(quarter),
        partner_ids=participants,
        held_at=now,
    )
    uow.emit(event, sequence=1, municipality=parsed.municipality)
    await uow.commit()
    return await _review(session, parsed, quarter, now)


async def partner_names(uow: UnitOfWork, ids: list[UUID]) -> dict[UUID, PartnerInfo]:
    return await review_store.partners(uow.session, ids)


async def report(uow: UnitOfWork, area: str, quarter: str, principal: Principal, clock: Clock) -> Report:
    """The printable review: the review as `area_review` shows it, the partners' names, and the
    area's goals of that year with their trends."""
    parsed, q, _ = await _place(uow, principal, area, quarter, clock)
    now = clock.now()
    review = await _review(uow.session, parsed, q, now)
    names = await review_store.partners(uow.session, partner_ids(review))
    goals = []
    for goal in await review_store.goals_in(uow.session, parsed.code, q.year):
        goals.append((goal, await measurements.trend(uow.session, goal, now)))
    return Report(review, {str(k): v.name for k, v in names.items()}, goals)
