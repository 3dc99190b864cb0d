"""Who may do what with partners: the one table of this service.

| operation                          | who                                                                  |
|------------------------------------|----------------------------------------------------------------------|
| read a partner, full               | coordinator or region admin of one of its municipalities; its own     |
|                                    | partner agents, integration clients and (for a group) group admins;  |
|                                    | services                                                             |
| read a partner, names/kinds/areas, | any other user acting in one of its municipalities                   |
| categories, availability, ack time |                                                                      |
| register, update, deactivate,      | a coordinator of every municipality it lists; a region admin of all  |
| rotate the secret, manage contacts | of them when it spans more than one                                  |
| read contacts                      | coordinators and region admins of its municipalities; its own agents |
|                                    | and (for a group) its group admins; not its integration clients      |
| read webhook secrets (internal)    | the notifications service only                                       |
| list partners                      | anyone, of their own municipalities (services: all)                  |

Anyone outside all of a partner's municipalities gets 404: its existence is not revealed.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from enum import Enum
from typing import Literal

from services.partners.domain import NoSuchPartner, Partner
from shared.areas import is_municipality
from shared.auth import Principal
from shared.errors import Forbidden, NotFound
from shared.events.codes import Role

SECRETS_READER = "notifications"
_OWN_PARTNER_ROLES = (Role.PARTNER_AGENT, Role.INTEGRATION, Role.GROUP_ADMIN)
_READ_EVERYTHING_ROLES = (Role.COORDINATOR, Role.REGION_ADMIN)
_CONTACT_READER_ROLES = (Role.PARTNER_AGENT, Role.GROUP_ADMIN)  # people of the partner, not its systems


class View(Enum):
    NONE = "none"
    LIMITED = "limited"
    FULL = "full"


def acts_for(principal: Principal, partner_id: str) -> bool:
    """The caller is staff or a system of this partner (or an admin of this group)."""
    return principal.partner_id == partner_id and principal.has(*_OWN_PARTNER_ROLES)


def view_of(principal: Principal, partner_id: str, municipalities: Collection[str]) -> View:
    if principal.is_service:
        return View.FULL
    if not principal.municipalities.intersection(municipalities):
        return View.NONE
    if principal.has(*_READ_EVERYTHING_ROLES) or acts_for(principal, partner_id):
        return View.FULL
    return View.LIMITED


def may_manage(principal: Principal, municipalities: Collection[str]) -> bool:
    if not municipalities or not all(principal.acts_in(m) for m in municipalities):
        return False
    if principal.has(Role.COORDINATOR):
        return True
    return principal.has(Role.REGION_ADMIN) and len(set(municipalities)) > 1


def demand_visible(principal: Principal, partner_id: str, municipalities: Collection[str]) -> View:
    view = view_of(principal, partner_id, municipalities)
    if view is View.NONE:
        raise NoSuchPartner()
    return view


def demand_manage(principal: Principal, municipalities: Collection[str]) -> None:
    """404 when none of the municipalities is the caller's, 403 when the caller may not manage it."""
    if not municipalities:  # nothing to check against yet: the role decides, validation follows
        if not principal.has(*_READ_EVERYTHING_ROLES):
            raise Forbidden("requires role coordinator or region_admin")
        return
    if not principal.municipalities.intersection(municipalities):
        raise NotFound("no such partner or municipality")
    if not may_manage(principal, municipalities):
        raise Forbidden(
            "requires role coordinator of every municipality of the partner,"
            " or region_admin for a partner spanning several"
        )


def demand_contacts_visible(principal: Principal, partner_id: str, municipalities: Collection[str]) -> None:
    demand_visible(principal, partner_id, municipalities)
    if principal.has(*_READ_EVERYTHING_ROLES):
        return
    if principal.partner_id == partner_id and principal.has(*_CONTACT_READER_ROLES):
        return
    raise Forbidden("contacts are visible to coordinators, region admins and the partner's own staff")


def demand_secrets_reader(principal: Principal) -> None:
    if not principal.is_service or principal.sub != SECRETS_READER:
        raise Forbidden("only the notifications service may read webhook secrets")


def listed_in(principal: Principal) -> list[str] | None:
    """The municipalities whose partners a list shows the caller; None: all of them (services)."""
    return None if principal.is_service else sorted(principal.municipalities)


def demand_listed(principal: Principal, municipality: str | None) -> None:
    """A list kept to a municipality the caller does not act in is 404 (a malformed code is 400)."""
    if principal.is_service or municipality is None or principal.acts_in(municipality):
        return
    if is_municipality(municipality):
        raise NotFound("no such municipality")


Action = Literal["read", "manage", "read contacts"]


def _demand_manager(principal: Principal, partner_id: str, municipalities: Collection[str]) -> None:
    demand_visible(principal, partner_id, municipalities)
    demand_manage(principal, municipalities)


_DEMANDS: dict[Action, Callable[[Principal, str, Collection[str]], object]] = {
    "read": demand_visible,
    "manage": _demand_manager,
    "read contacts": demand_contacts_visible,
}


def demand(principal: Principal, action: Action, partner: Partner) -> None:
    """404 when the caller may not know `partner`, 403 when they may not `action` it (the table above)."""
    _DEMANDS[action](principal, str(partner.id), partner.municipalities)
