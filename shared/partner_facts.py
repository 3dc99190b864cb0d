"""Keeping a local read model of partners from `partner.*` events (event-carried state).

Every partner event carries the partner's whole state and a version. A service that keeps a read
model gives `facts_handlers` its own upsert (`apply`: keep the newest version, an older or repeated
one changes nothing, True when applied); what is read from the event is the same everywhere.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from shared.consumer import Handler, PermanentError, ReceivedEvent
from shared.db import UnitOfWork
from shared.events.catalog import PartnerDeactivated, PartnerFacts
from shared.observability import get_logger

log = get_logger(__name__)

PARTNER_EVENTS = ("partner.registered", "partner.updated", "partner.deactivated")


class Apply(Protocol):
    def __call__(self, session: AsyncSession, facts: PartnerFacts, *, active: bool) -> Awaitable[bool]: ...


def facts_of(event: ReceivedEvent) -> PartnerFacts:
    """The partner's state the event carries; anything else is a permanent error."""
    facts = event.data
    if not isinstance(facts, PartnerFacts):
        raise PermanentError(f"not partner facts: {event.event_type}")
    return facts


def is_active(facts: PartnerFacts) -> bool:
    """A deactivated partner is inactive whatever its facts say."""
    return facts.active and not isinstance(facts, PartnerDeactivated)


def facts_handlers(apply: Apply) -> dict[str, Handler]:
    """The consumer's handlers for every partner event: apply the facts with `apply`."""

    async def on_partner(uow: UnitOfWork, event: ReceivedEvent) -> None:
        facts = facts_of(event)
        applied = await apply(uow.session, facts, active=is_active(facts))
        log.info("partner_applied", partner_id=str(facts.partner_id), version=facts.version, applied=applied)

    return dict.fromkeys(PARTNER_EVENTS, on_partner)
