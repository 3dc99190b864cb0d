"""Who hears about which event, on which channels (the README's table)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from services.notifications.domain.channels import Channel, PartnerChannels
from shared.events.catalog import (
    AreaReviewed,
    GoalProposalDecided,
    GoalReviewDue,
    GoalReviewed,
    InitiativeCompleted,
    InitiativeStarted,
    InitiativeStopped,
    InitiativeSupportPledged,
    MessagePosted,
    MessageWithdrawn,
    SignalAcknowledged,
    SignalClosed,
    SignalEscalated,
    SignalMerged,
    SignalOverdue,
    SignalPartnerInvolved,
    SignalReactionReceived,
    SignalReactionRequested,
    SignalRejected,
    SignalReopened,
    SignalResolved,
    SignalTransferred,
)
from shared.events.codes import GROUP_KINDS, PartnerKind

REPORTER = "reporter"
LEADER = "leader"  # an initiative's leader, reached by the address sealed in the neighbourhoods service
PROPOSER = "proposer"  # a goal proposal's proposer, reached by the address sealed in the goals service

SIGNAL_EVENTS_TO_PARTNER = (
    "signal.escalated",
    "signal.overdue",
    "signal.reopened",
    "signal.closed",
    "signal.transferred",  # the new partner
    "signal.partner_involved",  # the involved partner
    "signal.reaction_received",  # the partner it is escalated to
)
SIGNAL_FEEDBACK_EVENTS = ("signal.acknowledged", "signal.resolved")
# Every step the reporters hear back about (e-mail to those who left a contact, and the signal's
# group on its channels): the contract's "loop back to reporters".
REPORTER_STEPS = (
    "signal.escalated",
    "signal.merged",
    "signal.rejected",
    "signal.reaction_requested",
    *SIGNAL_FEEDBACK_EVENTS,
    "signal.closed",
)
# Signal events that do not name the signal's group: it comes from the signals read model (`signal.received`).
GROUP_FROM_READ_MODEL = ("signal.merged", "signal.rejected", "signal.closed")
GOAL_EVENTS = ("goal.review_due", "goal.reviewed")
MESSAGE_EVENTS = ("neighbourhood.message_posted", "neighbourhood.message_withdrawn")
INITIATIVE_STARTED = "initiative.started"
INITIATIVE_FOLLOW_UPS = ("initiative.support_pledged", "initiative.completed", "initiative.stopped")
PROPOSAL_DECIDED = "goal.proposal_decided"
AREA_REVIEWED = "area.reviewed"
# The steps a merged duplicate's reporters do not hear: they cannot answer the signal's questions
# (the contract's "Rules that complete the additions", 1, "Reporters").
OWN_REPORTERS_ONLY = ("signal.reaction_requested",)
HANDLED_EVENTS = tuple(
    dict.fromkeys(
        (
            *SIGNAL_EVENTS_TO_PARTNER,
            *SIGNAL_FEEDBACK_EVENTS,
            *GOAL_EVENTS,
            *REPORTER_STEPS,
            *MESSAGE_EVENTS,
            INITIATIVE_STARTED,
            *INITIATIVE_FOLLOW_UPS,
            PROPOSAL_DECIDED,
            AREA_REVIEWED,
        )
    )
)
# the events whose audience is found by area among every kind of partner (not only the
# municipality's own and its groups)
AUDIENCE_BY_AREA_OF_EVERY_KIND = (INITIATIVE_STARTED,)

# the catalog models of HANDLED_EVENTS
Notifiable = (
    SignalEscalated
    | SignalOverdue
    | SignalReopened
    | SignalClosed
    | SignalAcknowledged
    | SignalResolved
    | SignalMerged
    | SignalRejected
    | SignalReactionRequested
    | SignalReactionReceived
    | SignalTransferred
    | SignalPartnerInvolved
    | GoalReviewDue
    | GoalReviewed
    | MessagePosted
    | MessageWithdrawn
    | InitiativeStarted
    | InitiativeSupportPledged
    | InitiativeCompleted
    | InitiativeStopped
    | GoalProposalDecided
    | AreaReviewed
)


@dataclass(frozen=True, order=True)
class Target:
    """A partner id, REPORTER (the reporters who left a contact), LEADER (an initiative's
    leader, if they gave an address) or PROPOSER (a goal proposal's proposer, if they gave an
    address), on one channel."""

    target: str
    channel: Channel
    partner_id: UUID | None


def named_partners(data: Notifiable, *, signal_group: UUID | None = None) -> list[UUID]:
    """The partners an event names as its audience (its partner, the signal's group, the goal's
    or initiative's partners): each must be in the channels read model before the event's
    audience is known. `signal_group`: the group the signals read model knows for the signal."""
    found: list[UUID | None] = []
    if isinstance(data, GoalReviewDue | GoalReviewed | AreaReviewed):
        found += data.partner_ids
    elif isinstance(data, GoalProposalDecided):
        pass  # the proposer only
    elif isinstance(data, InitiativeSupportPledged | InitiativeCompleted | InitiativeStopped):
        found += [data.partner_id] if isinstance(data, InitiativeSupportPledged) else []
        found += data.pledging_partner_ids
    elif isinstance(data, MessagePosted | MessageWithdrawn | InitiativeStarted):
        pass  # heard by area: whoever the read model knows
    else:
        if data.event_type in SIGNAL_EVENTS_TO_PARTNER:
            found.append(getattr(data, "partner_id", None))
        if data.event_type in REPORTER_STEPS:
            found.append(getattr(data, "group_id", None) or signal_group)
            found += getattr(data, "duplicate_group_ids", [])
    return list(dict.fromkeys(p for p in found if p is not None))


def audience(
    event_type: str,
    data: Mapping[str, Any],
    partners: Iterable[PartnerChannels],
    *,
    signal_group: UUID | None = None,
) -> list[Target]:
    """Who must hear about this event, on which channels (data: the event's camelCase data;
    `signal_group`: the signal's group from the signals read model, for events without `groupId`)."""
    known = {p.partner_id: p for p in partners}
    wanted: list[UUID] = []
    reporters = leader = proposer = False
    municipality = str(data.get("municipality", ""))
    area = str(data.get("area", ""))

    def coordinators() -> list[UUID]:
        return [
            p.partner_id
            for p in known.values()
            if p.kind == PartnerKind.MUNICIPALITY and municipality in p.municipalities
        ]

    def concerning(groups: bool) -> list[UUID]:
        """The partners of the municipality whose areas lie in or contain the area (groups or the rest)."""
        return [
            p.partner_id
            for p in known.values()
            if (p.kind in GROUP_KINDS) == groups and municipality in p.municipalities and p.covers_part_of(area)
        ]

    if event_type in SIGNAL_EVENTS_TO_PARTNER:
        wanted += _ids([data.get("partnerId")])
        if event_type == "signal.overdue":
            wanted += coordinators()
    if event_type in REPORTER_STEPS:
        reporters = True  # the reporters of the signal and of its merged duplicates
        wanted += _ids([data.get("groupId") or signal_group])
        if event_type in SIGNAL_FEEDBACK_EVENTS:
            wanted += _ids(data.get("duplicateGroupIds") or [])
    if event_type == "goal.review_due":
        wanted += coordinators()
        wanted += _ids(data.get("partnerIds") or [])
    elif event_type == "goal.reviewed":
        wanted += _ids(data.get("partnerIds") or [])
        wanted += concerning(groups=True)
    elif event_type in MESSAGE_EVENTS:
        wanted += concerning(groups=True)  # so an admin can share it in the group
    elif event_type == INITIATIVE_STARTED:
        wanted += concerning(groups=False)  # so a partner can connect to it; never a group
    elif event_type in INITIATIVE_FOLLOW_UPS:
        leader = True
        wanted += _ids([data.get("partnerId"), *(data.get("pledgingPartnerIds") or [])])
    elif event_type == PROPOSAL_DECIDED:
        proposer = True  # nobody else: the goal it became is told when it is reviewed
    elif event_type == AREA_REVIEWED:
        wanted += _ids(data.get("partnerIds") or [])  # the participants
    targets: set[Target] = set()
    for partner_id in wanted:
        partner = known.get(partner_id)
        if partner is None:
            continue
        targets.update(Target(str(partner_id), channel, partner_id) for channel in partner.channels())
    ordered = sorted(targets)
    if reporters:
        ordered.append(Target(REPORTER, Channel.EMAIL, None))
    if leader:
        ordered.append(Target(LEADER, Channel.EMAIL, None))
    if proposer:
        ordered.append(Target(PROPOSER, Channel.EMAIL, None))
    return ordered


def reporters_asked(event_type: str, duplicate: bool) -> bool:
    """Whether a reporter hears this step: a merged duplicate's reporter hears every step but a
    question (`OWN_REPORTERS_ONLY`), which only the signal's own reporters can answer."""
    return not (duplicate and event_type in OWN_REPORTERS_ONLY)


def _ids(values: Iterable[object]) -> list[UUID]:
    return [UUID(str(v)) for v in values if v]
