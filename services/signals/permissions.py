"""The one table of who may do what with signals, and the relations each action needs."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

from services.signals.domain import COORDINATOR, REPORTER, SYSTEM, Partner, Signal, partner_actor
from shared.auth import Principal
from shared.errors import Forbidden, NotFound
from shared.events.codes import Role, SignalSource

PARTNER_ROLES = (Role.PARTNER_AGENT, Role.INTEGRATION)
# An integration client bound to a group sees what the group's admins see (CONTRACT.md rule 6).
GROUP_READERS = (Role.GROUP_ADMIN, Role.INTEGRATION)


class _HasMunicipalities(Protocol):
    @property
    def municipalities(self) -> Collection[str]: ...


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
    "forward": frozenset({Role.GROUP_ADMIN, Role.COORDINATOR}),  # report and escalate in one step
    "acknowledge": frozenset({Role.PARTNER_AGENT, Role.INTEGRATION}),
    "resolve": frozenset({Role.PARTNER_AGENT, Role.INTEGRATION}),
    "reject": frozenset({Role.COORDINATOR}),
    "merge": frozenset({Role.COORDINATOR}),
    "reclassify": frozenset({Role.COORDINATOR}),
    "reopen": frozenset({Role.RESIDENT, Role.GROUP_ADMIN, Role.COORDINATOR}),
    "rate": frozenset({Role.RESIDENT, Role.GROUP_ADMIN, Role.COORDINATOR, Role.PARTNER_AGENT}),  # its reporters
    "transfer": frozenset({Role.PARTNER_AGENT, Role.INTEGRATION, Role.COORDINATOR}),
    "involve": frozenset({Role.PARTNER_AGENT, Role.INTEGRATION, Role.COORDINATOR}),
    "ask": frozenset({Role.PARTNER_AGENT, Role.INTEGRATION}),  # the partner it is escalated to
    "answer": frozenset({Role.RESIDENT, Role.GROUP_ADMIN}),  # its reporters
    "feedback": frozenset({Role.PARTNER_AGENT, Role.INTEGRATION}),  # the escalated or an involved partner
    "reference": frozenset({Role.PARTNER_AGENT, Role.INTEGRATION}),  # the partner it is escalated to
    "chain": frozenset({Role.COORDINATOR, Role.REGION_ADMIN}),  # who manages the partner
    "contacts": frozenset({Role.SERVICE}),
    "advice": frozenset(Role),  # any role: before a report is written
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


@dataclass(frozen=True)
class Ground:
    """One reason a caller may see a signal, in both forms: a test on a loaded signal and the same
    test as SQL on `signals s` for lists."""

    holds: Callable[[Signal], bool]
    sql: str
    params: dict[str, str]


def visibility(principal: Principal) -> list[Ground] | None:
    """Why the caller may see a signal of their municipalities; None: every one of them (service,
    coordinators and region admins). Residents their own; group admins their group's; partners
    those routed or escalated to them, or that they are involved in."""
    if principal.is_service or principal.has(Role.COORDINATOR, Role.REGION_ADMIN):
        return None
    viewer = principal.sub
    grounds = [Ground(lambda s: s.reporter == viewer, "s.reporter = :viewer", {"viewer": viewer})]
    if (group := _acts_for(principal, *GROUP_READERS)) is not None:
        grounds.append(
            Ground(
                lambda s: s.group_id is not None and str(s.group_id) == group,
                "s.group_id = CAST(:viewer_group AS uuid)",
                {"viewer_group": group},
            )
        )
    if (partner := _acts_for(principal, *PARTNER_ROLES)) is not None:
        grounds.append(
            Ground(
                lambda s: str(s.routed_partner_id) == partner or s.escalated_to(partner) or s.involves(partner),
                "(s.routed_partner_id = CAST(:viewer_partner AS uuid)"
                " OR CAST(:viewer_partner AS uuid) = ANY(s.escalated_to)"
                " OR CAST(:viewer_partner AS uuid) = ANY(s.involved_partners))",
                {"viewer_partner": partner},
            )
        )
    return grounds


def can_see(principal: Principal, signal: Signal) -> bool:
    if not principal.is_service and not principal.acts_in(signal.municipality):
        return False
    grounds = visibility(principal)
    return grounds is None or any(g.holds(signal) for g in grounds)


def visibility_clauses(principal: Principal) -> tuple[list[str], dict[str, str]]:
    """`visibility` as SQL for lists, OR-ed (empty: the municipality is enough)."""
    grounds = visibility(principal) or []
    return [g.sql for g in grounds], {k: v for g in grounds for k, v in g.params.items()}


def may_read_description(principal: Principal, signal: Signal) -> bool:
    """The reporter, the partners it was escalated to, and the municipality's coordinator."""
    if principal.sub == signal.reporter:
        return True
    if principal.has(Role.COORDINATOR) and principal.acts_in(signal.municipality):
        return True
    partner = _acts_for(principal, *PARTNER_ROLES)
    return signal.handled_by(partner) or signal.involves(partner)


def is_reporter(principal: Principal, signal: Signal) -> bool:
    """The reporters of a signal: the subject that reported it and the admins of its group."""
    if principal.sub == signal.reporter:
        return True
    group = _acts_for(principal, Role.GROUP_ADMIN)
    return group is not None and signal.group_id is not None and str(signal.group_id) == group


def reads_as_reporter(principal: Principal, signal: Signal) -> bool:
    """Reads what the reporters read: a reporter, or an integration client bound to the signal's group."""
    if is_reporter(principal, signal):
        return True
    group = _acts_for(principal, Role.INTEGRATION)
    return group is not None and signal.group_id is not None and str(signal.group_id) == group


def may_read_notes(principal: Principal, signal: Signal) -> bool:
    """History notes and the rejection reason: who may read the description, and the reporters."""
    return may_read_description(principal, signal) or reads_as_reporter(principal, signal)


def may_read_questions(principal: Principal, signal: Signal) -> bool:
    """Questions and answers: who may read the description, and the signal's reporters (not the
    reporters of its merged duplicates)."""
    return may_read_description(principal, signal) or reads_as_reporter(principal, signal)


def actor(principal: Principal, signal: Signal | None = None) -> str:
    """How the history names the caller acting on `signal` (None: reporting it): the partner for
    partner staff and systems, "coordinator", "reporter"; never the caller's subject."""
    if (partner := acting_partner(principal)) is not None:
        return partner_actor(partner)
    if principal.is_service:
        return SYSTEM
    if signal is not None and principal.has(Role.COORDINATOR):
        return COORDINATOR
    return REPORTER  # residents and group admins act on signals only as their reporters


def may_read_group_message(principal: Principal, signal: Signal) -> bool:
    """The admins of the signal's group and of the groups of its merged duplicates, and everyone
    who may read the description."""
    if may_read_description(principal, signal):
        return True
    group = _acts_for(principal, *GROUP_READERS)
    return group is not None and group in {str(g) for g in (signal.group_id, *signal.duplicate_group_ids) if g}


def may_report_for_group(principal: Principal, group_id: str) -> bool:
    """Who may attach `groupId` to a report (its admins then read it and may share it). The platform
    knows a group's members only as its admins (group admins and integration clients bound to that
    group), so a resident never may: a group reports through its admin; coordinators may, entering
    what a group sent them."""
    return principal.has(Role.COORDINATOR) or (principal.partner_id is not None and principal.partner_id == group_id)


def may_escalate(principal: Principal, signal: Signal) -> bool:
    if principal.has(Role.COORDINATOR):
        return True
    group = _acts_for(principal, Role.GROUP_ADMIN)
    return group is not None and str(signal.group_id) == group


def may_escalate_to(principal: Principal, target: Partner, signal: Signal) -> bool:
    """A named escalation target: coordinators choose freely among the partners that take signals
    (as for a transfer, Rule 6); a group's admin only a partner that routing could have chosen
    (it handles the category and covers the area), so a group cannot hand a neighbour's report
    to any organisation of the municipality."""
    if principal.has(Role.COORDINATOR):
        return True
    return (
        target.takes_signals
        and signal.category in target.categories
        and target.specificity(signal.municipality, signal.area) > 0
    )


def may_redirect(principal: Principal, signal: Signal) -> bool:
    """Transfer or involve: a coordinator, or the partner it is escalated to."""
    if principal.has(Role.COORDINATOR):
        return True
    e = signal.escalation
    return e is not None and acting_partner(principal) == str(e.partner_id)


def may_reopen(principal: Principal, signal: Signal) -> bool:
    """A coordinator, or a reporter of the signal (its reporting subject or an admin of its group);
    not the reporters of its merged duplicates (CONTRACT.md rule 1)."""
    return principal.has(Role.COORDINATOR) or is_reporter(principal, signal)


def acting_partner(principal: Principal) -> str | None:
    return _acts_for(principal, *PARTNER_ROLES)


def is_escalated_partner(principal: Principal, signal: Signal) -> bool:
    """Staff or a system of the partner the signal is escalated to now."""
    e = signal.escalation
    return e is not None and acting_partner(principal) == str(e.partner_id)


def may_add_feedback(principal: Principal, signal: Signal) -> bool:
    """The partner it is escalated to, or an involved partner."""
    return is_escalated_partner(principal, signal) or signal.involves(acting_partner(principal))


def may_read_external_reference(principal: Principal, signal: Signal) -> bool:
    """A partner's own case number: for those who may read the description."""
    return may_read_description(principal, signal)


def demand_manage_partner(principal: Principal, municipalities: Collection[str]) -> None:
    """Setting a partner's chain, as the partners service lets the partner be managed: 404 when none
    of its municipalities is the caller's, 403 unless a coordinator of every one of them (or a
    region admin of all of them, for a partner spanning several)."""
    if not municipalities or not principal.municipalities.intersection(municipalities):
        raise NotFound("no such partner or municipality")
    in_all = all(principal.acts_in(m) for m in municipalities)
    if in_all and (principal.has(Role.COORDINATOR) or (principal.has(Role.REGION_ADMIN) and len(municipalities) > 1)):
        return
    raise Forbidden(
        "requires role coordinator of every municipality of the partner, or region_admin for a partner spanning several"
    )


def may_read_chain(principal: Principal, chain: _HasMunicipalities) -> bool:
    """Anyone acting in one of the chain's municipalities (a region's agreement, not a secret)."""
    return principal.is_service or bool(principal.municipalities.intersection(chain.municipalities))
