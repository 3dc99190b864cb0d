"""Event handlers: the partners read model and the per-signal facts behind the statistics."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from services.goals import read_models, review_store
from services.goals.domain import Quarter
from shared import areas
from shared.consumer import PermanentError, ReceivedEvent
from shared.db import UnitOfWork
from shared.events.catalog import (
    InitiativeCompleted,
    InitiativeFacts,
    InitiativeStarted,
    InitiativeStopped,
    NotificationDelivered,
    ResidentJoined,
    ResidentLeft,
    SignalAcknowledged,
    SignalEscalated,
    SignalFacts,
    SignalMerged,
    SignalRated,
    SignalReactionExpired,
    SignalReactionReceived,
    SignalReceived,
    SignalResolved,
    SignalTransferred,
)
from shared.events.codes import SignalStatus
from shared.partner_facts import facts_of, is_active

SIGNAL_EVENTS = (
    "signal.received",
    "signal.escalated",
    "signal.acknowledged",
    "signal.resolved",
    "signal.closed",
    "signal.merged",
    "signal.reopened",
    "signal.rejected",
    "signal.reclassified",
)
RESPONSIVENESS_EVENTS = (
    "signal.escalated",
    "signal.transferred",
    "signal.acknowledged",
    "signal.resolved",
    "signal.reaction_received",
    "signal.reaction_expired",
    "notification.delivered",
)
RATING_EVENTS = ("signal.rated",)
INITIATIVE_EVENTS = (
    "initiative.started",
    "initiative.participants_changed",
    "initiative.support_pledged",
    "initiative.completed",
    "initiative.stopped",
)
RESIDENT_EVENTS = ("neighbourhood.resident_joined", "neighbourhood.resident_left")


async def on_resident(uow: UnitOfWork, event: ReceivedEvent) -> None:
    """Where residents live, for `supportFromArea`: by the pseudonym neighbourhoods gives them."""
    data = event.data
    if isinstance(data, ResidentJoined):
        await read_models.apply_resident(uow.session, data.resident, data.municipality, data.area, True, data.joined_at)
    elif isinstance(data, ResidentLeft):
        await read_models.apply_resident(uow.session, data.resident, data.municipality, data.area, False, data.left_at)
    else:
        raise PermanentError(f"not a resident event: {event.event_type}")


async def on_partner(uow: UnitOfWork, event: ReceivedEvent) -> None:
    data = facts_of(event)
    active = is_active(data)
    await read_models.apply_partner(
        uow.session,
        data.partner_id,
        list(data.municipalities),
        active,
        data.version,
        name=data.name,
        kind=data.kind.value,
        areas=list(data.areas),
    )


def _sequence(event: ReceivedEvent) -> int:
    try:
        return int(event.envelope.sequence)
    except ValueError as exc:
        raise PermanentError("sequence is not a number") from exc


async def on_signal(uow: UnitOfWork, event: ReceivedEvent) -> None:
    data = event.data
    if not isinstance(data, SignalFacts):
        raise PermanentError(f"not signal facts: {event.event_type}")
    received_at: datetime | None = None
    escalated_at: datetime | None = None
    acknowledged_at: datetime | None = None
    if isinstance(data, SignalReceived):
        received_at = data.received_at
    elif isinstance(data, SignalEscalated):
        escalated_at = data.escalated_at
    elif isinstance(data, SignalAcknowledged):
        escalated_at, acknowledged_at = data.escalated_at, data.acknowledged_at
    elif isinstance(data, SignalResolved):
        escalated_at = data.escalated_at
        acknowledged_at = data.acknowledged_at or (data.resolved_at if data.acknowledgement_implied else None)
    # Without the escalation time on the acknowledgement, the one from signal.escalated is used.
    ack_escalated_at = escalated_at if acknowledged_at is not None else None
    await read_models.apply_signal(
        uow.session,
        read_models.SignalFactsUpdate(
            signal_id=data.signal_id,
            municipality=data.municipality,
            area=data.area,
            district=areas.parse(data.area).district,
            category=data.category.value,
            status=data.status.value,
            sequence=_sequence(event),
            received_at=received_at,
            quarter=str(Quarter.of(received_at)) if received_at else None,
            merged=isinstance(data, SignalMerged) or data.status is SignalStatus.MERGED,
            escalated_at=escalated_at,
            acknowledged_at=acknowledged_at,
            ack_escalated_at=ack_escalated_at,
        ),
    )


async def on_rating(uow: UnitOfWork, event: ReceivedEvent) -> None:
    """A reporter's rating, counted in the quarter of the resolution it rates."""
    data = event.data
    if not isinstance(data, SignalRated):
        raise PermanentError(f"not a rating: {event.event_type}")
    await read_models.apply_rating(
        uow.session,
        read_models.RatingFacts(
            rating_id=data.rating_id,
            signal_id=data.signal_id,
            partner_id=data.partner_id,
            municipality=data.municipality,
            area=data.area,
            district=areas.parse(data.area).district,
            category=data.category.value,
            satisfied=data.satisfied,
            resolved_at=data.resolved_at,
            quarter=str(Quarter.of(data.resolved_at)),
            rated_at=data.rated_at,
        ),
    )


async def on_initiative(uow: UnitOfWork, event: ReceivedEvent) -> None:
    """Residents' initiatives and how many take part, newest event (by sequence) winning."""
    data = event.data
    if not isinstance(data, InitiativeFacts):
        raise PermanentError(f"not initiative facts: {event.event_type}")
    ended_at = None
    if isinstance(data, InitiativeCompleted):
        ended_at = data.completed_at
    elif isinstance(data, InitiativeStopped):
        ended_at = data.stopped_at
    await read_models.apply_initiative(
        uow.session,
        read_models.InitiativeState(
            initiative_id=data.initiative_id,
            municipality=data.municipality,
            area=data.area,
            district=areas.parse(data.area).district,
            status=data.status.value,
            participant_count=data.participant_count,
            sequence=_sequence(event),
            started_at=data.started_at if isinstance(data, InitiativeStarted) else None,
            ended_at=ended_at,
        ),
    )


async def on_responsiveness(uow: UnitOfWork, event: ReceivedEvent) -> None:
    """How each partner responded to a signal (the review's "aansluiten" figure): escalated or
    transferred to it, acknowledged, resolved, the time questions to reporters took, and whether
    the resolution's feedback reached a reporter."""
    data, session = event.data, uow.session
    match data:
        case SignalEscalated() | SignalTransferred():
            await review_store.escalated(
                session, data.signal_id, data.partner_id, data.escalated_at, data.acknowledge_by
            )
        case SignalAcknowledged():
            await review_store.acknowledged(session, data.signal_id, data.partner_id, data.acknowledged_at)
        case SignalResolved():
            await review_store.resolved(session, data.signal_id, data.partner_id, data.resolved_at)
            implied = data.resolved_at if data.acknowledgement_implied else None
            if (acknowledged_at := data.acknowledged_at or implied) is not None:
                await review_store.acknowledged(session, data.signal_id, data.partner_id, acknowledged_at)
        case SignalReactionReceived():
            await review_store.paused(
                session, data.signal_id, data.partner_id, data.asked_at, data.answered_at, data.acknowledge_by
            )
        case SignalReactionExpired():
            await review_store.paused(
                session, data.signal_id, data.partner_id, data.asked_at, data.expired_at, data.acknowledge_by
            )
        case NotificationDelivered():
            if data.event_type_delivered == "signal.resolved" and data.subject:
                try:
                    signal_id = UUID(data.subject)
                except ValueError:
                    return
                await review_store.feedback_delivered(session, signal_id, data.target, data.partner_id)
        case _:
            raise PermanentError(f"not a responsiveness event: {event.event_type}")
