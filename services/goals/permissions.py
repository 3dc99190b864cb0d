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
| read an area's review and its report     | coordinators, region admins; partner agents, integration |
|                                          | clients and group admins of a partner concerning the area|
| rate cooperation in an area's review     | partner agents, group admins as their own partner (which |
|                                          | concerns the area); coordinators for a municipality one  |
| add an agreement, hold an area's review  | coordinator of the area's municipality                   |
| update an agreement                      | its coordinators; the owner partner's agents and clients |

Another municipality's goals and proposals answer 404: their existence is not revealed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated
from uuid import UUID

from fastapi import Depends

from services.goals.domain import Goal, candidate_partner_ids
from services.goals.domain.area_reviews import PartnerInfo
from shared.areas import Area
from shared.auth import CurrentPrincipal, Principal, demand, visible_in
from shared.errors import Forbidden, NotFound
from shared.events.codes import Role

MANAGE = (Role.COORDINATOR,)
PROPOSE = (Role.RESIDENT, Role.GROUP_ADMIN)
SEE_DECLINE_REASON = (Role.COORDINATOR, Role.REGION_ADMIN)
CONTACT_READERS = frozenset({"notifications"})
READ_REVIEW = (Role.COORDINATOR, Role.REGION_ADMIN)
READ_REVIEW_AS_PARTNER = (Role.PARTNER_AGENT, Role.INTEGRATION, Role.GROUP_ADMIN)
RATE_AS_PARTNER = (Role.PARTNER_AGENT, Role.GROUP_ADMIN)
UPDATE_AGREEMENT_AS_OWNER = (Role.PARTNER_AGENT, Role.INTEGRATION)


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


def may_read_review(principal: Principal, area: Area, acting: PartnerInfo | None) -> None:
    """404 for another municipality's area; 403 for a partner that does not concern it."""
    if principal.is_service:
        return
    if not principal.acts_in(area.municipality):
        raise NotFound()
    if principal.has(*READ_REVIEW):
        return
    if principal.has(*READ_REVIEW_AS_PARTNER) and acting is not None and acting.concerns(area.code):
        return
    raise Forbidden("only coordinators and the partners and groups of the area read its review")


def rates_as_coordinator(principal: Principal) -> bool:
    """Coordinators rate for a municipality partner they name; everyone else as their own partner."""
    return principal.has(*MANAGE) and not principal.has(*RATE_AS_PARTNER)


def may_rate(principal: Principal, area: Area, acting: PartnerInfo | None, from_partner_id: str | None) -> None:
    if rates_as_coordinator(principal):
        demand(principal, *MANAGE, municipality=area.municipality)
        return
    if not principal.has(*RATE_AS_PARTNER) or acting is None or not acting.concerns(area.code):
        raise Forbidden("partner agents and group admins rate for their own partner of the area")
    if from_partner_id not in (None, str(acting.id)):
        raise Forbidden("you rate as your own partner")


def may_update_agreement(principal: Principal, municipality: str, owner: UUID) -> None:
    visible_in(principal, [municipality])
    if principal.has(*MANAGE) and principal.acts_in(municipality):
        return
    if principal.has(*UPDATE_AGREEMENT_AS_OWNER) and acting_partner(principal) == owner:
        return
    raise Forbidden("coordinators and the owner partner update an agreement")


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
