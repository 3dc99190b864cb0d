"""The partners' channels: the read model of `partner.*` events."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifications.domain import PartnerChannels
from shared.events.codes import PartnerKind


def _channels(row: Any) -> PartnerChannels:
    m = row._mapping
    return PartnerChannels(
        partner_id=m["partner_id"],
        kind=PartnerKind(m["kind"]),
        municipalities=tuple(m["municipalities"]),
        areas=tuple(m["areas"]),
        active=m["active"],
        webhook_url=m["webhook_url"],
        email=m["email"],
        webhook_disabled=m["webhook_disabled"],
    )


async def channels_of(session: AsyncSession, partner_id: UUID) -> PartnerChannels | None:
    row = (await session.execute(text("SELECT * FROM channels WHERE partner_id = :id"), {"id": partner_id})).first()
    return _channels(row) if row is not None else None


async def channels_for_update(session: AsyncSession, partner_id: UUID) -> tuple[PartnerChannels, int] | None:
    row = (
        await session.execute(text("SELECT * FROM channels WHERE partner_id = :id FOR UPDATE"), {"id": partner_id})
    ).first()
    return (_channels(row), int(row.version)) if row is not None else None


async def save_channels(session: AsyncSession, partner: PartnerChannels, version: int) -> None:
    await session.execute(
        text(
            "INSERT INTO channels (partner_id, kind, municipalities, areas, active, webhook_url, email,"
            " webhook_disabled, version, updated_at)"
            " VALUES (:id, :kind, :municipalities, :areas, :active, :webhook_url, :email, :disabled, :version, now())"
            " ON CONFLICT (partner_id) DO UPDATE SET kind = EXCLUDED.kind, municipalities = EXCLUDED.municipalities,"
            " areas = EXCLUDED.areas, active = EXCLUDED.active, webhook_url = EXCLUDED.webhook_url,"
            " email = EXCLUDED.email, webhook_disabled = EXCLUDED.webhook_disabled, version = EXCLUDED.version,"
            " updated_at = now() WHERE channels.version < EXCLUDED.version"
        ),
        {
            "id": partner.partner_id,
            "kind": str(partner.kind),
            "municipalities": list(partner.municipalities),
            "areas": list(partner.areas),
            "active": partner.active,
            "webhook_url": partner.webhook_url,
            "email": partner.email,
            "disabled": partner.webhook_disabled,
            "version": version,
        },
    )


async def set_webhook_disabled(session: AsyncSession, partner_id: UUID, disabled: bool) -> None:
    await session.execute(
        text("UPDATE channels SET webhook_disabled = :disabled WHERE partner_id = :id"),
        {"id": partner_id, "disabled": disabled},
    )


async def candidates(
    session: AsyncSession, partner_ids: Sequence[UUID], municipality: str, *, every_kind: bool = False
) -> list[PartnerChannels]:
    """The partners named, and the municipality's own and group partners (who may be in the
    audience); `every_kind`: every partner of the municipality (an audience found by area)."""
    kinds = (
        [str(k) for k in PartnerKind]
        if every_kind
        else [str(PartnerKind.MUNICIPALITY), str(PartnerKind.RESIDENT_GROUP), str(PartnerKind.WHATSAPP_GROUP)]
    )
    rows = await session.execute(
        text(
            "SELECT * FROM channels WHERE partner_id = ANY(:ids)"
            " OR (:municipality = ANY(municipalities) AND kind = ANY(:kinds))"
        ),
        {"ids": list(partner_ids), "municipality": municipality, "kinds": kinds},
    )
    return [_channels(r) for r in rows]


async def channels_for(session: AsyncSession, partner_ids: Sequence[UUID]) -> dict[UUID, PartnerChannels]:
    if not partner_ids:
        return {}
    rows = await session.execute(
        text("SELECT * FROM channels WHERE partner_id = ANY(:ids)"), {"ids": sorted(set(partner_ids))}
    )
    return {p.partner_id: p for p in (_channels(r) for r in rows)}
