"""Who hears about which event, on which channels (the README's table)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from services.notifications.domain.channels import Channel, PartnerChannels
from shared.events.catalog import (
    GoalReviewDue,
    GoalReviewed,
    SignalAcknowledged,
    SignalClosed,
    SignalEscalated,
    SignalOverdue,
    SignalReopened,
    SignalResolved,
)
from shared.events.codes import GROUP_KINDS, PartnerKind

REPORTER = "reporter"

SIGNAL_EVENTS_TO_PARTNER = ("signal.escalated", "signal.overdue", "signal.reopened", "signal.closed")
SIGNAL_FEEDBACK_EVENTS = ("signal.acknowledged", "signal.resolved")
GOAL_EVENTS = ("goal.review_due", "goal.reviewed")
HANDLED_EVENTS = (*SIGNAL_EVENTS_TO_PARTNER, *SIGNAL_FEEDBACK_EVENTS, *GOAL_EVENTS)

# the catalog models of HANDLED_EVENTS
Notifiable = (
    SignalEscalated
    | SignalOverdue
    | SignalReopened
    | SignalClosed
    | SignalAcknowledged
    | SignalResolved
    | GoalReviewDue
    | GoalReviewed
)
_WITH_GROUP = (SignalEscalated, SignalAcknowledged, SignalResolved)


@dataclass(frozen=True, order=True)
class Target:
    """A partner id, or REPORTER (the reporters who left a contact), on one channel."""

    target: str
    channel: Channel
    partner_id: UUID | None


def named_partners(data: Notifiable) -> list[UUID]:
    """The partners an event names (its partner, the signal's group, the goal's partners): each
    must be in the channels read model before the event's audience is known."""
    if isinstance(data, GoalReviewDue | GoalReviewed):
        return list(data.partner_ids)
    group = data.group_id if isinstance(data, _WITH_GROUP) else None
    duplicates = data.duplicate_group_ids if isinstance(data, SignalAcknowledged | SignalResolved) else []
    return list(dict.fromkeys(p for p in (data.partner_id, group, *duplicates) if p is not None))


def audience(event_type: str, data: Mapping[str, Any], partners: Iterable[PartnerChannels]) -> list[Target]:
    """Who must hear about this event, on which channels (data: the event's camelCase data)."""
    known = {p.partner_id: p for p in partners}
    wanted: list[UUID] = []
    reporters = False
    municipality = str(data.get("municipality", ""))

    def coordinators() -> list[UUID]:
        return [
            p.partner_id
            for p in known.values()
            if p.kind == PartnerKind.MUNICIPALITY and municipality in p.municipalities
        ]

    if event_type in SIGNAL_EVENTS_TO_PARTNER:
        wanted += _ids([data.get("partnerId")])
        if event_type == "signal.overdue":
            wanted += coordinators()
    elif event_type in SIGNAL_FEEDBACK_EVENTS:
        reporters = True  # the reporters of the signal and of its merged duplicates
        wanted += _ids([data.get("groupId"), *(data.get("duplicateGroupIds") or [])])
    elif event_type == "goal.review_due":
        wanted += coordinators()
        wanted += _ids(data.get("partnerIds") or [])
    elif event_type == "goal.reviewed":
        wanted += _ids(data.get("partnerIds") or [])
        area = str(data.get("area", ""))
        wanted += [
            p.partner_id
            for p in known.values()
            if p.kind in GROUP_KINDS and municipality in p.municipalities and p.covers_part_of(area)
        ]
    targets: set[Target] = set()
    for partner_id in wanted:
        partner = known.get(partner_id)
        if partner is None:
            continue
        targets.update(Target(str(partner_id), channel, partner_id) for channel in partner.channels())
    ordered = sorted(targets)
    if reporters:
        ordered.append(Target(REPORTER, Channel.EMAIL, None))
    return ordered


def _ids(values: Iterable[object]) -> list[UUID]:
    return [UUID(str(v)) for v in values if v]
