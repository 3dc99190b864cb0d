"""Tables and queries of the partners schema (the connection's search_path is the service's schema).

`PartnerStore` works inside one unit of work: adding or saving a partner records the event of
that change (`domain.raised`), which the unit of work writes to the outbox when it commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    and_,
    delete,
    func,
    insert,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.dialects.postgresql import UUID as PgUUID
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement

from services.partners.domain import Contact, NameTaken, Partner, Window, name_key, raised
from shared.db import UnitOfWork
from shared.events.codes import Category, PartnerKind, Urgency
from shared.pagination import Keyset

metadata = MetaData()

partners = Table(
    "partners",
    metadata,
    Column("id", PgUUID(as_uuid=True), primary_key=True),
    Column("name", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("municipalities", ARRAY(Text), nullable=False),
    Column("areas", ARRAY(Text), nullable=False),
    Column("categories", ARRAY(Text), nullable=False),
    Column("auto_escalate", ARRAY(Text), nullable=False),
    Column("acknowledge_within_minutes", Integer, nullable=False),
    Column("acknowledge_by_urgency", JSONB, nullable=False),
    Column("availability", JSONB, nullable=False),
    Column("priority", Integer, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("webhook_url", Text),
    Column("email", Text),
    Column("registered_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("version", Integer, nullable=False),
)

partner_names = Table(
    "partner_names",
    metadata,
    Column("municipality", Text, primary_key=True),
    Column("name_key", Text, primary_key=True),
    Column("partner_id", PgUUID(as_uuid=True), nullable=False),
)

webhook_secrets = Table(
    "webhook_secrets",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("partner_id", PgUUID(as_uuid=True), nullable=False),
    Column("sealed", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True)),
)

contacts = Table(
    "contacts",
    metadata,
    Column("id", PgUUID(as_uuid=True), primary_key=True),
    Column("partner_id", PgUUID(as_uuid=True), nullable=False),
    Column("name", Text, nullable=False),
    Column("role", Text, nullable=False),
    Column("email", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)


@dataclass(frozen=True)
class PartnerFilter:
    """Every field narrows the list (who may see what is added by the caller of `page`)."""

    municipality: str | None = None
    covering: Sequence[str] = ()
    category: Category | None = None
    kind: PartnerKind | None = None
    active: bool | None = None
    ids: Sequence[UUID] | None = None


def _row(partner: Partner, at: datetime) -> dict[str, Any]:
    return {
        "id": partner.id,
        "name": partner.name,
        "kind": partner.kind.value,
        "municipalities": list(partner.municipalities),
        "areas": list(partner.areas),
        "categories": [c.value for c in partner.categories],
        "auto_escalate": [c.value for c in partner.auto_escalate],
        "acknowledge_within_minutes": partner.acknowledge_within_minutes,
        "acknowledge_by_urgency": {u.value: m for u, m in partner.acknowledge_within_minutes_by_urgency.items()},
        "availability": [{"weekday": w.weekday, "from": w.start, "until": w.until} for w in partner.availability],
        "priority": partner.priority,
        "active": partner.active,
        "webhook_url": partner.webhook_url,
        "email": partner.email,
        "registered_at": partner.registered_at,
        "updated_at": at,
        "version": partner.version,
    }


def _partner(row: RowMapping) -> Partner:
    return Partner(
        id=row["id"],
        name=row["name"],
        kind=PartnerKind(row["kind"]),
        municipalities=tuple(row["municipalities"]),
        areas=tuple(row["areas"]),
        categories=tuple(Category(c) for c in row["categories"]),
        auto_escalate=tuple(Category(c) for c in row["auto_escalate"]),
        acknowledge_within_minutes=row["acknowledge_within_minutes"],
        acknowledge_within_minutes_by_urgency={Urgency(u): int(m) for u, m in row["acknowledge_by_urgency"].items()},
        availability=tuple(Window(w["weekday"], w["from"], w["until"]) for w in row["availability"]),
        priority=row["priority"],
        active=row["active"],
        webhook_url=row["webhook_url"],
        email=row["email"],
        registered_at=row["registered_at"],
        version=row["version"],
    )


class PartnerStore:
    """The repository of one unit of work; the changes it stores raise their events there."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.session = uow.session

    async def get(self, partner_id: UUID, *, for_update: bool = False) -> Partner | None:
        query = select(partners).where(partners.c.id == partner_id)
        if for_update:
            query = query.with_for_update()
        row = (await self.session.execute(query)).mappings().first()
        return _partner(row) if row else None

    async def names_taken(self, municipalities: Sequence[str], name: str, *, other_than: UUID | None = None) -> bool:
        query = select(partner_names.c.partner_id).where(
            partner_names.c.municipality.in_(list(municipalities)), partner_names.c.name_key == name_key(name)
        )
        if other_than is not None:
            query = query.where(partner_names.c.partner_id != other_than)
        return (await self.session.execute(query.limit(1))).first() is not None

    async def id_by_name(self, municipality: str, name: str) -> UUID | None:
        query = select(partner_names.c.partner_id).where(
            partner_names.c.municipality == municipality, partner_names.c.name_key == name_key(name)
        )
        value: UUID | None = (await self.session.execute(query)).scalar()
        return value

    async def _claim_names(self, partner: Partner, *, registering: bool) -> None:
        """The partner's name in each of its municipalities, or NameTaken (also when a concurrent
        change took it first: the unique key of partner_names)."""
        if await self.names_taken(partner.municipalities, partner.name, other_than=partner.id):
            raise NameTaken(registering=registering)
        await self.session.execute(delete(partner_names).where(partner_names.c.partner_id == partner.id))
        try:
            await self.session.execute(
                insert(partner_names),
                [
                    {"municipality": m, "name_key": name_key(partner.name), "partner_id": partner.id}
                    for m in partner.municipalities
                ],
            )
        except IntegrityError as exc:
            raise NameTaken(registering=registering) from exc

    async def add(self, partner: Partner, at: datetime) -> None:
        """A new partner; `partner.registered` at commit."""
        await self.session.execute(insert(partners).values(**_row(partner, at)))
        await self._claim_names(partner, registering=True)
        self.uow.track(raised(None, partner))

    async def save(self, before: Partner, after: Partner, at: datetime) -> None:
        """`before` changed into `after`; `partner.updated` (or `.deactivated`) at commit."""
        await self.session.execute(update(partners).where(partners.c.id == after.id).values(**_row(after, at)))
        if name_key(before.name) != name_key(after.name):
            await self._claim_names(after, registering=False)
        self.uow.track(raised(before, after))

    def _conditions(self, f: PartnerFilter, visible_in: Sequence[str] | None) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = []
        if visible_in is not None:
            conditions.append(partners.c.municipalities.overlap(list(visible_in)))
        if f.municipality is not None:
            conditions.append(partners.c.municipalities.contains([f.municipality]))
        if f.covering:
            conditions.append(partners.c.areas.overlap(list(f.covering)))
        if f.category is not None:
            conditions.append(partners.c.categories.contains([f.category.value]))
        if f.kind is not None:
            conditions.append(partners.c.kind == f.kind.value)
        if f.active is not None:
            conditions.append(partners.c.active.is_(f.active))
        if f.ids is not None:
            conditions.append(partners.c.id.in_(list(f.ids)))
        return conditions

    async def page(
        self, f: PartnerFilter, *, visible_in: Sequence[str] | None, first: int, after: Keyset | None
    ) -> tuple[list[Partner], int, bool]:
        """(up to `first` partners in registration order after the cursor, total matching, more follow);
        `visible_in` None: of every municipality."""
        conditions = self._conditions(f, visible_in)
        total = (await self.session.execute(select(func.count()).select_from(partners).where(*conditions))).scalar()
        query = select(partners).where(*conditions)
        if after is not None:
            query = query.where(tuple_(partners.c.registered_at, partners.c.id) > tuple_(*after))
        query = query.order_by(partners.c.registered_at, partners.c.id).limit(first + 1)
        rows = (await self.session.execute(query)).mappings().all()
        return [_partner(r) for r in rows[:first]], int(total or 0), len(rows) > first

    async def all_ids(self, after: UUID | None, limit: int) -> list[UUID]:
        query = select(partners.c.id).order_by(partners.c.id).limit(limit)
        if after is not None:
            query = query.where(partners.c.id > after)
        return list((await self.session.execute(query)).scalars())

    # --- webhook secrets ---------------------------------------------------------------------

    async def add_secret(self, partner_id: UUID, sealed: bytes, at: datetime) -> None:
        await self.session.execute(insert(webhook_secrets).values(partner_id=partner_id, sealed=sealed, created_at=at))

    async def expire_secrets(self, partner_id: UUID, *, at: datetime, until: datetime) -> None:
        """Every secret still valid now stays valid until `until` at the latest; expired ones go."""
        s = webhook_secrets.c
        await self.session.execute(delete(webhook_secrets).where(s.partner_id == partner_id, s.expires_at <= at))
        await self.session.execute(
            update(webhook_secrets)
            .where(s.partner_id == partner_id, or_(s.expires_at.is_(None), s.expires_at > until))
            .values(expires_at=until)
        )

    async def valid_secrets(self, partner_id: UUID, at: datetime) -> list[bytes]:
        """Sealed secrets valid at `at`, newest first."""
        s = webhook_secrets.c
        query = (
            select(s.sealed)
            .where(s.partner_id == partner_id, or_(s.expires_at.is_(None), s.expires_at > at))
            .order_by(s.created_at.desc(), s.id.desc())
        )
        return [bytes(v) for v in (await self.session.execute(query)).scalars()]

    # --- contacts ----------------------------------------------------------------------------

    async def add_contact(self, contact: Contact) -> None:
        await self.session.execute(
            insert(contacts).values(
                id=contact.id,
                partner_id=contact.partner_id,
                name=contact.name,
                role=contact.role,
                email=contact.email,
                created_at=contact.created_at,
            )
        )

    async def contacts_page(
        self, partner_id: UUID, *, first: int, after: Keyset | None
    ) -> tuple[list[Contact], int, bool]:
        c = contacts.c
        total = (
            await self.session.execute(select(func.count()).select_from(contacts).where(c.partner_id == partner_id))
        ).scalar()
        query = select(contacts).where(c.partner_id == partner_id)
        if after is not None:
            query = query.where(tuple_(c.created_at, c.id) > tuple_(*after))
        rows = (await self.session.execute(query.order_by(c.created_at, c.id).limit(first + 1))).mappings().all()
        found = [
            Contact(**{k: r[k] for k in ("id", "partner_id", "name", "role", "email", "created_at")}) for r in rows
        ]
        return found[:first], int(total or 0), len(rows) > first

    async def remove_contact(self, partner_id: UUID, contact_id: UUID) -> bool:
        result = await self.session.execute(
            delete(contacts)
            .where(and_(contacts.c.partner_id == partner_id, contacts.c.id == contact_id))
            .returning(contacts.c.id)
        )
        return result.first() is not None
