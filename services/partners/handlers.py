"""The partner directory's use cases, one plain async function each: `(uow, command, principal, clock)`.

The API, the seeder and the republish command call these; none of them knows HTTP. The store
records the event of every partner it adds or saves and the unit of work writes it to the outbox
when it commits. Rules broken are domain errors (`services.partners.domain`, `shared.errors`),
rendered to problem+json in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Generic, TypeVar
from uuid import UUID, uuid4

from services.partners import domain, permissions, replay
from services.partners.domain import Changes, Contact, NoSuchContact, NoSuchPartner, Partner, Registration, UrlRules
from services.partners.replay import Answer, Created
from services.partners.store import PartnerFilter, PartnerStore
from services.partners.views import full, show_contact
from services.partners.webhook_targets import check_target
from shared.auth import Principal
from shared.clock import Clock
from shared.crypto import SecretBox
from shared.db import UnitOfWork
from shared.errors import FieldErrors
from shared.events.catalog import PartnerUpdated
from shared.observability import get_logger
from shared.pagination import Keyset, decode_keyset, page_size

log = get_logger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class Config:
    """What the use cases need besides the unit of work: the box sealing webhook secrets, the rules
    for webhook urls, and how long the previous secrets stay valid after a rotation."""

    box: SecretBox
    rules: UrlRules
    secret_overlap: timedelta


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    last: Keyset | None  # the key of the last item when more follow


async def _load(
    uow: UnitOfWork, partner_id: UUID, principal: Principal, action: permissions.Action, *, for_update: bool = False
) -> tuple[PartnerStore, Partner]:
    """The partner, if the caller may `action` it (404, 403); locked for this transaction on request."""
    partners = PartnerStore(uow)
    partner = await partners.get(partner_id, for_update=for_update)
    if partner is None:
        raise NoSuchPartner()
    permissions.demand(principal, action, partner)
    return partners, partner


# --- partners ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Register:
    draft: Registration
    idempotency_key: str | None = None
    body_hash: str = ""


async def register(uow: UnitOfWork, cmd: Register, principal: Principal, clock: Clock, *, config: Config) -> Answer:
    """A new partner (version 1, `partner.registered`) and its first webhook secret, shown once."""
    permissions.demand_manage(principal, [m for m in cmd.draft.municipalities if isinstance(m, str)])
    claim = replay.claim_for(principal, "register", cmd.idempotency_key, cmd.body_hash)
    errors = FieldErrors()
    await check_target(cmd.draft.webhook_url, config.rules, errors)
    at = clock.now()
    partner = domain.check_registration(cmd.draft, partner_id=uuid4(), at=at, rules=config.rules, errors=errors)

    async def create() -> Created:
        partners = PartnerStore(uow)
        await partners.add(partner, at)
        secret = domain.new_webhook_secret()
        await partners.add_secret(partner.id, config.box.seal(secret, str(partner.id)), at)
        return Created(201, {"partner": full(partner)}, secret)

    status, answer = await replay.create_once(uow, claim, create)
    log.info("partner_registered", partner_id=answer.get("partner", {}).get("id"), result="ok")
    return status, answer


async def seed(uow: UnitOfWork, draft: Registration, principal: Principal, clock: Clock, *, config: Config) -> bool:
    """Register unless a partner of that name exists in its first municipality (False then)."""
    if await PartnerStore(uow).id_by_name(str(draft.municipalities[0]), str(draft.name)):
        return False
    await register(uow, Register(draft), principal, clock, config=config)
    return True


async def read_partner(uow: UnitOfWork, partner_id: UUID, principal: Principal) -> Partner:
    return (await _load(uow, partner_id, principal, "read"))[1]


@dataclass(frozen=True)
class ListPartners:
    selection: PartnerFilter
    first: int
    after: Keyset | None


async def list_partners(uow: UnitOfWork, cmd: ListPartners, principal: Principal) -> Page[Partner]:
    """Partners matching the selection among those of the caller's municipalities."""
    found, total, more = await PartnerStore(uow).page(
        cmd.selection, visible_in=permissions.listed_in(principal), first=cmd.first, after=cmd.after
    )
    return Page(found, total, (found[-1].registered_at, found[-1].id) if more and found else None)


@dataclass(frozen=True)
class Update:
    partner_id: UUID
    changes: Changes


async def update(uow: UnitOfWork, cmd: Update, principal: Principal, clock: Clock, *, config: Config) -> Partner:
    """The changed partner at its next version, with `partner.updated` (or `.deactivated`)."""
    partners, before = await _load(uow, cmd.partner_id, principal, "manage", for_update=True)
    errors = FieldErrors()
    if cmd.changes.has("webhookUrl"):
        await check_target(cmd.changes.fields["webhookUrl"], config.rules, errors)
    after = domain.apply_changes(before, cmd.changes, rules=config.rules, errors=errors)
    return await _save(uow, partners, before, after, clock, "partner_updated")


async def deactivate(uow: UnitOfWork, partner_id: UUID, principal: Principal, clock: Clock) -> Partner:
    """No more routing or deliveries (`partner.deactivated`); an inactive partner stays as it is."""
    partners, before = await _load(uow, partner_id, principal, "manage", for_update=True)
    return await _save(uow, partners, before, domain.deactivate(before), clock, "partner_deactivated")


async def _save(
    uow: UnitOfWork, partners: PartnerStore, before: Partner, after: Partner, clock: Clock, action: str
) -> Partner:
    """Save a changed partner and commit (its event goes with it); a change that changes nothing
    saves and emits nothing."""
    if after.version == before.version:
        return before
    await partners.save(before, after, clock.now())
    await uow.commit()
    log.info(action, partner_id=str(after.id), version=after.version, result="ok")
    return after


# --- webhook secrets -----------------------------------------------------------------------------


async def rotate_secret(
    uow: UnitOfWork, partner_id: UUID, principal: Principal, clock: Clock, *, config: Config
) -> tuple[Partner, str]:
    """A new secret; the ones valid until now stay valid for the overlap."""
    partners, partner = await _load(uow, partner_id, principal, "manage", for_update=True)
    at = clock.now()
    await partners.expire_secrets(partner.id, at=at, until=at + config.secret_overlap)
    secret = domain.new_webhook_secret()
    await partners.add_secret(partner.id, config.box.seal(secret, str(partner.id)), at)
    await uow.commit()
    log.info("webhook_secret_rotated", partner_id=str(partner.id), result="ok")
    return partner, secret


async def valid_secrets(
    uow: UnitOfWork, partner_id: str, principal: Principal, clock: Clock, *, config: Config
) -> list[str]:
    """Every currently valid secret, newest first, for the notifications service; every read audited.
    The id is parsed after the caller is checked: 403 before 404."""
    permissions.demand_secrets_reader(principal)
    pid = domain.parse_partner_id(partner_id)
    partners = PartnerStore(uow)
    if await partners.get(pid) is None:
        raise NoSuchPartner()
    found = [config.box.open(s, str(pid)) for s in await partners.valid_secrets(pid, clock.now())]
    log.info(
        "webhook_secrets_read",
        action="read webhook secrets",
        object=str(pid),
        caller=principal.sub,
        count=len(found),
        result="ok",
    )
    return found


# --- contacts ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AddContact:
    partner_id: UUID
    fields: dict[str, Any]
    idempotency_key: str | None = None
    body_hash: str = ""


async def add_contact(
    uow: UnitOfWork, cmd: AddContact, principal: Principal, clock: Clock, *, config: Config
) -> Answer:
    claim = replay.claim_for(principal, f"contact:{cmd.partner_id}", cmd.idempotency_key, cmd.body_hash)

    async def create() -> Created:
        partners, partner = await _load(uow, cmd.partner_id, principal, "manage")
        contact = domain.check_contact(partner.id, cmd.fields, contact_id=uuid4(), at=clock.now())
        await partners.add_contact(contact)
        return Created(201, show_contact(contact))

    status, answer = await replay.create_once(uow, claim, create)
    log.info("contact_added", partner_id=str(cmd.partner_id), contact_id=answer.get("id"), result="ok")
    return status, answer


@dataclass(frozen=True)
class ListContacts:
    partner_id: UUID
    first: int
    after: str | None  # the cursor as given, checked after the caller (404/403 before 400)


async def list_contacts(uow: UnitOfWork, cmd: ListContacts, principal: Principal) -> Page[Contact]:
    partners, partner = await _load(uow, cmd.partner_id, principal, "read contacts")
    first, after = page_size(cmd.first), decode_keyset(cmd.after)
    found, total, more = await partners.contacts_page(partner.id, first=first, after=after)
    return Page(found, total, (found[-1].created_at, found[-1].id) if more and found else None)


@dataclass(frozen=True)
class RemoveContact:
    partner_id: UUID
    contact_id: UUID | None  # None: not an id, so no contact (after the caller is checked)


async def remove_contact(uow: UnitOfWork, cmd: RemoveContact, principal: Principal) -> None:
    partners, partner = await _load(uow, cmd.partner_id, principal, "manage")
    if cmd.contact_id is None or not await partners.remove_contact(partner.id, cmd.contact_id):
        raise NoSuchContact()
    await uow.commit()
    log.info("contact_removed", partner_id=str(partner.id), contact_id=str(cmd.contact_id), result="ok")


# --- read models elsewhere -----------------------------------------------------------------------


async def republish(uow: UnitOfWork, clock: Clock, after: UUID | None, batch: int) -> tuple[int, UUID | None]:
    """`partner.updated` with the current state of the next `batch` partners by id, each at its
    version: (how many, the last id, None when none were left)."""
    partners = PartnerStore(uow)
    ids = await partners.all_ids(after, batch)
    count = 0
    for partner_id in ids:
        partner = await partners.get(partner_id)
        if partner is None:
            continue
        # by hand: the current state again, no change of an aggregate (consumers skip known versions)
        state = domain.facts(partner, PartnerUpdated)
        uow.emit(state, sequence=partner.version, municipality=partner.home_municipality)
        count += 1
    await uow.commit()
    return count, ids[-1] if ids else None
