"""The one table of who may do what with signals, and the relations each action needs."""

from __future__ import annotations

from uuid import UUID

from services.signals.domain import Signal
from shared.auth import Principal
from shared.events.codes import Role, SignalSource

PARTNER_ROLES = (Role.PARTNER_AGENT, Role.INTEGRATION)

MAY: dict[str, frozenset[Role]] = {
    "report": frozenset({Role.RESIDENT, Role.GROUP_ADMIN, Role.COORDINATOR, Role.PARTNER_AGENT}),
    "read": frozenset(
        {
            Role.RESIDENT,
            Role.GROUP_ADMIN,
            Role.PARTNER_AGENT,
            Role.INTEGRATION,
            Role.COORDINATOR,
            Role.REGION_ADMIN,
            Role.SERVICE,
        }
    ),
    "escalate": frozenset({Role.GROUP_ADMIN, Role.COORDINATOR}),
    "acknowledge": frozenset({Role.PARTNER_AGENT, Role.INTEGRATION}),
    "resolve": frozenset({Role.PARTNER_AGENT, Role.INTEGRATION}),
    "reject": frozenset({Role.COORDINATOR}),
    "merge": frozenset({Role.COORDINATOR}),
    "reclassify": frozenset({Role.COORDINATOR}),
    "reopen": frozenset({Role.RESIDENT, Role.GROUP_ADMIN, Role.COORDINATOR}),
    "contacts": frozenset({Role.SERVICE}),
}

# The sources each reporting role reports from; the first is its default.
SOURCES: dict[Role, tuple[SignalSource, ...]] = {
    Role.RESIDENT: (SignalSource.APP, SignalSource.WEB),
    Role.GROUP_ADMIN: (SignalSource.WHATSAPP_GROUP,),
    Role.PARTNER_AGENT: (SignalSource.PARTNER,),
    Role.COORDINATOR: (SignalSource.WEB, SignalSource.APP, SignalSource.PARTNER, SignalSource.WHATSAPP_GROUP),
}

CONTACT_READERS = frozenset({"notifications"})


def roles_for(action: str) -> tuple[Role, ...]:
    return tuple(sorted(MAY[action]))


def sources_for(principal: Principal) -> tuple[SignalSource, ...]:
    found: list[SignalSource] = []
    for role, sources in SOURCES.items():
        if principal.has(role):
            found.extend(s for s in sources if s not in found)
    return tuple(found)


def _acts_for(principal: Principal, *roles: Role) -> str | None:
    """The partner id the caller acts for in one of `roles` (a uuid), else None."""
    if principal.partner_id is None or not principal.has(*roles):
        return None
    try:
        return str(UUID(principal.partner_id))
    except ValueError:
        return None


def can_see(principal: Principal, signal: Signal) -> bool:
    """Residents their own; group admins their group's; partners those routed or escalated to
    them; coordinators and region admins their municipalities'."""
    if principal.is_service:
        return True
    if not principal.acts_in(signal.municipality):
        return False
    if principal.has(Role.COORDINATOR, Role.REGION_ADMIN) or principal.sub == signal.reporter:
        return True
    group = _acts_for(principal, Role.GROUP_ADMIN)
    if group is not None and signal.group_id is not None and str(signal.group_id) == group:
        return True
    partner = _acts_for(principal, *PARTNER_ROLES)
    return partner is not None and (str(signal.routed_partner_id) == partner or signal.escalated_to(partner))


def may_read_description(principal: Principal, signal: Signal) -> bool:
    """The reporter, the partners it was escalated to, and the municipality's coordinator."""
    if principal.sub == signal.reporter:
        return True
    if principal.has(Role.COORDINATOR) and principal.acts_in(signal.municipality):
        return True
    return signal.escalated_to(_acts_for(principal, *PARTNER_ROLES))


def may_escalate(principal: Principal, signal: Signal) -> bool:
    if principal.has(Role.COORDINATOR):
        return True
    group = _acts_for(principal, Role.GROUP_ADMIN)
    return group is not None and str(signal.group_id) == group


def may_reopen(principal: Principal, signal: Signal) -> bool:
    return principal.has(Role.COORDINATOR) or principal.sub == signal.reporter


def acting_partner(principal: Principal) -> str | None:
    return _acts_for(principal, *PARTNER_ROLES)


def visibility_clauses(principal: Principal) -> tuple[list[str], dict[str, str]]:
    """The same rule as `can_see`, as SQL for lists (empty: the municipality is enough)."""
    if principal.is_service or principal.has(Role.COORDINATOR, Role.REGION_ADMIN):
        return [], {}
    clauses = ["s.reporter = :viewer"]
    params = {"viewer": principal.sub}
    group = _acts_for(principal, Role.GROUP_ADMIN)
    if group is not None:
        clauses.append("s.group_id = CAST(:viewer_group AS uuid)")
        params["viewer_group"] = group
    partner = _acts_for(principal, *PARTNER_ROLES)
    if partner is not None:
        clauses.append(
            "(s.routed_partner_id = CAST(:viewer_partner AS uuid)"
            " OR CAST(:viewer_partner AS uuid) = ANY(s.escalated_to))"
        )
        params["viewer_partner"] = partner
    return clauses, params
