"""Who may see and do what with deliveries: the one table of this service's rules.

| action                         | who                                                                 |
|--------------------------------|---------------------------------------------------------------------|
| list / read deliveries         | coordinators and region admins: their municipalities' deliveries;   |
|                                | partner agents and integration clients: their own partner's         |
| resend a delivery              | coordinators of the delivery's municipality                          |
| ping a partner's webhook       | coordinators of one of the partner's municipalities; the partner's   |
|                                | own agents and integration clients                                   |

Another municipality's delivery or partner is a 404, as if it did not exist.
"""

from __future__ import annotations

from uuid import UUID

from services.notifications.domain import (
    MayNotPing,
    NoSuchDelivery,
    NoSuchPartner,
    NotADeliveryReader,
    OtherPartnersDeliveries,
    PartnerChannels,
)
from shared.auth import Principal, demand
from shared.events.codes import Role

READERS = (Role.COORDINATOR, Role.REGION_ADMIN)
PARTNER_ROLES = (Role.PARTNER_AGENT, Role.INTEGRATION)


def _own_partner(principal: Principal) -> UUID | None:
    if not principal.has(*PARTNER_ROLES) or not principal.partner_id:
        return None
    try:
        return UUID(principal.partner_id)
    except ValueError:
        return None


def readable_partner(principal: Principal, asked: UUID | None) -> UUID | None:
    """The partner filter a list must use: the asked one, or the caller's own partner only."""
    if principal.has(*READERS):
        return asked
    own = _own_partner(principal)
    if own is None:
        raise NotADeliveryReader()
    if asked is not None and asked != own:
        raise OtherPartnersDeliveries()
    return own


def visible_delivery(principal: Principal, municipality: str, partner_id: UUID | None) -> None:
    if not principal.acts_in(municipality):
        raise NoSuchDelivery()
    if principal.has(*READERS):
        return
    own = _own_partner(principal)
    if own is None:
        raise NotADeliveryReader()
    if partner_id != own:
        raise NoSuchDelivery()


def may_resend(principal: Principal, municipality: str) -> None:
    demand(principal, Role.COORDINATOR, municipality=municipality)


def may_ping(principal: Principal, partner: PartnerChannels) -> str:
    """The municipality the ping is recorded under, if the caller may ping this partner."""
    shared = sorted(m for m in partner.municipalities if principal.acts_in(m))
    if not shared:
        raise NoSuchPartner()
    if principal.has(Role.COORDINATOR) or _own_partner(principal) == partner.partner_id:
        return shared[0]
    raise MayNotPing()
