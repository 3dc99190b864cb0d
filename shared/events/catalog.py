"""One pydantic model per event type: the `data` of a CloudEvent.

Events carry ids, codes, times and states: never a reporter's contact details, never free text
written by a resident. Schemas evolve additively within a version (new optional fields only);
`python -m shared.events.export` writes JSON Schema and AsyncAPI into `docs/events/`, and a test
fails when those files drift from these models.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from shared.events.codes import (
    Assessment,
    Category,
    Decision,
    Direction,
    GoalStatus,
    IndicatorKind,
    InitiativeKind,
    InitiativeStatus,
    MessageKind,
    PartnerKind,
    ProposalDecision,
    SignalSource,
    SignalStatus,
    SupportKind,
    Urgency,
)

SCHEMA_VERSION = 1


class Model(BaseModel):
    """camelCase on the wire, snake_case in Python; unknown fields ignored (additive evolution)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True)


class EventData(Model):
    event_type: ClassVar[str]
    summary: ClassVar[str]
    aggregate_field: ClassVar[str]

    def aggregate_id(self) -> str:
        """The record key: one aggregate's events share a partition and keep their order."""
        return str(getattr(self, self.aggregate_field))


# --- signals -----------------------------------------------------------------------------------


class SignalFacts(EventData):
    signal_id: UUID
    reference: str
    municipality: str
    area: str
    category: Category
    urgency: Urgency
    status: SignalStatus

    aggregate_field = "signal_id"


class SignalReceived(SignalFacts):
    event_type = "signal.received"
    summary = "A resident, group or partner reported a signal; it is stored and routed."
    source: SignalSource
    received_at: datetime
    observed_at: datetime | None = None
    routed_partner_id: UUID | None = None
    group_id: UUID | None = None
    has_location: bool = False
    has_contact: bool = False


class SignalEscalated(SignalFacts):
    event_type = "signal.escalated"
    summary = "The signal was forwarded to a partner, who must acknowledge it by `acknowledgeBy`."
    partner_id: UUID
    escalated_at: datetime
    acknowledge_by: datetime
    automatic: bool = False
    group_id: UUID | None = None


class SignalAcknowledged(SignalFacts):
    event_type = "signal.acknowledged"
    summary = "The partner it was escalated to acknowledged the signal (with a message for reporters)."
    partner_id: UUID
    acknowledged_at: datetime
    escalated_at: datetime | None = None
    group_id: UUID | None = None
    duplicate_group_ids: list[UUID] = Field(
        default=[], description="the groups that reported its merged duplicates: they hear it too"
    )


class SignalResolved(SignalFacts):
    event_type = "signal.resolved"
    summary = "The partner resolved the signal with feedback; a missing acknowledgement is implied."
    partner_id: UUID
    resolved_at: datetime
    escalated_at: datetime | None = None
    acknowledged_at: datetime | None = None
    acknowledgement_implied: bool = False
    group_id: UUID | None = None
    duplicate_group_ids: list[UUID] = Field(
        default=[], description="the groups that reported its merged duplicates: they hear it too"
    )


class SignalClosed(SignalFacts):
    event_type = "signal.closed"
    summary = "The signal was closed (automatically, 14 days after it was resolved)."
    closed_at: datetime
    partner_id: UUID | None = None


class SignalRejected(SignalFacts):
    event_type = "signal.rejected"
    summary = "A coordinator rejected the signal (reason kept in the signals service)."
    rejected_at: datetime


class SignalMerged(SignalFacts):
    event_type = "signal.merged"
    summary = "The signal is a duplicate of an open signal and was merged into it."
    duplicate_of: UUID
    merged_at: datetime
    automatic: bool = True


class SignalReopened(SignalFacts):
    event_type = "signal.reopened"
    summary = "The reporter or a coordinator reopened a resolved signal within 14 days."
    reopened_at: datetime
    partner_id: UUID | None = None


class SignalOverdue(SignalFacts):
    event_type = "signal.overdue"
    summary = "The partner did not acknowledge the signal before its deadline (emitted once per deadline)."
    partner_id: UUID
    escalated_at: datetime
    acknowledge_by: datetime


class SignalReactionRequested(SignalFacts):
    event_type = "signal.reaction_requested"
    summary = (
        "The partner it is escalated to asked the reporters a question (the text stays in the signals"
        " service); its acknowledge-by clock pauses until the answer."
    )
    partner_id: UUID
    asked_at: datetime
    returns_to: SignalStatus = Field(description="the status the signal returns to when the question ends")
    group_id: UUID | None = None


class SignalReactionReceived(SignalFacts):
    event_type = "signal.reaction_received"
    summary = (
        "A reporter answered the partner's question (the text stays in the signals service); the signal"
        " is back in its previous status and `acknowledgeBy` moved by the time the question was open."
    )
    partner_id: UUID
    asked_at: datetime
    answered_at: datetime
    acknowledge_by: datetime


class SignalReactionExpired(SignalFacts):
    event_type = "signal.reaction_expired"
    summary = (
        "Nobody answered the partner's question within 7 days: the signal is back in its previous status"
        " and `acknowledgeBy` moved by the time the question was open."
    )
    partner_id: UUID
    asked_at: datetime
    expired_at: datetime
    acknowledge_by: datetime


class SignalRated(SignalFacts):
    event_type = "signal.rated"
    summary = (
        "A reporter said whether they are satisfied with the resolution (rating again replaces; the"
        " comment stays in the signals service). Counted in the quarter of `resolvedAt`."
    )
    rating_id: UUID = Field(description="one per signal and reporter: a later rating with the same id replaces it")
    satisfied: bool
    rated_at: datetime
    resolved_at: datetime
    partner_id: UUID | None = Field(default=None, description="the partner that resolved it")
    replaces: bool = False


class SignalTransferred(SignalFacts):
    event_type = "signal.transferred"
    summary = (
        "The signal was transferred to another partner (by the partner it was escalated to, or a"
        " coordinator; or, `automatic`, by the chain the region agreed for that partner), who must"
        " acknowledge it by `acknowledgeBy`; the reason stays in the signals service."
    )
    partner_id: UUID = Field(description="the partner it is escalated to now")
    previous_partner_id: UUID | None = None
    escalated_at: datetime
    acknowledge_by: datetime
    automatic: bool = False
    group_id: UUID | None = None


class SignalPartnerInvolved(SignalFacts):
    event_type = "signal.partner_involved"
    summary = (
        "A partner was involved as a co-handler (by the partner it is escalated to, or a coordinator): it"
        " reads the description and may add feedback; the reason stays in the signals service."
    )
    partner_id: UUID = Field(description="the involved partner")
    escalated_partner_id: UUID | None = Field(default=None, description="the partner it is escalated to")
    involved_at: datetime
    group_id: UUID | None = None


class SignalReclassified(SignalFacts):
    event_type = "signal.reclassified"
    summary = (
        "A coordinator changed the category or area (routing was run again), or an acute report"
        " merged into it made it acute (`previousUrgency`)."
    )
    previous_category: Category
    previous_area: str
    routed_partner_id: UUID | None = None
    reclassified_at: datetime
    previous_urgency: Urgency | None = None


# --- partners ----------------------------------------------------------------------------------


class Availability(Model):
    weekday: int = Field(ge=1, le=7, description="1 = Monday")
    from_: str = Field(alias="from", description="HH:MM, local time (Europe/Amsterdam)")
    until: str = Field(description="HH:MM; before `from` means the window crosses midnight")


class PartnerFacts(EventData):
    """The whole routing and channel state of a partner: read models are rebuilt from it alone."""

    partner_id: UUID
    name: str
    kind: PartnerKind
    municipalities: list[str]
    areas: list[str]
    categories: list[Category]
    auto_escalate: list[Category] = []
    acknowledge_within_minutes: int
    acknowledge_within_minutes_by_urgency: dict[Urgency, int] = {}
    availability: list[Availability] = []
    priority: int = 0
    active: bool = True
    registered_at: datetime
    version: int
    webhook_url: str | None = None
    email: str | None = Field(default=None, description="the partner's channel address (not staff contacts)")

    aggregate_field = "partner_id"


class PartnerRegistered(PartnerFacts):
    event_type = "partner.registered"
    summary = "A partner was registered."


class PartnerUpdated(PartnerFacts):
    event_type = "partner.updated"
    summary = "A partner changed (also republished for every partner to rebuild read models)."


class PartnerDeactivated(PartnerFacts):
    event_type = "partner.deactivated"
    summary = "A partner was deactivated: no routing, no deliveries."


# --- goals -------------------------------------------------------------------------------------


class Indicator(Model):
    kind: IndicatorKind
    category: Category | None = None
    baseline: float | None = None
    target: float
    direction: Direction


class GoalProposed(EventData):
    event_type = "goal.proposed"
    summary = "A resident proposed a goal for their area and year."
    proposal_id: UUID
    municipality: str
    area: str
    year: int
    categories: list[Category] = []
    proposed_at: datetime

    aggregate_field = "proposal_id"


class GoalFacts(EventData):
    goal_id: UUID
    municipality: str
    area: str
    year: int
    categories: list[Category] = []
    indicators: list[Indicator] = []
    partner_ids: list[UUID] = []
    status: GoalStatus

    aggregate_field = "goal_id"


class GoalSet(GoalFacts):
    event_type = "goal.set"
    summary = "A coordinator set a goal (directly, or by adopting a residents' proposal)."
    proposal_id: UUID | None = None
    set_at: datetime
    continues_goal_id: UUID | None = Field(
        default=None, description="the goal of the previous year it continues (`continueGoal`)"
    )


class GoalUpdated(GoalFacts):
    event_type = "goal.updated"
    summary = "A goal's indicators, partners or status changed."
    updated_at: datetime


class GoalReviewDue(EventData):
    event_type = "goal.review_due"
    summary = "A quarter ended: the active goal is due for its quarterly review (emitted once)."
    goal_id: UUID
    municipality: str
    area: str
    year: int
    quarter: str = Field(pattern=r"^\d{4}-Q[1-4]$")
    partner_ids: list[UUID] = []

    aggregate_field = "goal_id"


class GoalReviewed(EventData):
    event_type = "goal.reviewed"
    summary = "The coordinator recorded the quarterly review of a goal."
    goal_id: UUID
    review_id: UUID
    municipality: str
    area: str
    year: int
    quarter: str = Field(pattern=r"^\d{4}-Q[1-4]$")
    partner_ids: list[UUID] = []
    assessment: Assessment
    decision: Decision
    reviewed_at: datetime

    aggregate_field = "goal_id"


class GoalProposalDecided(EventData):
    event_type = "goal.proposal_decided"
    summary = (
        "A coordinator adopted a residents' proposal into a goal or declined it; the decline reason stays"
        " in the goals service (the proposer hears if they left an address)."
    )
    proposal_id: UUID
    goal_id: UUID | None = Field(default=None, description="the goal it became, when adopted")
    municipality: str
    area: str
    year: int
    decision: ProposalDecision
    decided_at: datetime

    aggregate_field = "proposal_id"


class AreaReviewed(EventData):
    event_type = "area.reviewed"
    summary = (
        "The partners of an area held its quarterly review: the figures are frozen; notes, scores'"
        " comments and agreements' texts stay in the goals service."
    )
    review_id: str = Field(description="`<area>/<quarter>`: the review's subject and the tail of its report URL")
    municipality: str
    area: str
    quarter: str = Field(pattern=r"^\d{4}-Q[1-4]$")
    partner_ids: list[UUID] = Field(default=[], description="the participants: the partners that concern the area")
    held_at: datetime

    aggregate_field = "review_id"


# --- neighbourhoods ----------------------------------------------------------------------------


class ResidentJoined(EventData):
    event_type = "neighbourhood.resident_joined"
    summary = (
        "A resident named a neighbourhood (BU) they live in. `resident` is a keyed pseudonym of their"
        " token subject (`shared.crypto.resident_ref`), never the subject itself."
    )
    resident: str
    municipality: str
    area: str
    joined_at: datetime

    aggregate_field = "resident"


class ResidentLeft(EventData):
    event_type = "neighbourhood.resident_left"
    summary = "A resident no longer names this neighbourhood as one they live in (pseudonym as in `resident_joined`)."
    resident: str
    municipality: str
    area: str
    left_at: datetime

    aggregate_field = "resident"


class MessageFacts(EventData):
    message_id: UUID
    municipality: str
    area: str
    kind: MessageKind
    partner_id: UUID | None = Field(default=None, description="the partner it was posted for (none: the coordinators)")

    aggregate_field = "message_id"


class MessagePosted(MessageFacts):
    event_type = "neighbourhood.message_posted"
    summary = (
        "A partner or coordinator posted a message to a neighbourhood or district; title and body stay in the service."
    )
    posted_at: datetime
    valid_until: datetime | None = None


class MessageWithdrawn(MessageFacts):
    event_type = "neighbourhood.message_withdrawn"
    summary = "A neighbourhood message was withdrawn."
    withdrawn_at: datetime


class InitiativeFacts(EventData):
    initiative_id: UUID
    municipality: str
    area: str
    kind: InitiativeKind
    status: InitiativeStatus
    participant_count: int = 0
    group_id: UUID | None = Field(default=None, description="the group whose admin started it")
    goal_id: UUID | None = None
    pledging_partner_ids: list[UUID] = []

    aggregate_field = "initiative_id"


class InitiativeStarted(InitiativeFacts):
    event_type = "initiative.started"
    summary = "A resident or group admin started an initiative; title and description stay in the service."
    asks: list[SupportKind] = []
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    started_at: datetime


class InitiativeParticipantsChanged(InitiativeFacts):
    event_type = "initiative.participants_changed"
    summary = "A neighbour joined or left an initiative: the new count (participants are never named)."
    changed_at: datetime


class InitiativeSupportPledged(InitiativeFacts):
    event_type = "initiative.support_pledged"
    summary = "A partner pledged support to an initiative; the note stays in the service."
    pledge_id: UUID
    partner_id: UUID
    support_kind: SupportKind
    pledged_at: datetime


class InitiativeCompleted(InitiativeFacts):
    event_type = "initiative.completed"
    summary = "The leader or a coordinator completed an initiative; the outcome stays in the service."
    completed_at: datetime


class InitiativeStopped(InitiativeFacts):
    event_type = "initiative.stopped"
    summary = "The leader or a coordinator stopped an initiative; the reason stays in the service."
    stopped_at: datetime


# --- notifications -----------------------------------------------------------------------------


class DeliveryFacts(EventData):
    delivery_id: UUID
    event_id: UUID
    event_type_delivered: str
    channel: str
    target: str = Field(description="a partner id, or `reporter`: never an address")
    partner_id: UUID | None = None
    subject: str | None = Field(default=None, description="the signal or goal id of the event")
    municipality: str
    attempts: int
    at: datetime

    aggregate_field = "delivery_id"


class NotificationDelivered(DeliveryFacts):
    event_type = "notification.delivered"
    summary = "A webhook or e-mail was delivered."


class NotificationFailed(DeliveryFacts):
    event_type = "notification.failed"
    summary = "A delivery failed after its last retry (about 24 hours) or its channel was disabled."
    last_error: str | None = Field(default=None, description="status code or error class, never a body")


CATALOG: dict[str, type[EventData]] = {
    model.event_type: model
    for model in (
        SignalReceived,
        SignalEscalated,
        SignalAcknowledged,
        SignalResolved,
        SignalClosed,
        SignalRejected,
        SignalMerged,
        SignalReopened,
        SignalOverdue,
        SignalReclassified,
        SignalReactionRequested,
        SignalReactionReceived,
        SignalReactionExpired,
        SignalRated,
        SignalTransferred,
        SignalPartnerInvolved,
        PartnerRegistered,
        PartnerUpdated,
        PartnerDeactivated,
        GoalProposed,
        GoalSet,
        GoalUpdated,
        GoalReviewDue,
        GoalReviewed,
        GoalProposalDecided,
        AreaReviewed,
        ResidentJoined,
        ResidentLeft,
        MessagePosted,
        MessageWithdrawn,
        InitiativeStarted,
        InitiativeParticipantsChanged,
        InitiativeSupportPledged,
        InitiativeCompleted,
        InitiativeStopped,
        NotificationDelivered,
        NotificationFailed,
    )
}
EVENT_TYPES: tuple[str, ...] = tuple(CATALOG)
DLQ_SUFFIX = ".dlq"


def dlq_topic(topic: str) -> str:
    return f"{topic}{DLQ_SUFFIX}"
