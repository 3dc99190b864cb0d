"""The contract's object types, built from the services' camelCase REST answers.

Cross-service fields resolve through the request's DataLoaders (see `gateway.context`).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, cast

import strawberry
from strawberry.types import Info

from gateway.connection import Connection
from gateway.context import GatewayContext, Row
from gateway.enums import (
    Assessment,
    Decision,
    DeliveryStatus,
    Direction,
    GoalStatus,
    IndicatorKind,
    PartnerKind,
    ProposalStatus,
    SignalCategory,
    SignalSource,
    SignalStatus,
    Urgency,
)

if TYPE_CHECKING:
    from gateway.loopback import ChainStep


def ctx(info: Info) -> GatewayContext:
    return cast(GatewayContext, info.context)


def when(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        return datetime.fromisoformat(value)
    return None


def must_when(value: object) -> datetime:
    parsed = when(value)
    if parsed is None:
        raise ValueError("a required time is missing in a service's answer")
    return parsed


def pick(row: Row, *names: str) -> Any:
    """The first of `names` present in the row (services name a few things differently)."""
    for name in names:
        value = row.get(name)
        if value is not None:
            return value
    return None


def opt_str(value: object) -> str | None:
    return None if value is None else str(value)


def opt_float(value: object) -> float | None:
    return None if value is None else float(cast(float, value))


def categories(values: object) -> list[SignalCategory]:
    return [SignalCategory(v) for v in cast(list[str], values or [])]


def opt_status(value: object) -> SignalStatus | None:
    return None if value is None else SignalStatus(str(value))


@strawberry.type
class AvailabilityWindow:
    weekday: int = strawberry.field(description="1 = Monday")
    from_: str = strawberry.field(name="from", description="HH:MM, Europe/Amsterdam")
    until: str = strawberry.field(description="before `from` means the window crosses midnight")


@strawberry.type
class Partner:
    id: strawberry.ID
    name: str
    kind: PartnerKind
    municipalities: list[str]
    areas: list[str]
    categories: list[SignalCategory]
    auto_escalate: list[SignalCategory]
    acknowledge_within_minutes: int
    active: bool
    priority: int = strawberry.field(description="higher wins when several partners cover an area equally")
    availability: list[AvailabilityWindow] = strawberry.field(description="weekly windows; none means always")
    webhook_url: str | None = strawberry.field(description="null when none is set or the caller may not see it")
    email: str | None = strawberry.field(description="the partner's channel address; null as webhookUrl")

    @classmethod
    def from_rest(cls, row: Row) -> Partner:
        return cls(
            id=strawberry.ID(str(row["id"])),
            name=str(row["name"]),
            kind=PartnerKind(row["kind"]),
            municipalities=list(row.get("municipalities") or []),
            areas=list(row.get("areas") or []),
            categories=categories(row.get("categories")),
            auto_escalate=categories(row.get("autoEscalate")),
            acknowledge_within_minutes=int(row.get("acknowledgeWithinMinutes") or 0),
            active=bool(row.get("active", True)),
            priority=int(row.get("priority") or 0),
            availability=[
                AvailabilityWindow(weekday=int(w["weekday"]), from_=str(w["from"]), until=str(w["until"]))
                for w in row.get("availability") or []
            ],
            webhook_url=opt_str(row.get("webhookUrl")),
            email=opt_str(row.get("email")),
        )

    @strawberry.field
    async def chain(self, info: Info) -> list[Annotated[ChainStep, strawberry.lazy("gateway.loopback")]]:
        """Who a signal not acknowledged in time goes to next, as the region agreed."""
        from gateway.loopback import chain_of  # the chain lives with the loop-back additions

        return await chain_of(info, str(self.id))


async def load_partner(info: Info, partner_id: str | None) -> Partner | None:
    if not partner_id:
        return None
    row = await ctx(info).partners.load(str(partner_id))
    return Partner.from_rest(row) if row else None


@strawberry.type
class Escalation:
    partner_id: strawberry.Private[str]
    reason: str | None
    at: datetime
    acknowledge_by: datetime
    acknowledged_at: datetime | None

    @strawberry.field
    async def partner(self, info: Info) -> Partner:
        partner = await load_partner(info, self.partner_id)
        if partner is None:
            raise LookupError("the escalation's partner could not be read")
        return partner

    @classmethod
    def from_rest(cls, row: Row) -> Escalation:
        return cls(
            partner_id=str(row["partnerId"]),
            reason=opt_str(row.get("reason")),
            at=must_when(pick(row, "at", "escalatedAt")),
            acknowledge_by=must_when(row.get("acknowledgeBy")),
            acknowledged_at=when(row.get("acknowledgedAt")),
        )


@strawberry.type
class Feedback:
    partner_id: strawberry.Private[str | None]
    message: str
    at: datetime

    @strawberry.field
    async def partner(self, info: Info) -> Partner | None:
        return await load_partner(info, self.partner_id)

    @classmethod
    def from_rest(cls, row: Row) -> Feedback:
        return cls(
            partner_id=opt_str(row.get("partnerId")),
            message=str(row.get("message") or ""),
            at=must_when(pick(row, "at", "givenAt")),
        )


@strawberry.type
class HistoryEntry:
    action: str
    at: datetime
    actor: str | None
    from_status: SignalStatus | None
    to_status: SignalStatus | None
    note: str | None = strawberry.field(
        description="the reason of a rejection, reopening, transfer or involvement; for those who may read"
        " the description and for the reporters"
    )

    @classmethod
    def from_rest(cls, row: Row) -> HistoryEntry:
        return cls(
            action=str(row["action"]),
            at=must_when(row.get("at")),
            actor=opt_str(row.get("actor")),
            from_status=opt_status(row.get("fromStatus")),
            to_status=opt_status(row.get("toStatus")),
            note=opt_str(row.get("note")),
        )


@strawberry.type
class ReporterQuestion:
    question: str
    asked_at: datetime
    answer: str | None
    answered_at: datetime | None

    @classmethod
    def from_rest(cls, row: Row) -> ReporterQuestion:
        return cls(
            question=str(row["question"]),
            asked_at=must_when(row.get("askedAt")),
            answer=opt_str(row.get("answer")),
            answered_at=when(row.get("answeredAt")),
        )


@strawberry.type
class Rating:
    satisfied: bool
    comment: str | None
    at: datetime

    @classmethod
    def from_rest(cls, row: Row | None) -> Rating | None:
        if not row:
            return None
        return cls(satisfied=bool(row["satisfied"]), comment=opt_str(row.get("comment")), at=must_when(row.get("at")))


@strawberry.type
class Delivery:
    id: strawberry.ID
    channel: str
    target: str = strawberry.field(
        description=(
            'names the partner, or "reporter" (a signal\'s reporters), "leader" (an initiative\'s leader)'
            ' or "proposer" (a goal proposal\'s proposer): never an address'
        )
    )
    event_type: str
    status: DeliveryStatus
    attempts: int
    last_attempt_at: datetime | None

    @classmethod
    def from_rest(cls, row: Row) -> Delivery:
        return cls(
            id=strawberry.ID(str(row["id"])),
            channel=str(row["channel"]),
            target=str(row["target"]),
            event_type=str(row["eventType"]),
            status=DeliveryStatus(row["status"]),
            attempts=int(row.get("attempts") or 0),
            last_attempt_at=when(row.get("lastAttemptAt")),
        )


@strawberry.type
class Signal:
    id: strawberry.ID
    reference: str
    municipality: str
    area: str
    category: SignalCategory
    urgency: Urgency
    description: str | None
    status: SignalStatus
    source: SignalSource
    reported_at: datetime
    observed_at: datetime | None
    lat: float | None
    lon: float | None
    report_count: int
    escalations: list[Escalation]
    feedback: list[Feedback]
    history: list[HistoryEntry]
    acknowledge_by: datetime | None = strawberry.field(description="deadline of the current escalation")
    overdue: bool = strawberry.field(description="escalated and not acknowledged by its deadline")
    rejection_reason: str | None = strawberry.field(description="set when rejected; readable by the reporters")
    group_message: str | None = strawberry.field(
        description="the partner's latest text to share in the group: for the admins of the signal's group and"
        " of its merged duplicates' groups, and those who may read the description"
    )
    question: str | None = strawberry.field(
        description="the open question, while REACTION_REQUESTED; for those who may read the description and"
        " for the reporters"
    )
    questions: list[ReporterQuestion] = strawberry.field(
        description="every question to the reporters and its answer, oldest first; readable as `question`"
    )
    my_rating: Rating | None = strawberry.field(
        description="the caller's own rating (a reporter's; a merged duplicate's reporter rates the original)"
    )
    external_reference: str | None = strawberry.field(
        default=None, description="the escalated partner's own case number; for those who may read the description"
    )
    duplicate_of_id: strawberry.Private[str | None]
    routed_partner_id: strawberry.Private[str | None]
    involved_partner_ids: strawberry.Private[list[str]]
    original_row: strawberry.Private[Row | None] = None  # what a duplicate's reporters read of the original
    restricted: strawberry.Private[bool] = False

    @strawberry.field
    async def duplicate_of(self, info: Info) -> Signal | None:
        """The whole original for who may see it; its duplicate's reporters read the signals
        service's restricted view of it (state and feedback since their report)."""
        if not self.duplicate_of_id:
            return None
        row = await ctx(info).signals.load(self.duplicate_of_id)
        if row:
            return Signal.from_rest(row)
        if self.original_row and str(self.original_row.get("id")) == self.duplicate_of_id:
            return Signal.from_rest(self.original_row, restricted=True)
        return None

    @strawberry.field
    async def involved_partners(self, info: Info) -> list[Partner]:
        """Co-handlers: they read the description and may add feedback."""
        if self.restricted or not self.involved_partner_ids:
            return []
        rows = await ctx(info).partners.load_many(self.involved_partner_ids)
        return [Partner.from_rest(r) for r in rows if r]

    @strawberry.field
    async def routed_to(self, info: Info) -> Partner | None:
        return await load_partner(info, self.routed_partner_id)

    @strawberry.field
    async def deliveries(self, info: Info) -> list[Delivery]:
        if self.restricted:
            return []
        rows = await ctx(info).deliveries.load(str(self.id))
        return [Delivery.from_rest(r) for r in rows]

    @classmethod
    def from_rest(cls, row: Row, *, restricted: bool = False) -> Signal:
        location = row.get("location") or {}
        return cls(
            id=strawberry.ID(str(row["id"])),
            reference=str(row["reference"]),
            municipality=str(row["municipality"]),
            area=str(row["area"]),
            category=SignalCategory(row["category"]),
            urgency=Urgency(row["urgency"]),
            description=opt_str(row.get("description")),
            status=SignalStatus(row["status"]),
            source=SignalSource(row.get("source") or "app"),
            reported_at=must_when(pick(row, "reportedAt", "receivedAt")),
            observed_at=when(row.get("observedAt")),
            lat=opt_float(pick(row, "lat") if "lat" in row else location.get("lat")),
            lon=opt_float(pick(row, "lon") if "lon" in row else location.get("lon")),
            report_count=int(row.get("reportCount") or 1),
            escalations=[Escalation.from_rest(e) for e in row.get("escalations") or []],
            feedback=[Feedback.from_rest(f) for f in row.get("feedback") or []],
            history=[HistoryEntry.from_rest(h) for h in row.get("history") or []],
            acknowledge_by=when(row.get("acknowledgeBy")),
            overdue=bool(row.get("overdue", False)),
            rejection_reason=opt_str(row.get("rejectionReason")),
            group_message=opt_str(row.get("groupMessage")),
            question=opt_str(row.get("question")),
            questions=[ReporterQuestion.from_rest(q) for q in row.get("questions") or []],
            my_rating=Rating.from_rest(row.get("myRating")),
            duplicate_of_id=opt_str(row.get("duplicateOf")),
            routed_partner_id=opt_str(pick(row, "routedPartnerId", "routedTo")),
            involved_partner_ids=[str(p) for p in row.get("involvedPartnerIds") or []],
            original_row=row.get("original"),
            restricted=restricted,
            external_reference=None if restricted else opt_str(row.get("externalReference")),
        )


@strawberry.type
class SignalConnection(Connection[Signal]):
    @classmethod
    def from_rest(cls, body: Row) -> SignalConnection:
        return cls.page(body, Signal.from_rest)


@strawberry.type
class DeliveryConnection(Connection[Delivery]):
    @classmethod
    def from_rest(cls, body: Row) -> DeliveryConnection:
        return cls.page(body, Delivery.from_rest)


@strawberry.type
class ReportSignalResult:
    signal: Signal
    duplicate: bool
    advice: str | None


@strawberry.type
class Advice:
    call: str | None = strawberry.field(description='what to call: "112", "0900-8844", "0800-7000" or null')
    text: str = strawberry.field(description="in Dutch")

    @classmethod
    def from_rest(cls, row: Row) -> Advice:
        return cls(call=opt_str(row.get("call")), text=str(row["text"]))


@strawberry.type
class SignalEventMessage:
    type: str = strawberry.field(description='the event type, e.g. "signal.escalated"')
    signal: Signal


@strawberry.type
class CategoryInfo:
    code: SignalCategory
    label: str = strawberry.field(description="in Dutch")


@strawberry.type
class RegisterPartnerResult:
    partner: Partner
    webhook_secret: str | None = strawberry.field(description="the secret is shown here only")


@strawberry.type
class Indicator:
    kind: IndicatorKind
    category: SignalCategory | None
    baseline: float | None
    target: float
    direction: Direction

    @classmethod
    def from_rest(cls, row: Row) -> Indicator:
        return cls(
            kind=IndicatorKind(row["kind"]),
            category=SignalCategory(row["category"]) if row.get("category") else None,
            baseline=opt_float(row.get("baseline")),
            target=float(row["target"]),
            direction=Direction(row["direction"]),
        )


@strawberry.type
class Measurement:
    indicator: Indicator
    value: float | None
    previous: float | None
    on_track: bool | None
    partial: bool = strawberry.field(description="true while the quarter has not ended")

    @classmethod
    def from_rest(cls, row: Row) -> Measurement:
        return cls(
            indicator=Indicator.from_rest(row["indicator"]),
            value=opt_float(row.get("value")),
            previous=opt_float(row.get("previous")),
            on_track=row.get("onTrack"),
            partial=bool(row.get("partial", False)),
        )


@strawberry.type
class CooperationRating:
    partner_id: strawberry.Private[str]
    score: int

    @strawberry.field
    async def partner(self, info: Info) -> Partner:
        partner = await load_partner(info, self.partner_id)
        if partner is None:
            raise LookupError("the rated partner could not be read")
        return partner


@strawberry.type
class GoalReview:
    id: strawberry.ID
    quarter: str
    assessment: Assessment
    decision: Decision
    notes: str | None
    measurements: list[Measurement]
    cooperation: list[CooperationRating]
    reviewed_at: datetime

    @classmethod
    def from_rest(cls, row: Row) -> GoalReview:
        return cls(
            id=strawberry.ID(str(row["id"])),
            quarter=str(row["quarter"]),
            assessment=Assessment(row["assessment"]),
            decision=Decision(row["decision"]),
            notes=opt_str(row.get("notes")),
            measurements=[Measurement.from_rest(m) for m in row.get("measurements") or []],
            cooperation=[
                CooperationRating(partner_id=str(c["partnerId"]), score=int(c["score"]))
                for c in row.get("cooperation") or []
            ],
            reviewed_at=must_when(row.get("reviewedAt")),
        )


@strawberry.type
class Goal:
    id: strawberry.ID
    municipality: str
    area: str
    year: int
    title: str
    description: str | None
    theme: str | None
    categories: list[SignalCategory]
    indicators: list[Indicator]
    status: GoalStatus
    partner_ids: strawberry.Private[list[str]]

    @strawberry.field
    async def partners(self, info: Info) -> list[Partner]:
        rows = await ctx(info).partners.load_many(self.partner_ids)
        return [Partner.from_rest(r) for r in rows if r]

    @strawberry.field
    async def reviews(self, info: Info) -> list[GoalReview]:
        rows = await ctx(info).reviews.load(str(self.id))
        return [GoalReview.from_rest(r) for r in rows]

    @strawberry.field
    async def measurements(self, info: Info, quarter: str) -> list[Measurement]:
        body = await ctx(info).get("goals", f"/v1/goals/{self.id}/measurements", quarter=quarter)
        rows: list[Row] = (body.get("results") or body.get("measurements") or []) if isinstance(body, dict) else body
        return [Measurement.from_rest(r) for r in rows]

    @strawberry.field
    def trend_chart_url(self, info: Info) -> str:
        return f"{ctx(info).settings.public_base_url.rstrip('/')}/v1/goals/{self.id}/trend.svg"

    @classmethod
    def from_rest(cls, row: Row) -> Goal:
        return cls(
            id=strawberry.ID(str(row["id"])),
            municipality=str(row["municipality"]),
            area=str(row["area"]),
            year=int(row["year"]),
            title=str(row["title"]),
            description=opt_str(row.get("description")),
            theme=opt_str(row.get("theme")),
            categories=categories(row.get("categories")),
            indicators=[Indicator.from_rest(i) for i in row.get("indicators") or []],
            status=GoalStatus(row["status"]),
            partner_ids=[str(p) for p in row.get("partnerIds") or []],
        )


async def load_goal(info: Info, goal_id: str | None) -> Goal | None:
    if not goal_id:
        return None
    row = await ctx(info).goals.load(goal_id)
    return Goal.from_rest(row) if row else None


@strawberry.type
class GoalProposal:
    id: strawberry.ID
    municipality: str
    area: str
    year: int
    title: str
    description: str | None
    categories: list[SignalCategory]
    support_count: int
    supported_by_me: bool
    support_from_area: int = strawberry.field(
        description="supports from residents who joined the area (for a WK: one of its BUs)"
    )
    status: ProposalStatus
    decline_reason: str | None
    goal_id: strawberry.Private[str | None]

    @strawberry.field
    async def goal(self, info: Info) -> Goal | None:
        return await load_goal(info, self.goal_id)

    @classmethod
    def from_rest(cls, row: Row) -> GoalProposal:
        return cls(
            id=strawberry.ID(str(row["id"])),
            municipality=str(row["municipality"]),
            area=str(row["area"]),
            year=int(row["year"]),
            title=str(row["title"]),
            description=opt_str(row.get("description")),
            categories=categories(row.get("categories")),
            support_count=int(row.get("supportCount") or 0),
            supported_by_me=bool(row.get("supportedByMe", False)),
            support_from_area=int(row.get("supportFromArea") or 0),
            status=ProposalStatus(row["status"]),
            decline_reason=opt_str(row.get("declineReason")),
            goal_id=opt_str(row.get("goalId")),
        )
