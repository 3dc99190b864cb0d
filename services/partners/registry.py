"""The partner directory's operations: each one transaction holding the change and its event.

The API, the seeder and the republish command all go through here, so every partner is
checked by the same domain rules and every change reaches the other services' read models.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy.exc import IntegrityError

from services.partners import domain
from services.partners.domain import Changes, Contact, Partner, Registration, UrlRules
from services.partners.store import PartnerStore
from shared import idempotency
from shared.clock import SYSTEM_CLOCK, Clock
from shared.crypto import SecretBox
from shared.db import Database, UnitOfWork
from shared.errors import Conflict, FieldErrors, NotFound
from shared.events.catalog import PartnerUpdated
from shared.observability import get_logger
from shared.ssrf import UnsafeUrl, check_webhook_url, parse_target

log = get_logger(__name__)
Authorise = Callable[[Partner], None]
Answer = tuple[int, dict[str, Any]]


@dataclass(frozen=True)
class IdempotencyClaim:
    scope: str
    key: str
    request_hash: str


@dataclass(frozen=True)
class Created:
    """What a creating operation answers; `secret` is added to the body, and sealed when stored."""

    status: int
    body: dict[str, Any]
    secret: str | None = None


async def webhook_target_problem(url: Any, rules: UrlRules) -> str | None:
    """Why a well-formed webhook url may not be a target (it resolves to a non-public address).

    A malformed url is None here: the domain reports its form. Nothing is sent to the host.
    """
    if not isinstance(url, str) or len(url) > domain.URL_MAX:
        return None
    try:
        parse_target(url, allowed_hosts=rules.allowed_hosts, allow_http_on_allowed=rules.allow_http_on_allowed)
    except (UnsafeUrl, ValueError):
        return None
    try:
        await check_webhook_url(
            url, allowed_hosts=rules.allowed_hosts, allow_http_on_allowed=rules.allow_http_on_allowed
        )
    except (UnsafeUrl, ValueError) as exc:
        return str(exc)
    return None


class Directory:
    def __init__(
        self,
        db: Database,
        *,
        source: str,
        topic_prefix: str,
        box: SecretBox,
        rules: UrlRules,
        secret_overlap: timedelta,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.db = db
        self.clock = clock
        self.source = source
        self.topic_prefix = topic_prefix
        self.box = box
        self.rules = rules
        self.secret_overlap = secret_overlap

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.db, self.source, self.topic_prefix, self.clock)

    # --- checks at the edge ------------------------------------------------------------------

    async def check_target(self, url: Any, errors: FieldErrors) -> None:
        problem = await webhook_target_problem(url, self.rules)
        if problem:
            errors.add("webhookUrl", problem)

    # --- partners ----------------------------------------------------------------------------

    async def register(
        self,
        draft: Registration,
        *,
        answer: Callable[[Partner], dict[str, Any]],
        claim: IdempotencyClaim | None = None,
    ) -> Answer:
        """A new partner (version 1, `partner.registered`) and its first webhook secret, shown once."""
        errors = FieldErrors()
        await self.check_target(draft.webhook_url, errors)
        at = self.clock.now()
        partner = domain.check_registration(draft, partner_id=uuid4(), at=at, rules=self.rules, errors=errors)

        async def create(uow: UnitOfWork) -> Created:
            store = PartnerStore(uow.session)
            if await store.names_taken(partner.municipalities, partner.name):
                raise Conflict("a partner with this name exists in one of these municipalities")
            await store.add(partner, at)
            secret = domain.new_webhook_secret()
            await store.add_secret(partner.id, self.box.seal(secret, str(partner.id)), at)
            self._emit(uow, None, partner)
            return Created(201, answer(partner), secret)

        result = await self._create(claim, create)
        log.info("partner_registered", partner_id=result[1].get("partner", {}).get("id"), result="ok")
        return result

    async def seed(self, draft: Registration) -> Partner | None:
        """Register unless a partner of that name exists in its first municipality (None then)."""
        async with self.uow() as uow:
            if await PartnerStore(uow.session).id_by_name(str(draft.municipalities[0]), str(draft.name)):
                return None
        created: list[Partner] = []

        def keep(partner: Partner) -> dict[str, Any]:
            created.append(partner)
            return {"partner": {"id": str(partner.id)}}

        await self.register(draft, answer=keep)
        return created[0]

    async def get(self, partner_id: UUID, authorise: Authorise) -> Partner:
        async with self.uow() as uow:
            partner = await PartnerStore(uow.session).get(partner_id)
        if partner is None:
            raise NotFound("no such partner")
        authorise(partner)
        return partner

    async def update(self, partner_id: UUID, changes: Changes, authorise: Authorise) -> Partner:
        """The changed partner at its next version, with `partner.updated` (or `.deactivated`)."""
        async with self.uow() as uow:
            store = PartnerStore(uow.session)
            before = await store.get(partner_id, for_update=True)
            if before is None:
                raise NotFound("no such partner")
            authorise(before)
            errors = FieldErrors()
            if changes.has("webhookUrl"):
                await self.check_target(changes.fields["webhookUrl"], errors)
            after = domain.apply_changes(before, changes, rules=self.rules, errors=errors)
            if after.version == before.version:
                return before
            if domain.name_key(after.name) != domain.name_key(before.name) and await store.names_taken(
                after.municipalities, after.name, other_than=after.id
            ):
                raise Conflict("a partner with this name exists in one of its municipalities")
            try:
                await store.save(before, after, self.clock.now())
            except IntegrityError as exc:  # a concurrent change took the name first
                raise Conflict("a partner with this name exists in one of its municipalities") from exc
            self._emit(uow, before, after)
            await uow.commit()
        log.info("partner_updated", partner_id=str(after.id), version=after.version, result="ok")
        return after

    async def deactivate(self, partner_id: UUID, authorise: Authorise) -> Partner:
        async with self.uow() as uow:
            store = PartnerStore(uow.session)
            before = await store.get(partner_id, for_update=True)
            if before is None:
                raise NotFound("no such partner")
            authorise(before)
            after = domain.deactivate(before)
            if after is before:
                return before
            await store.save(before, after, self.clock.now())
            self._emit(uow, before, after)
            await uow.commit()
        log.info("partner_deactivated", partner_id=str(after.id), version=after.version, result="ok")
        return after

    def _emit(self, uow: UnitOfWork, before: Partner | None, after: Partner) -> None:
        uow.emit(domain.event_for_change(before, after), sequence=after.version, municipality=after.home_municipality)

    # --- webhook secrets ---------------------------------------------------------------------

    async def rotate_secret(self, partner_id: UUID, authorise: Authorise) -> tuple[Partner, str]:
        """A new secret; the ones valid until now stay valid for the overlap."""
        async with self.uow() as uow:
            store = PartnerStore(uow.session)
            partner = await store.get(partner_id, for_update=True)
            if partner is None:
                raise NotFound("no such partner")
            authorise(partner)
            at = self.clock.now()
            await store.expire_secrets(partner.id, at=at, until=at + self.secret_overlap)
            secret = domain.new_webhook_secret()
            await store.add_secret(partner.id, self.box.seal(secret, str(partner.id)), at)
            await uow.commit()
        log.info("webhook_secret_rotated", partner_id=str(partner.id), result="ok")
        return partner, secret

    async def valid_secrets(self, partner_id: UUID) -> list[str]:
        async with self.uow() as uow:
            store = PartnerStore(uow.session)
            if await store.get(partner_id) is None:
                raise NotFound("no such partner")
            sealed = await store.valid_secrets(partner_id, self.clock.now())
        return [self.box.open(s, str(partner_id)) for s in sealed]

    # --- contacts ----------------------------------------------------------------------------

    async def add_contact(
        self,
        partner_id: UUID,
        fields: dict[str, Any],
        authorise: Authorise,
        *,
        answer: Callable[[Contact], dict[str, Any]],
        claim: IdempotencyClaim | None = None,
    ) -> Answer:
        async def create(uow: UnitOfWork) -> Created:
            store = PartnerStore(uow.session)
            partner = await store.get(partner_id)
            if partner is None:
                raise NotFound("no such partner")
            authorise(partner)
            contact = domain.check_contact(partner_id, fields, contact_id=uuid4(), at=self.clock.now())
            await store.add_contact(contact)
            return Created(201, answer(contact))

        result = await self._create(claim, create)
        log.info("contact_added", partner_id=str(partner_id), contact_id=result[1].get("id"), result="ok")
        return result

    async def contacts(
        self, partner_id: UUID, authorise: Authorise, *, first: int, after: tuple[datetime, UUID] | None
    ) -> tuple[list[Contact], int, bool]:
        async with self.uow() as uow:
            store = PartnerStore(uow.session)
            partner = await store.get(partner_id)
            if partner is None:
                raise NotFound("no such partner")
            authorise(partner)
            return await store.contacts_page(partner_id, first=first, after=after)

    async def remove_contact(self, partner_id: UUID, contact_id: UUID, authorise: Authorise) -> None:
        async with self.uow() as uow:
            store = PartnerStore(uow.session)
            partner = await store.get(partner_id)
            if partner is None:
                raise NotFound("no such partner")
            authorise(partner)
            if not await store.remove_contact(partner_id, contact_id):
                raise NotFound("no such contact")
            await uow.commit()
        log.info("contact_removed", partner_id=str(partner_id), contact_id=str(contact_id), result="ok")

    # --- read models elsewhere ---------------------------------------------------------------

    async def republish(self, batch: int = 200) -> int:
        """`partner.updated` with the current state of every partner, its version as sequence."""
        count = 0
        last: UUID | None = None
        while True:
            async with self.uow() as uow:
                store = PartnerStore(uow.session)
                ids = await store.all_ids(last, batch)
                if not ids:
                    return count
                for partner_id in ids:
                    partner = await store.get(partner_id)
                    if partner is None:
                        continue
                    uow.emit(
                        domain.facts(partner, PartnerUpdated),
                        sequence=partner.version,
                        municipality=partner.home_municipality,
                    )
                    count += 1
                await uow.commit()
                last = ids[-1]

    # --- creating with Idempotency-Key -------------------------------------------------------

    async def _create(
        self, claim: IdempotencyClaim | None, create: Callable[[UnitOfWork], Awaitable[Created]]
    ) -> Answer:
        """Same key and body: the first answer again (its secret unsealed); other body: 422."""
        async with self.uow() as uow:
            if claim is not None:
                stored = await idempotency.claim(uow.session, claim.scope, claim.key, claim.request_hash)
                if stored is not None:
                    return stored.status_code, self._unseal_answer(claim, stored.body)
            try:
                created = await create(uow)
            except IntegrityError as exc:  # a concurrent registration took the name first
                raise Conflict("a partner with this name exists in one of these municipalities") from exc
            if claim is not None:
                await idempotency.complete(
                    uow.session, claim.scope, claim.key, created.status, self._seal_answer(claim, created)
                )
            await uow.commit()
        body = dict(created.body)
        if created.secret is not None:
            body["webhookSecret"] = created.secret
        return created.status, body

    def _context(self, claim: IdempotencyClaim) -> str:
        return f"idempotency:{claim.scope}:{claim.key}"

    def _seal_answer(self, claim: IdempotencyClaim, created: Created) -> dict[str, Any]:
        if created.secret is None:
            return created.body
        sealed = self.box.seal(created.secret, self._context(claim))
        return {**created.body, "sealedWebhookSecret": base64.b64encode(sealed).decode()}

    def _unseal_answer(self, claim: IdempotencyClaim, body: dict[str, Any]) -> dict[str, Any]:
        body = dict(body)
        sealed = body.pop("sealedWebhookSecret", None)
        if sealed is not None:
            body["webhookSecret"] = self.box.open(base64.b64decode(sealed), self._context(claim))
        return body
