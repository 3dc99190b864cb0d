"""Goals that continue, measured values recorded by hand, and the quarterly review of an area
(CONTRACT.md "Goals: ... more than complaints measured" and "The quarterly review, held together").

Resolvers here are plain functions that `gateway.schema` hangs on Query and Mutation; like every
resolver they call the goals service with the caller's token, and it authorises and validates.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry
from strawberry.types import Info

from gateway.context import Row
from gateway.enums import SignalCategory
from gateway.neighbourhood_types import CategoryCount
from gateway.types import Goal, GoalReview, Partner, ctx, load_partner, opt_float, opt_str, when


async def continue_goal(info: Info, id: strawberry.ID, year: int) -> Goal:
    """Coordinator: the goal again in the next year, each indicator's baseline the last measured
    value; it counts towards that year's three."""
    return Goal.from_rest(await ctx(info).post("goals", f"/v1/goals/{id}/continuation", {"year": year}))


async def record_measurement(
    info: Info, goal_id: strawberry.ID, indicator: int, quarter: str, value: float, source: str
) -> Goal:
    """Coordinator: the value of a `MANUAL` indicator (`indicator` = its position in `indicators`) in a
    quarter, e.g. from the CBS Veiligheidsmonitor or a buurtpeiling; recording again replaces it."""
    body = {"indicator": indicator, "quarter": quarter, "value": value, "source": source}
    return Goal.from_rest(await ctx(info).post("goals", f"/v1/goals/{goal_id}/measurements", body))


@strawberry.enum
class AreaReviewStatus(Enum):
    OPEN = "open"
    HELD = "held"


@strawberry.enum
class AgreementStatus(Enum):
    OPEN = "open"
    DONE = "done"
    DROPPED = "dropped"


async def _partner(info: Info, partner_id: str) -> Partner:
    partner = await load_partner(info, partner_id)
    if partner is None:
        raise LookupError("a partner of the review could not be read")
    return partner


def category_count(row: Row) -> CategoryCount:
    """One category's count (the type is the neighbourhood summary's: the contract has one)."""
    return CategoryCount(
        category=SignalCategory(row["category"]), count=int(row["count"]), previous=int(row["previous"])
    )


@strawberry.type
class PartnerResponsiveness:
    """The "aansluiten" figure of a partner the area's signals were escalated to in the quarter."""

    partner_id: strawberry.Private[str]
    escalated: int
    acknowledged_in_time: int
    median_acknowledge_minutes: float | None
    resolved: int
    with_feedback: int = strawberry.field(description="resolutions whose feedback reached a reporter")
    rated: int
    satisfied: int

    @strawberry.field
    async def partner(self, info: Info) -> Partner:
        return await _partner(info, self.partner_id)

    @classmethod
    def from_rest(cls, row: Row) -> PartnerResponsiveness:
        return cls(
            partner_id=str(row["partnerId"]),
            escalated=int(row["escalated"]),
            acknowledged_in_time=int(row["acknowledgedInTime"]),
            median_acknowledge_minutes=opt_float(row.get("medianAcknowledgeMinutes")),
            resolved=int(row["resolved"]),
            with_feedback=int(row["withFeedback"]),
            rated=int(row["rated"]),
            satisfied=int(row["satisfied"]),
        )


async def _rater(root: CooperationScore, info: Info) -> Partner:
    return await _partner(info, root.from_id)


@strawberry.type
class CooperationScore:
    from_id: strawberry.Private[str]
    to_id: strawberry.Private[str]
    score: int
    comment: str | None

    from_: Partner = strawberry.field(name="from", resolver=_rater)

    @strawberry.field
    async def to(self, info: Info) -> Partner:
        return await _partner(info, self.to_id)

    @classmethod
    def from_rest(cls, row: Row) -> CooperationScore:
        return cls(
            from_id=str(row["fromPartnerId"]),
            to_id=str(row["toPartnerId"]),
            score=int(row["score"]),
            comment=opt_str(row.get("comment")),
        )


@strawberry.type
class Agreement:
    id: strawberry.ID
    area: str
    text: str
    made_in: str
    due_quarter: str
    status: AgreementStatus
    owner_id: strawberry.Private[str]

    @strawberry.field
    async def owner(self, info: Info) -> Partner:
        return await _partner(info, self.owner_id)

    @classmethod
    def from_rest(cls, row: Row) -> Agreement:
        return cls(
            id=strawberry.ID(str(row["id"])),
            area=str(row["area"]),
            text=str(row["text"]),
            made_in=str(row["madeIn"]),
            due_quarter=str(row["dueQuarter"]),
            status=AgreementStatus(row["status"]),
            owner_id=str(row["ownerPartnerId"]),
        )


def _report_url(root: AreaReview, info: Info) -> str:
    return report_url(ctx(info).settings.public_base_url, root.area, root.quarter)


@strawberry.type
class AreaReview:
    area: str
    quarter: str
    status: AreaReviewStatus
    partial: bool = strawberry.field(description="true while the quarter has not ended")
    trends: list[CategoryCount]
    same_quarter_last_year: list[CategoryCount]
    partners: list[PartnerResponsiveness]
    cooperation: list[CooperationScore]
    agreements: list[Agreement]
    goal_reviews: list[GoalReview]
    notes: str | None
    held_at: datetime | None

    report_url: str = strawberry.field(
        resolver=_report_url, description="the printable review (Dutch HTML; `?format=csv` for the figures)"
    )

    @classmethod
    def from_rest(cls, row: Row) -> AreaReview:
        return cls(
            area=str(row["area"]),
            quarter=str(row["quarter"]),
            status=AreaReviewStatus(row["status"]),
            partial=bool(row.get("partial", False)),
            trends=[category_count(r) for r in row.get("trends") or []],
            same_quarter_last_year=[category_count(r) for r in row.get("sameQuarterLastYear") or []],
            partners=[PartnerResponsiveness.from_rest(r) for r in row.get("partners") or []],
            cooperation=[CooperationScore.from_rest(r) for r in row.get("cooperation") or []],
            agreements=[Agreement.from_rest(r) for r in row.get("agreements") or []],
            goal_reviews=[GoalReview.from_rest(r) for r in row.get("goalReviews") or []],
            notes=opt_str(row.get("notes")),
            held_at=when(row.get("heldAt")),
        )


def report_url(base: str, area: str, quarter: str) -> str:
    return f"{base.rstrip('/')}/v1/reviews/{area}/{quarter}"


def _review_path(area: str, quarter: str) -> str:
    return f"/v1/area-reviews/{area}/{quarter}"


async def area_review(info: Info, area: str, quarter: str) -> AreaReview:
    """Coordinators and region admins; the partners and groups that concern the area."""
    return AreaReview.from_rest(await ctx(info).get("goals", _review_path(area, quarter)))


async def rate_cooperation(
    info: Info,
    area: str,
    quarter: str,
    to_partner_id: strawberry.ID,
    score: int,
    comment: str | None = None,
    from_partner_id: strawberry.ID | None = None,
) -> AreaReview:
    """1..5, again replaces: partner agents and group admins as their own partner, coordinators for
    a municipality partner of theirs (`fromPartnerId`); never for oneself."""
    body = {"toPartnerId": to_partner_id, "score": score, "comment": comment, "fromPartnerId": from_partner_id}
    row = await ctx(info).post("goals", _review_path(area, quarter) + "/cooperation", body)
    return AreaReview.from_rest(row)


async def add_agreement(
    info: Info, area: str, quarter: str, text: str, owner_partner_id: strawberry.ID, due_quarter: str
) -> Agreement:
    """Coordinators: an agreement that comes back in later reviews until done or dropped."""
    body = {"text": text, "ownerPartnerId": owner_partner_id, "dueQuarter": due_quarter}
    return Agreement.from_rest(await ctx(info).post("goals", _review_path(area, quarter) + "/agreements", body))


async def update_agreement(info: Info, id: strawberry.ID, status: AgreementStatus) -> Agreement:
    """Coordinators and the owner partner's agents."""
    return Agreement.from_rest(await ctx(info).patch("goals", f"/v1/agreements/{id}", {"status": status.value}))


async def hold_area_review(info: Info, area: str, quarter: str, notes: str | None = None) -> AreaReview:
    """Coordinators: the figures are frozen and the participants told; a second hold is CONFLICT."""
    row = await ctx(info).post("goals", _review_path(area, quarter) + "/hold", {"notes": notes})
    return AreaReview.from_rest(row)
