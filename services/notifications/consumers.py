"""Event handlers on the catalog's typed models: the partners' channels read model, and the
deliveries each event somebody must hear about asks for (`handlers.plan_deliveries`)."""

from __future__ import annotations

import functools

from services.notifications import domain, handlers
from services.notifications.store import channels
from shared.consumer import Handler, PermanentError, ReceivedEvent
from shared.db import UnitOfWork
from shared.events.catalog import PartnerDeactivated, PartnerFacts, SignalReceived
from shared.observability import get_logger

log = get_logger(__name__)
PARTNER_EVENTS = ("partner.registered", "partner.updated", "partner.deactivated")
SIGNAL_EVENTS = ("signal.received",)


async def on_partner(uow: UnitOfWork, event: ReceivedEvent) -> None:
    """Partner events carry the whole state; apply a version only once and only forwards."""
    data = event.data
    if not isinstance(data, PartnerFacts):
        raise PermanentError(f"not partner facts: {event.event_type}")
    found = await channels.channels_for_update(uow.session, data.partner_id)
    current = found[0] if found is not None else None
    if not domain.channel_update_applies(found[1] if found is not None else None, data.version):
        return
    disabled = current is not None and domain.keeps_webhook_disabled(
        current.webhook_disabled, current.webhook_url, data.webhook_url
    )
    partner = domain.PartnerChannels(
        partner_id=data.partner_id,
        kind=data.kind,
        municipalities=tuple(data.municipalities),
        areas=tuple(data.areas),
        active=data.active and not isinstance(data, PartnerDeactivated),
        webhook_url=data.webhook_url,
        email=data.email,
        webhook_disabled=disabled,
    )
    await channels.save_channels(uow.session, partner, data.version)


async def on_notifiable(uow: UnitOfWork, event: ReceivedEvent, *, public_base_url: str) -> None:
    data = event.data
    if not isinstance(data, domain.Notifiable):
        raise PermanentError(f"not an event this service delivers: {event.event_type}")
    envelope = event.envelope
    heard = handlers.EventToDeliver(
        event_id=envelope.id,
        source=envelope.source,
        time=envelope.time,
        version=_version(envelope.sequence),
        municipality=envelope.municipality,
        data=data,
    )
    await handlers.plan_deliveries(uow, heard, uow.clock, public_base_url=public_base_url)


def channel_handlers() -> dict[str, Handler]:
    """Its own consumer group, so deliveries waiting for a partner never block the partner's event."""
    return {t: on_partner for t in PARTNER_EVENTS}


async def on_signal_received(uow: UnitOfWork, event: ReceivedEvent) -> None:
    data = event.data
    if not isinstance(data, SignalReceived):
        raise PermanentError(f"not a received signal: {event.event_type}")
    await handlers.remember_signal(uow, data)


def signal_handlers() -> dict[str, Handler]:
    """Its own consumer group too: a delivery waiting for a signal's group never blocks it."""
    return {t: on_signal_received for t in SIGNAL_EVENTS}


def delivery_handlers(public_base_url: str) -> dict[str, Handler]:
    handler = functools.partial(on_notifiable, public_base_url=public_base_url)
    return {t: handler for t in domain.HANDLED_EVENTS}


def _version(sequence: str) -> int:
    try:
        return int(sequence)
    except ValueError:
        return 0
