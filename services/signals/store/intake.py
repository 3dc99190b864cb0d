"""What the intake reads in one round trip: partners, open reports, the group, a reference."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.signals.domain import (
    AMSTERDAM,
    OpenReport,
    Partner,
    Window,
    enclosing_areas,
)
from services.signals.store.signals import fetchrow, never, parse_time
from shared.db import lock_key
from shared.events.codes import Category, PartnerKind, Urgency
from shared.events.codes import SignalStatus as Status


@dataclass(frozen=True)
class IntakeContext:
    reference: str
    claimed: bool
    open_reports: list[OpenReport]
    partners: list[Partner]
    group: Partner | None


_CONTEXT = (
    "SELECT"
    " (SELECT coalesce(json_agg(json_build_object('id', s.id, 'at', s.reported_at, 'status', s.status,"
    " 'lat', s.lat, 'lon', s.lon)), '[]'::json)::text FROM signals s"
    " WHERE s.municipality = :municipality AND s.area = :area AND s.category = :category"
    " AND s.status IN ('received', 'escalated', 'acknowledged', 'reopened', 'reaction_requested')"
    " AND s.duplicate_of IS NULL"
    " AND s.reported_at >= :since) AS open_reports,"
    " (SELECT coalesce(json_agg(row_to_json(p)), '[]'::json)::text FROM partners p"
    " WHERE p.active AND :municipality = ANY(p.municipalities) AND p.areas && CAST(:codes AS text[])"
    " AND (:category = ANY(p.categories) OR p.kind = 'police')) AS partners,"
    " (SELECT row_to_json(g)::text FROM partners g WHERE g.partner_id = :group_id) AS grp"
)


def partner_from_json(p: dict[str, Any]) -> Partner:
    return Partner(
        id=UUID(str(p["partner_id"])),
        kind=PartnerKind(p["kind"]),
        municipalities=frozenset(p["municipalities"]),
        areas=frozenset(p["areas"]),
        categories=frozenset(Category(c) for c in p["categories"] if c in Category._value2member_map_),
        acknowledge_within_minutes=int(p["acknowledge_within_minutes"]),
        registered_at=parse_time(str(p["registered_at"])) or never(),
        auto_escalate=frozenset(Category(c) for c in p["auto_escalate"] if c in Category._value2member_map_),
        acknowledge_within_by_urgency={
            Urgency(k): int(v)
            for k, v in (p["acknowledge_by_urgency"] or {}).items()
            if k in Urgency._value2member_map_
        },
        availability=tuple(Window(int(w["weekday"]), w["from"], w["until"]) for w in p["availability"] or []),
        priority=int(p["priority"]),
        active=bool(p["active"]),
        name=str(p.get("name") or ""),
    )


async def intake_context(
    session: AsyncSession,
    *,
    municipality: str,
    area: str,
    category: str,
    at: datetime,
    since: datetime,
    group_id: UUID | None,
    claim: tuple[str, str, str] | None = None,
) -> IntakeContext:
    """The reference, the open signals it may duplicate and the partners that may take it.

    Reports for the same place and category take turns (a transaction lock), so two identical
    reports arriving together still merge.
    """
    params: dict[str, Any] = {
        "lock": lock_key(f"intake:{municipality}:{area}:{category}"),
        "year": at.astimezone(AMSTERDAM).year,
    }
    if claim is None:
        sql = "SELECT true AS claimed, pg_advisory_xact_lock(:lock), next_signal_reference(:year) AS reference"
    else:
        # `shared.idempotency.claim`'s insert, in this round trip; when it claims nothing the
        # caller asks `claim` for the stored answer.
        sql = (
            "WITH c AS (INSERT INTO idempotency_keys (scope, key, request_hash, status_code, response)"
            " VALUES (:scope, :idem_key, :hash, 0, 'null'::jsonb) ON CONFLICT DO NOTHING RETURNING 1)"
            " SELECT EXISTS (SELECT 1 FROM c) AS claimed, pg_advisory_xact_lock(:lock),"
            " next_signal_reference(:year) AS reference"
        )
        params.update(scope=claim[0], idem_key=claim[1], hash=claim[2])
    first = (await session.execute(text(sql), params)).one()
    reference, claimed = first.reference, bool(first.claimed)
    row = await fetchrow(
        session,
        _CONTEXT,
        {
            "municipality": municipality,
            "area": area,
            "category": category,
            "since": since,
            "codes": list(enclosing_areas(area)),
            "group_id": group_id,
        },
    )
    assert row is not None
    reports = [
        OpenReport(
            id=UUID(r["id"]),
            municipality=municipality,
            area=area,
            category=Category(category),
            status=Status(r["status"]),
            reported_at=parse_time(r["at"]) or never(),
            lat=r["lat"],
            lon=r["lon"],
        )
        for r in orjson.loads(row["open_reports"])
    ]
    partners = [partner_from_json(p) for p in orjson.loads(row["partners"])]
    group = partner_from_json(orjson.loads(row["grp"])) if row["grp"] else None
    return IntakeContext(reference, claimed, reports, partners, group)


async def partners_for(session: AsyncSession, municipality: str, area: str) -> list[Partner]:
    """Active partners covering the area (for routing again after a reclassification)."""
    raw = (
        await session.execute(
            text(
                "SELECT coalesce(json_agg(row_to_json(p)), '[]'::json)::text FROM partners p"
                " WHERE p.active AND :municipality = ANY(p.municipalities) AND p.areas && CAST(:codes AS text[])"
            ),
            {"municipality": municipality, "codes": list(enclosing_areas(area))},
        )
    ).scalar_one()
    return [partner_from_json(p) for p in orjson.loads(raw)]


async def partner(session: AsyncSession, partner_id: UUID) -> Partner | None:
    raw = (
        await session.execute(
            text("SELECT row_to_json(p)::text FROM partners p WHERE p.partner_id = :id"), {"id": partner_id}
        )
    ).scalar()
    return partner_from_json(orjson.loads(raw)) if raw else None
