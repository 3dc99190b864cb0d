"""Partner events keep the local read model of who covers which areas (never a call to partners)."""

from __future__ import annotations

from services.neighbourhoods.store import partners
from shared.consumer import PermanentError, ReceivedEvent
from shared.db import UnitOfWork
from shared.events.catalog import PartnerDeactivated, PartnerFacts
from shared.observability import get_logger

log = get_logger(__name__)


async def on_partner(uow: UnitOfWork, event: ReceivedEvent) -> None:
    """Apply a partner's full state when it is newer than what is kept."""
    facts = event.data
    if not isinstance(facts, PartnerFacts):
        raise PermanentError(f"not partner facts: {event.event_type}")
    active = facts.active and not isinstance(facts, PartnerDeactivated)
    applied = await partners.apply(uow.session, facts, active=active)
    log.info("partner_applied", partner_id=str(facts.partner_id), version=facts.version, applied=applied)


HANDLERS = {
    "partner.registered": on_partner,
    "partner.updated": on_partner,
    "partner.deactivated": on_partner,
}
