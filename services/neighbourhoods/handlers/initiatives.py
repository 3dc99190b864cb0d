"""Use cases of residents' initiatives, and the leader's contact for notifications."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from services.neighbourhoods import permissions
from services.neighbourhoods.domain.areas import AreaInfo, check_area
from services.neighbourhoods.domain.initiatives import Initiative, StartInput, check_start
from services.neighbourhoods.domain.texts import TEXT_MAX, check_code, check_id, check_text
from services.neighbourhoods.handlers.common import partner_acting_in
from services.neighbourhoods.store.initiatives import InitiativeFilter, Initiatives
from services.neighbourhoods.views import initiative_json
from shared.areas import parse_or_none
from shared.auth import Principal
from shared.clock import Clock
from shared.crypto import SecretBox
from shared.db import UnitOfWork
from shared.errors import FieldErrors, Forbidden, NotFound
from shared.events.codes import InitiativeStatus, SupportKind
from shared.idempotency import Created, Once, create_once
from shared.observability import get_logger
from shared.pagination import Keyset

log = get_logger(__name__)


@dataclass(frozen=True)
class Seen:
    """An initiative as one caller sees it: whether they joined it."""

    initiative: Initiative
    joined_by_me: bool


@dataclass(frozen=True)
class StartInitiative:
    input: StartInput
    resident: str  # the starter's pseudonym: they lead it
    once: Once


async def start_initiative(
    uow: UnitOfWork, cmd: StartInitiative, principal: Principal, clock: Clock, *, box: SecretBox | None
) -> Created:
    """Residents and group admins; the contact address is sealed and never shown."""
    permissions.require(principal, "start_initiative")
    municipality = parse_or_none(cmd.input.municipality)
    if municipality is not None:
        permissions.require_in(principal, "start_initiative", municipality.municipality)
    errors = FieldErrors()
    checked = check_start(cmd.input, errors)
    errors.raise_if_any()
    assert checked is not None
    if checked.contact_email is not None and box is None:
        raise RuntimeError("a contact address is given but no SECRETS_KEY is configured")

    async def create() -> dict[str, object]:
        initiative = Initiative.start(checked, cmd.resident, permissions.group_of(principal), clock.now())
        contact = box.seal(checked.contact_email, str(initiative.id)) if box and checked.contact_email else None
        await Initiatives(uow).add(initiative, contact)
        return initiative_json(initiative, me=cmd.resident, joined_by_me=True)

    return await create_once(uow, cmd.once, f"initiatives:{cmd.resident}", create)


async def _readable(
    uow: UnitOfWork, initiative_id: UUID, principal: Principal, *, for_update: bool = False
) -> Initiative:
    initiative = await Initiatives(uow).get(initiative_id, for_update=for_update)
    if initiative is None:
        raise NotFound()
    permissions.may_read(principal, initiative.municipality)
    return initiative


async def _seen(uow: UnitOfWork, initiative: Initiative, me: str) -> Seen:
    joined = initiative.leader == me or await Initiatives(uow).participates(initiative.id, me)
    return Seen(initiative, joined)


async def read_initiative(uow: UnitOfWork, initiative_id: UUID, principal: Principal, me: str) -> Seen:
    permissions.require(principal, "read")
    return await _seen(uow, await _readable(uow, initiative_id, principal), me)


@dataclass(frozen=True)
class ListInitiatives:
    area: str | None
    statuses: Sequence[str] | None
    ids: Sequence[UUID] | None
    limit: int
    after: Keyset | None


async def list_initiatives(
    uow: UnitOfWork, q: ListInitiatives, principal: Principal, me: str
) -> tuple[list[Seen], int, bool]:
    """Newest first, a page, the count of all and whether more follow; a WK shows its BUs."""
    permissions.require(principal, "read")
    errors = FieldErrors()
    area = check_area(errors, "area", q.area) if q.area is not None or q.ids is None else None
    statuses = None
    if q.statuses is not None:
        statuses = [s for s in (check_code(errors, "status", v, InitiativeStatus) for v in q.statuses) if s]
    errors.raise_if_any()
    if area:
        permissions.may_read(principal, AreaInfo.of(area).municipality)
    store = Initiatives(uow)
    readable = permissions.readable_municipalities(principal)
    wanted = InitiativeFilter(readable, area=area or None, statuses=statuses, ids=q.ids)
    found, total, more = await store.page(wanted, q.limit, q.after)
    joined = await store.joined_by([i.id for i in found], me)
    return [Seen(i, i.leader == me or i.id in joined) for i in found], total, more


@dataclass(frozen=True)
class Participation:
    initiative_id: UUID
    resident: str


async def join_initiative(uow: UnitOfWork, cmd: Participation, principal: Principal, clock: Clock) -> Seen:
    """Residents; joining again changes nothing."""
    permissions.require(principal, "join_initiative")
    initiative = await _readable(uow, cmd.initiative_id, principal, for_update=True)
    store = Initiatives(uow)
    if initiative.leader == cmd.resident or await store.participates(initiative.id, cmd.resident):
        return Seen(initiative, True)
    now = clock.now()
    initiative.joined(now)
    await store.add_participant(initiative.id, cmd.resident, now)
    await store.save(initiative)
    await uow.commit()
    return Seen(initiative, True)


async def leave_initiative(uow: UnitOfWork, cmd: Participation, principal: Principal, clock: Clock) -> Seen:
    """Residents who joined; leaving again changes nothing; the leader cannot."""
    permissions.require(principal, "join_initiative")
    initiative = await _readable(uow, cmd.initiative_id, principal, for_update=True)
    store = Initiatives(uow)
    if initiative.leader != cmd.resident and not await store.participates(initiative.id, cmd.resident):
        return Seen(initiative, False)
    initiative.left(cmd.resident, clock.now())
    await store.remove_participant(initiative.id, cmd.resident)
    await store.save(initiative)
    await uow.commit()
    return Seen(initiative, False)


@dataclass(frozen=True)
class PledgeSupport:
    initiative_id: UUID
    kind: str | None
    note: str | None
    partner_id: str | None
    resident: str  # the caller's pseudonym (for joinedByMe)


async def pledge_support(uow: UnitOfWork, cmd: PledgeSupport, principal: Principal, clock: Clock) -> Seen:
    """Partner staff for their partner; coordinators for a partner of theirs; it covers the area."""
    permissions.require(principal, "pledge")
    initiative = await _readable(uow, cmd.initiative_id, principal, for_update=True)
    errors = FieldErrors()
    kind = check_code(errors, "kind", cmd.kind, SupportKind)
    note = check_text(errors, "note", cmd.note, limit=TEXT_MAX, required=False)
    asked = check_id(errors, "partnerId", cmd.partner_id)
    errors.raise_if_any()
    assert kind is not None
    partner_id = await partner_acting_in(uow, principal, initiative.municipality, initiative.area, asked, required=True)
    assert partner_id is not None
    pledge = initiative.pledge(partner_id, kind, note, clock.now())
    store = Initiatives(uow)
    await store.add_pledge(initiative.id, pledge, principal.sub)
    await store.save(initiative)
    await uow.commit()
    return await _seen(uow, initiative, cmd.resident)


@dataclass(frozen=True)
class EndInitiative:
    initiative_id: UUID
    text: str | None  # the outcome, or the reason to stop
    resident: str


async def _ending(uow: UnitOfWork, cmd: EndInitiative, principal: Principal, field: str) -> tuple[Initiative, str]:
    permissions.require(principal, "end_initiative")
    initiative = await _readable(uow, cmd.initiative_id, principal, for_update=True)
    if initiative.leader != cmd.resident and not permissions.is_coordinator_of(principal, initiative.municipality):
        raise Forbidden("only its leader or a coordinator ends an initiative")
    errors = FieldErrors()
    text = check_text(errors, field, cmd.text, limit=TEXT_MAX, required=True)
    errors.raise_if_any()
    assert text is not None
    return initiative, text


async def complete_initiative(uow: UnitOfWork, cmd: EndInitiative, principal: Principal, clock: Clock) -> Seen:
    initiative, outcome = await _ending(uow, cmd, principal, "outcome")
    initiative.complete(outcome, clock.now())
    await Initiatives(uow).save(initiative)
    await uow.commit()
    return await _seen(uow, initiative, cmd.resident)


async def stop_initiative(uow: UnitOfWork, cmd: EndInitiative, principal: Principal, clock: Clock) -> Seen:
    initiative, reason = await _ending(uow, cmd, principal, "reason")
    initiative.stop(reason, clock.now())
    await Initiatives(uow).save(initiative)
    await uow.commit()
    return await _seen(uow, initiative, cmd.resident)


async def read_leader_contact(
    uow: UnitOfWork, initiative_id: UUID, principal: Principal, box: SecretBox | None
) -> str | None:
    """The leader's address for the notifications service alone; every read audited."""
    permissions.may_read_leader_contact(principal)
    store = Initiatives(uow)
    if await store.get(initiative_id) is None:
        raise NotFound()
    sealed = await store.sealed_contact(initiative_id)
    if sealed is not None and box is None:
        raise RuntimeError("the contact is sealed but no SECRETS_KEY is configured")
    email = box.open(sealed, str(initiative_id)) if sealed is not None and box is not None else None
    await store.audit_contact_read(initiative_id, principal.sub, email is not None)
    await uow.commit()
    log.info("leader_contact_read", initiative_id=str(initiative_id), reader=principal.sub, found=email is not None)
    return email
