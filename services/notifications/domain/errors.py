"""One exception per rule this service enforces; `shared.http` renders them as problem+json."""

from __future__ import annotations

from shared.errors import Conflict, Forbidden, NotFound


class NoSuchDelivery(NotFound):
    """The delivery does not exist, or is another municipality's or partner's (404)."""

    def __init__(self) -> None:
        super().__init__("no such delivery")


class NoSuchPartner(NotFound):
    """The partner is unknown here, or in none of the caller's municipalities (404)."""

    def __init__(self) -> None:
        super().__init__("no such partner")


class NoWebhookChannel(Conflict):
    """A ping needs an active partner with a webhook url (409)."""

    def __init__(self) -> None:
        super().__init__("the partner has no active webhook channel")


class NotADeliveryReader(Forbidden):
    """Deliveries are read by coordinators, region admins and partners' own staff (403)."""

    def __init__(self) -> None:
        super().__init__("requires role coordinator, region_admin, partner_agent or integration")


class OtherPartnersDeliveries(Forbidden):
    """Partner staff list only their own partner's deliveries (403)."""

    def __init__(self) -> None:
        super().__init__("only your own partner's deliveries")


class MayNotPing(Forbidden):
    """A ping is for coordinators and the partner's own agents and integration clients (403)."""

    def __init__(self) -> None:
        super().__init__("requires role coordinator, or the partner's own agent or integration client")
