"""The partners read model, kept from `partner.*` events: kind, municipalities, areas, active."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from shared.events.catalog import PartnerFacts
from shared.events.codes import PartnerKind


@dataclass(frozen=True)
class KnownPartner:
    partner_id: UUID
    kind: PartnerKind
    municipalities: tuple[str, ...]
    areas: tuple[str, ...]
    active: bool


async def apply(session: AsyncSession, facts: PartnerFacts, *, active: bool) -> bool:
    """Keep the newest version; an older or repeated one changes nothing."""
    result = await session.execute(
        text(
            "INSERT INTO partners (partner_id, version, kind, municipalities, areas, active)"
            " VALUES (:id, :version, :kind, CAST(:municipalities AS text[]), CAST(:areas AS text[]), :active)"
            " ON CONFLICT (partner_id) DO UPDATE SET version = EXCLUDED.version, kind = EXCLUDED.kind,"
            " municipalities = EXCLUDED.municipalities, areas = EXCLUDED.areas, active = EXCLUDED.active"
            " WHERE partners.version < EXCLUDED.version RETURNING 1"
        ),
        {
            "id": facts.partner_id,
            "version": facts.version,
            "kind": facts.kind.value,
            "municipalities": list(facts.municipalities),
            "areas": list(facts.areas),
            "active": active,
        },
    )
    return result.scalar() is not None


async def get(session: AsyncSession, partner_id: UUID) -> KnownPartner | None:
    row = (
        await session.execute(
            text("SELECT partner_id, kind, municipalities, areas, active FROM partners WHERE partner_id = :id"),
            {"id": partner_id},
        )
    ).first()
    if row is None:
        return None
    return KnownPartner(row.partner_id, PartnerKind(row.kind), tuple(row.municipalities), tuple(row.areas), row.active)
