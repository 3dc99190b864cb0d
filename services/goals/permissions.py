"""Who may do what with goals and proposals: the one table of this service.

| action                                   | who                                                      |
|------------------------------------------|----------------------------------------------------------|
| set, change, review a goal               | coordinator of the goal's municipality                   |
| adopt or decline a proposal              | coordinator of the proposal's municipality               |
| read a goal, its measurements and chart  | every user of the municipality; partners of the goal     |
| propose, support a proposal              | resident or group admin of the municipality              |
| read proposals, an area's statistics     | every user of the municipality                           |
| see a decline reason                     | the proposer, coordinators and region admins             |
| continue a goal into the next year       | coordinator of the goal's municipality                   |
| read a proposer's contact address        | the notifications service (service token) only           |

Another municipality's goals and proposals answer 404: their existence is not revealed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated
from uuid import UUID

from fastapi import Depends

from services.goals.domain import Goal, candidate_partner_ids
from shared.auth import CurrentPrincipal, Principal, demand, visible_in
from shared.errors import Forbidden
from shared.events.codes import Role

MANAGE = (Role.COORDINATOR,)
PROPOSE = (Role.RESIDENT, Role.GROUP_ADMIN)
SEE_DECLINE_REASON = (Role.COORDINATOR, Role.REGION_ADMIN)
CONTACT_READERS = frozenset({"notifications"})


def acting_partner(principal: Principal) -> UUID | None:
    """The partner the caller acts for (partner agents, integration clients, group admins)."""
    ids = candidate_partner_ids([principal.partner_id] if principal.partner_id else [])
    return ids[0] if ids else None


def may_read_goal(principal: Principal, goal: Goal) -> None:
    if principal.partner_id is not None and principal.partner_id in [str(p) for p in goal.partner_ids]:
        return
    visible_in(principal, [goal.municipality])


def readable_goals(principal: Principal, municipality: str | None) -> tuple[list[str], UUID | None]:
    """`may_read_goal` for lists (as SQL filters): the municipalities whose goals are shown (the one
    asked for, which the caller must act in, else all the caller's), and the partner whose goals
    are shown besides (only when no municipality is asked for)."""
    if municipality is not None:
        may_read_in(principal, municipality)
        return [municipality], None
    return sorted(principal.municipalities), acting_partner(principal)


def may_manage(principal: Principal, municipality: str) -> None:
    demand(principal, *MANAGE, municipality=municipality)


def may_propose(principal: Principal, municipality: str) -> None:
    demand(principal, *PROPOSE, municipality=municipality)


def may_read_in(principal: Principal, municipality: str) -> None:
    """Proposals and area statistics: every user of the municipality (and services); others 404."""
    visible_in(principal, [municipality])


def may_read_contacts(principal: Principal) -> None:
    if not principal.has(Role.SERVICE) or principal.sub not in CONTACT_READERS:
        raise Forbidden("only the notifications service reads contacts")


def sees_decline_reason(principal: Principal, proposer: str) -> bool:
    return principal.sub == proposer or principal.has(*SEE_DECLINE_REASON)


def holding(*roles: Role) -> Callable[[Principal], Principal]:
    """A dependency: the role is checked before the body is validated (403 before 400)."""

    def check(principal: CurrentPrincipal) -> Principal:
        if not principal.has(*roles):
            raise Forbidden(f"requires role {' or '.join(r.value for r in roles)}")
        return principal

    return check


Manager = Annotated[Principal, Depends(holding(*MANAGE))]
Proposer = Annotated[Principal, Depends(holding(*PROPOSE))]
