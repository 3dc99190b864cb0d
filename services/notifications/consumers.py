"""Event handlers: the partners' channels read model, and the deliveries each event asks for."""

from __future__ import annotations

from uuid import UUID

import orjson

from services.notifications import domain, store
from shared.consumer import Handler, NotYet, ReceivedEvent
from shared.db import UnitOfWork
from shared.events.catalog import PartnerDeactivated, PartnerFacts
from shared.observability import get_logger

log = get_logger(__name__)
PARTNER_EVENTS = ("partner.registered", "partner.updated", "partner.deactivated")


async def on_partner(uow: UnitOfWork, event: ReceivedEvent) -> None:
    """Partner events carry the whole state; apply a version only once and only forwards."""
    data = event.data
    assert isinstance(data, PartnerFacts)
    found = await store.channels_for_update(uow.session, data.partner_id)
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
    await store.save_channels(uow.session, partner, data.version)


class Fanout:
    """Turns an event somebody must hear about into one delivery per target and channel."""

    def __init__(self, *, public_base_url: str, schema: str) -> None:
        self.public_base_url = public_base_url
        self.schema = schema

    async def __call__(self, uow: UnitOfWork, event: ReceivedEvent) -> None:
        envelope = event.envelope
        event_type = envelope.event_type
        data = envelope.data
        municipality = str(data.get("municipality") or envelope.municipality)
        named = [v for v in (data.get("partnerId"), data.get("groupId"), *(data.get("partnerIds") or [])) if v]
        partners = await store.candidates(uow.session, [UUID(str(v)) for v in named], municipality)
        targets = domain.audience(event_type, data, partners)
        missing = {str(v) for v in named} - {str(p.partner_id) for p in partners}
        if missing:
            # Every partner id comes from partner events; the channels consumer has not read it yet.
            log.warning("partners_not_yet_known", event_id=str(envelope.id), partner_ids=sorted(missing))
            raise NotYet(f"partners {sorted(missing)} not in the channels read model yet")
        if not targets:
            return
        subject = domain.subject_of(event_type, data)
        body = domain.cloud_event(
            event_id=envelope.id,
            source=envelope.source,
            event_type=event_type,
            time=envelope.time,
            subject=subject,
            data=data,
            public_base_url=self.public_base_url,
        )
        created = await store.add_deliveries(
            uow.session,
            event_id=envelope.id,
            event_type=event_type,
            subject=subject,
            municipality=municipality,
            data=dict(data),
            body=orjson.dumps(body).decode(),
            targets=targets,
            now=uow.clock.now(),
            sequence=_version(envelope.sequence),
        )
        if created:
            await store.notify_workers(uow.session, self.schema)
            log.info("deliveries_planned", event_id=str(envelope.id), event_type=event_type, count=len(created))


def channel_handlers() -> dict[str, Handler]:
    """Its own consumer group, so deliveries waiting for a partner never block the partner's event."""
    return {t: on_partner for t in PARTNER_EVENTS}


def delivery_handlers(fanout: Fanout) -> dict[str, Handler]:
    return {t: fanout for t in domain.HANDLED_EVENTS}


def _version(sequence: str) -> int:
    try:
        return int(sequence)
    except ValueError:
        return 0
