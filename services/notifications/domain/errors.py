"""One exception per rule this service enforces; `shared.http` renders them as problem+json
(status and title from the `shared.errors` type, the rule's message as the detail)."""

from __future__ import annotations

from typing import ClassVar

from shared.errors import Conflict, DomainError, Forbidden, NotFound


class _Rule(DomainError):
    """A broken rule whose message never varies: `raise NoSuchDelivery()`."""

    message: ClassVar[str]

    def __init__(self) -> None:
        super().__init__(self.message)


class NoSuchDelivery(_Rule, NotFound):
    """The delivery does not exist, or is another municipality's or partner's (404)."""

    message = "no such delivery"


class NoSuchPartner(_Rule, NotFound):
    """The partner is unknown here, or in none of the caller's municipalities (404)."""

    message = "no such partner"


class NoWebhookChannel(_Rule, Conflict):
    """A ping needs an active partner with a webhook url (409)."""

    message = "the partner has no active webhook channel"


class NotADeliveryReader(_Rule, Forbidden):
    """Deliveries are read by coordinators, region admins and partners' own staff (403)."""

    message = "requires role coordinator, region_admin, partner_agent or integration"


class OtherPartnersDeliveries(_Rule, Forbidden):
    """Partner staff list only their own partner's deliveries (403)."""

    message = "only your own partner's deliveries"


class MayNotPing(_Rule, Forbidden):
    """A ping is for coordinators and the partner's own agents and integration clients (403)."""

    message = "requires role coordinator, or the partner's own agent or integration client"
