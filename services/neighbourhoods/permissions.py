"""Who may do what in the neighbourhood: the one table of this service (CONTRACT.md "The
neighbourhood"), used by the handlers and by the list queries alike.

| action              | who                                                                          |
|---------------------|------------------------------------------------------------------------------|
| read                | every role with a token for the municipality (services: every municipality) |
| locate              | every authenticated caller (areaAt)                                          |
| live_in             | residents: join and leave the neighbourhoods they live in (at most 3, BU)    |
| post_message        | partner agents and integration clients for their partner, in areas it covers; coordinators |
| withdraw_message    | who posted it (the same person, or their partner's staff), or a coordinator  |
| start_initiative    | residents and group admins; the starter leads it                             |
| join_initiative     | residents                                                                    |
| pledge              | partner agents and integration clients for their partner; coordinators for a    |
|                     | partner of theirs; the partner covers the area                               |
| end_initiative      | its leader or a coordinator (complete, stop)                                 |
| leader_contact      | the notifications service alone; every read audited                          |
| AVG access, erasure | `GET /v1/me/data` any person's token; `DELETE /v1/me` residents and group    |
|                     | admins signed in at most 5 minutes earlier (`shared.privacy`, `privacy.py`)  |

Another municipality's objects answer 404: their existence is not revealed.
"""

from __future__ import annotations

from uuid import UUID

from shared.auth import Principal, visible_in
from shared.errors import Forbidden, NotFound
from shared.events.codes import Role

PARTNER_ROLES = (Role.PARTNER_AGENT, Role.INTEGRATION)

MAY: dict[str, frozenset[Role]] = {
    "read": frozenset(Role),
    "locate": frozenset(Role),
    "live_in": frozenset({Role.RESIDENT}),
    "post_message": frozenset({Role.PARTNER_AGENT, Role.INTEGRATION, Role.COORDINATOR}),
    "withdraw_message": frozenset({Role.PARTNER_AGENT, Role.INTEGRATION, Role.COORDINATOR}),
    "start_initiative": frozenset({Role.RESIDENT, Role.GROUP_ADMIN}),
    "join_initiative": frozenset({Role.RESIDENT}),
    "pledge": frozenset({Role.PARTNER_AGENT, Role.INTEGRATION, Role.COORDINATOR}),
    "end_initiative": frozenset({Role.RESIDENT, Role.GROUP_ADMIN, Role.COORDINATOR}),
    "leader_contact": frozenset({Role.SERVICE}),
}

CONTACT_READERS = frozenset({"notifications"})


def roles_for(action: str) -> tuple[Role, ...]:
    return tuple(sorted(MAY[action]))


def require(principal: Principal, action: str) -> None:
    """403 unless the caller holds a role the action allows (before the body is looked at)."""
    if not principal.has(*MAY[action]):
        raise Forbidden(f"requires role {' or '.join(roles_for(action))}")


def require_in(principal: Principal, action: str, municipality: str) -> None:
    """`require`, and the municipality must be one of the caller's (404 otherwise)."""
    require(principal, action)
    if not principal.is_service and not principal.acts_in(municipality):
        raise NotFound()


def may_read(principal: Principal, municipality: str) -> None:
    visible_in(principal, [municipality])


def readable_municipalities(principal: Principal) -> list[str] | None:
    """The municipalities whose objects a list shows; None: every one (services)."""
    return None if principal.is_service else sorted(principal.municipalities)


def acting_partner(principal: Principal) -> UUID | None:
    """The partner a partner agent or integration client acts for."""
    if principal.partner_id is None or not principal.has(*PARTNER_ROLES):
        return None
    try:
        return UUID(principal.partner_id)
    except ValueError:
        return None


def group_of(principal: Principal) -> UUID | None:
    """The group a group admin administers."""
    if principal.partner_id is None or not principal.has(Role.GROUP_ADMIN):
        return None
    try:
        return UUID(principal.partner_id)
    except ValueError:
        return None


def is_coordinator_of(principal: Principal, municipality: str) -> bool:
    return principal.has(Role.COORDINATOR) and principal.acts_in(municipality)


def may_read_leader_contact(principal: Principal) -> None:
    if not principal.has(*MAY["leader_contact"]) or principal.sub not in CONTACT_READERS:
        raise Forbidden("only the notifications service reads an initiative leader's contact")
