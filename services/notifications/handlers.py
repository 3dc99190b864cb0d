"""The notifications service's use cases, one plain async function each: `(uow, command, principal,
clock)`, or `(uow, event, clock)` for what an event or the sender asks.

The API, the consumers and the sender call these; none of them knows HTTP. A delivery raises
`notification.delivered` / `.failed` itself and the unit of work writes them when it commits.
Rules broken are the domain's errors (`domain.errors`), rendered to problem+json in one place.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

import orjson

from services.notifications import permissions
from services.notifications.domain import (
    AUDIENCE_BY_AREA_OF_EVERY_KIND,
    PING,
    SOURCE,
    Attempt,
    Channel,
    Delivery,
    NextState,
    NoSuchDelivery,
    NoSuchPartner,
    Notifiable,
    NoWebhookChannel,
    Status,
    Target,
    audience,
    cloud_event,
    named_partners,
)
from services.notifications.store import channels, queue, signals
from services.notifications.store.deliveries import DeliveryFilter, DeliveryStore, NewDeliveries
from services.notifications.views import DeliveryOut
from shared import idempotency
from shared.auth import Principal
from shared.clock import Clock
from shared.consumer import NotYet
from shared.db import UnitOfWork
from shared.events.catalog import SignalClosed, SignalMerged, SignalReceived, SignalRejected
from shared.observability import get_logger

log = get_logger(__name__)


# --- events somebody must hear about -------------------------------------------------------------


@dataclass(frozen=True)
class EventToDeliver:
    """An event of `domain.HANDLED_EVENTS`, with what its envelope says about it."""

    event_id: UUID
    source: str
    time: datetime
    version: int
    municipality: str
    data: Notifiable


async def plan_deliveries(uow: UnitOfWork, event: EventToDeliver, clock: Clock, *, public_base_url: str) -> list[UUID]:
    """One delivery per target and channel; waits (`NotYet`) for partners the read model lacks."""
    data = event.data
    municipality = data.municipality or event.municipality
    seen = await _seen(uow, data)
    named = named_partners(data, signal_group=seen.group_id)
    every_kind = data.event_type in AUDIENCE_BY_AREA_OF_EVERY_KIND
    partners = await channels.candidates(uow.session, named, municipality, every_kind=every_kind)
    missing = {str(v) for v in named} - {str(p.partner_id) for p in partners}
    if missing:
        # Every partner id comes from partner events; the channels consumer has not read it yet.
        log.warning("partners_not_yet_known", event_id=str(event.event_id), partner_ids=sorted(missing))
        raise NotYet(f"partners {sorted(missing)} not in the channels read model yet")
    facts = data.model_dump(mode="json", by_alias=True)  # the event's data as on the wire, kept for the mails
    if seen.original_reference is not None:
        facts["originalReference"] = seen.original_reference  # a code, for the merged notice (never in a webhook)
    targets = audience(data.event_type, facts, partners, signal_group=seen.group_id)
    if not targets:
        return []
    subject = data.aggregate_id()
    body = cloud_event(
        event_id=event.event_id,
        source=event.source,
        event_type=data.event_type,
        time=event.time,
        subject=subject,
        data=facts,
        public_base_url=public_base_url,
    )
    as_json = orjson.dumps(body).decode()
    new = NewDeliveries(event.event_id, data.event_type, subject, municipality, facts, as_json, targets, event.version)
    created = await DeliveryStore(uow).add(new, clock.now())
    if created:
        await queue.notify_workers(uow.session, uow.db.schema)
        log.info("deliveries_planned", event_id=str(event.event_id), event_type=data.event_type, count=len(created))
    return created


@dataclass(frozen=True)
class Seen:
    """What the signals read model adds to an event that does not say it."""

    group_id: UUID | None = None
    original_reference: str | None = None


async def _seen(uow: UnitOfWork, data: Notifiable) -> Seen:
    """The group of a merged, rejected or closed signal, and a merged signal's original's reference.

    A signal merged at intake (`automatic`) left its `signal.received` in the same transaction:
    until the signals consumer has it, the event waits. Otherwise a signal never seen (reported
    before this read model existed) is told to its reporters only, without the group."""
    if not isinstance(data, SignalMerged | SignalRejected | SignalClosed):
        return Seen()
    original = data.duplicate_of if isinstance(data, SignalMerged) else None
    found = await signals.seen(uow.session, [data.signal_id, *([original] if original else [])])
    own = found.get(data.signal_id)
    if own is None and isinstance(data, SignalMerged) and data.automatic:
        log.warning("signal_not_yet_known", signal_id=str(data.signal_id))
        raise NotYet(f"signal {data.signal_id} not in the signals read model yet")
    into = found.get(original) if original else None
    return Seen(own.group_id if own else None, into.reference if into else None)


async def remember_signal(uow: UnitOfWork, data: SignalReceived) -> None:
    """The signals read model: reference and reporting group of every signal reported."""
    await signals.remember(uow.session, data.signal_id, data.reference, data.group_id, data.received_at)


# --- reads ---------------------------------------------------------------------------------------


async def readable_delivery(uow: UnitOfWork, delivery_id: UUID, principal: Principal) -> Delivery:
    delivery = await DeliveryStore(uow).get(delivery_id)
    if delivery is None:
        raise NoSuchDelivery()
    permissions.visible_delivery(principal, delivery.municipality, delivery.partner_id)
    return delivery


async def attempts_of(uow: UnitOfWork, delivery_id: UUID, principal: Principal) -> list[Attempt]:
    await readable_delivery(uow, delivery_id, principal)
    return await DeliveryStore(uow).attempts(delivery_id)


@dataclass(frozen=True)
class ListDeliveries:
    partner_id: UUID | None  # the caller may list this partner's (`permissions.readable_partner`)
    event_id: UUID | None
    signal_id: UUID | None
    status: Status | None
    ids: list[UUID] | None
    first: int
    after_seq: int | None


@dataclass(frozen=True)
class DeliveryList:
    page: list[Delivery]
    total: int
    more: bool


async def list_deliveries(uow: UnitOfWork, q: ListDeliveries, principal: Principal) -> DeliveryList:
    """The caller's municipalities' deliveries, in arrival order."""
    f = DeliveryFilter(
        municipalities=sorted(principal.municipalities),
        partner_id=q.partner_id,
        event_id=q.event_id,
        subject=str(q.signal_id) if q.signal_id is not None else None,
        status=q.status,
        ids=q.ids,
    )
    rows, total = await DeliveryStore(uow).page(f, first=q.first, after_seq=q.after_seq)
    return DeliveryList(rows[: q.first], total, len(rows) > q.first)


# --- commands ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Resend:
    delivery_id: UUID


async def resend(uow: UnitOfWork, cmd: Resend, principal: Principal, clock: Clock) -> Delivery:
    """Send again now with a fresh retry schedule (same webhook-id: receivers deduplicate)."""
    deliveries = DeliveryStore(uow)
    delivery = await deliveries.get(cmd.delivery_id, lock=True)
    if delivery is None:
        raise NoSuchDelivery()
    permissions.may_resend(principal, delivery.municipality)
    delivery.resend(clock.now())
    await deliveries.save_resent(delivery)
    await queue.notify_workers(uow.session, uow.db.schema)
    await uow.commit()
    return delivery


@dataclass(frozen=True)
class Ping:
    partner_id: UUID
    idempotency_key: str | None


@dataclass(frozen=True)
class Pinged:
    """The new ping's delivery (to send at once), or the first answer to a repeated key."""

    delivery_id: UUID | None
    answer: Any = None
    status: int = 201


async def ping(uow: UnitOfWork, cmd: Ping, principal: Principal, clock: Clock, *, public_base_url: str) -> Pinged:
    """A `ping` webhook (data: `{partnerId}`) to the partner's url, to be sent at once."""
    partner = await channels.channels_of(uow.session, cmd.partner_id)
    if partner is None:
        raise NoSuchPartner()
    municipality = permissions.may_ping(principal, partner)
    scope, key = f"ping:{principal.sub}", cmd.idempotency_key
    if key:
        digest = idempotency.request_hash({"partnerId": str(cmd.partner_id)})
        stored = await idempotency.claim(uow.session, scope, key, digest)
        if stored is not None:
            return Pinged(None, stored.body, stored.status_code)
    if not partner.active or not partner.webhook_url:
        raise NoWebhookChannel()
    event_id, subject, data = uuid4(), str(cmd.partner_id), {"partnerId": str(cmd.partner_id)}
    body = cloud_event(
        event_id=event_id,
        source=SOURCE,
        event_type=PING,
        time=clock.now(),
        subject=subject,
        data=data,
        public_base_url=public_base_url,
    )
    target = Target(subject, Channel.WEBHOOK, cmd.partner_id)
    new = NewDeliveries(event_id, PING, subject, municipality, data, orjson.dumps(body).decode(), [target])
    deliveries = DeliveryStore(uow)
    [created] = await deliveries.add(new, clock.now())
    if key:
        delivery = await deliveries.get(created)
        assert delivery is not None
        answer = DeliveryOut.of(delivery).model_dump(mode="json", by_alias=True)
        await idempotency.complete(uow.session, scope, key, 201, answer)
    await uow.commit()
    return Pinged(created)


# --- the sender's results ------------------------------------------------------------------------


@dataclass(frozen=True)
class Attempted:
    """One finished send of a leased delivery, as the sender saw it."""

    delivery: Delivery
    attempt: Attempt
    done_recipients: list[str] | None = None  # the reporters mailed so far (reporter deliveries)
    enable_webhook: bool = False  # a ping got through to a webhook that a 410 disabled


@dataclass(frozen=True)
class Recorded:
    state: NextState
    kept: bool  # False: another sender took the lease over; this attempt is not recorded


async def record_attempts(
    uow: UnitOfWork, attempted: Sequence[Attempted], clock: Clock, *, schedule: Sequence[float]
) -> list[Recorded]:
    """Each delivery takes its attempt in (raising delivered/failed when done); all are stored in
    one transaction, and a 410 disables (a ping that gets through re-enables) the partner's webhook."""
    now = clock.now()
    states = [
        a.delivery.attempted(a.attempt, now=now, schedule=schedule, done_recipients=a.done_recipients)
        for a in attempted
    ]
    recipients = {a.delivery.id for a in attempted if a.done_recipients is not None}
    kept = await queue.record_attempts(uow, [(a.delivery, a.attempt) for a in attempted], with_recipients=recipients)
    for a, state in zip(attempted, states, strict=True):
        d, change = a.delivery, state.disable_webhook or a.enable_webhook
        if change and d.id in kept and d.partner_id is not None and d.channel == Channel.WEBHOOK:
            await channels.set_webhook_disabled(uow.session, d.partner_id, state.disable_webhook)
    await uow.commit()
    return [Recorded(state, a.delivery.id in kept) for a, state in zip(attempted, states, strict=True)]
