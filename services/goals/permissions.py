"""Who may do what with goals and proposals: the one table of this service.

| action                                   | who                                                      |
|------------------------------------------|----------------------------------------------------------|
| set, change, review a goal               | coordinator of the goal's municipality                   |
| adopt or decline a proposal              | coordinator of the proposal's municipality               |
| read a goal, its measurements and chart  | every user of the municipality; partners of the goal     |
| propose, support a proposal              | resident or group admin of the municipality              |
| read proposals                           | every user of the municipality                           |
| see a decline reason                     | the proposer, coordinators and region admins             |

Another municipality's goals and proposals answer 404: their existence is not revealed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends

from shared.auth import CurrentPrincipal, Principal, demand, visible_in
from shared.errors import Forbidden, NotFound
from shared.events.codes import Role

MANAGE = (Role.COORDINATOR,)
PROPOSE = (Role.RESIDENT, Role.GROUP_ADMIN)
SEE_DECLINE_REASON = (Role.COORDINATOR, Role.REGION_ADMIN)


def may_read_goal(principal: Principal, municipality: str, partner_ids: list[str]) -> None:
    if principal.partner_id is not None and principal.partner_id in partner_ids:
        return
    visible_in(principal, [municipality])


def may_manage(principal: Principal, municipality: str) -> None:
    demand(principal, *MANAGE, municipality=municipality)


def may_propose(principal: Principal, municipality: str) -> None:
    demand(principal, *PROPOSE, municipality=municipality)


def may_read_proposals(principal: Principal, municipality: str) -> None:
    if not principal.is_service and not principal.acts_in(municipality):
        raise NotFound()


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
