"""Lists of signals: filters, who may see what (as SQL), keyset pages."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.signals.domain import (
    Signal,
)
from services.signals.store.signals import (
    AGGREGATES,
    COLUMNS,
    signal_from_row,
    text_array,
    uuid_array,
)
from shared import areas
from shared.pagination import Keyset
from shared.sql import Where


@dataclass
class Query:
    """A list request after authorisation: filters plus who may see what."""

    municipalities: list[str]
    area: str | None = None
    statuses: list[str] = field(default_factory=list)
    category: str | None = None
    partner_id: UUID | None = None
    overdue: bool | None = None
    unrouted: bool | None = None
    since: datetime | None = None
    until: datetime | None = None
    ids: list[UUID] | None = None
    references: list[str] | None = None
    bbox: tuple[float, float, float, float] | None = None  # minLon, minLat, maxLon, maxLat (WGS84, inclusive)
    reporter: str | None = None
    visibility: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)


async def list_signals(
    session: AsyncSession, q: Query, *, first: int, after: Keyset | None, now: datetime
) -> tuple[list[Signal], int, Keyset | None]:
    """A page of signals, the total count, and the keyset of the last one when there is more.

    With a partner filter the order is oldest escalation first (a catch-up feed); else newest first.
    """
    where = _where(q, now, spatial=q.bbox is not None and await has_geometry(session))
    order = _order(q, where)
    page = Where(list(where.conditions), dict(where.params))
    if after:
        page.add(
            f"({order.key}, s.id) {order.after} (CAST(:after_at AS timestamptz), CAST(:after_id AS uuid))",
            after_at=after[0],
            after_id=after[1],
        )
    sql = f"{order.source} WHERE {page.sql} ORDER BY {order.by} LIMIT :limit"
    rows = list(await session.execute(text(sql), {**page.params, "limit": first + 1}))
    total = (await session.execute(text(f"{order.count} AND {where.sql}"), where.params)).scalar_one()
    last = rows[first - 1] if len(rows) > first else None
    return [signal_from_row(r)[0] for r in rows[:first]], int(total), (last.key_at, last.id) if last else None


def _where(q: Query, now: datetime, *, spatial: bool = False) -> Where:
    where = Where(params=dict(q.params))
    where.add("s.municipality = ANY(CAST(:municipalities AS text[]))", municipalities=text_array(q.municipalities))
    if q.visibility:
        where.add("(" + " OR ".join(q.visibility) + ")")
    if q.area:
        like = areas.parse(q.area).neighbourhoods_like()
        where.add("(s.area = :area OR s.area LIKE :area_prefix)", area=q.area, area_prefix=like)
    where.given(q.statuses, "s.status = ANY(CAST(:statuses AS text[]))", statuses=text_array(q.statuses))
    where.given(q.category, "s.category = :category", category=q.category)
    if q.overdue is not None:
        clause = "(s.status = 'escalated' AND s.acknowledge_by < :now)"
        where.add(clause if q.overdue else f"NOT {clause}", now=now)
    if q.unrouted is not None:
        unrouted = "(s.routed_partner_id IS NULL AND s.status IN ('received', 'reopened'))"
        where.add(unrouted if q.unrouted else "s.routed_partner_id IS NOT NULL")
    where.given(q.since, "s.reported_at >= :since", since=q.since)
    where.given(q.until, "s.reported_at < :until", until=q.until)
    if q.ids is not None or q.references is not None:  # a batch read by ids, references or both
        where.add(
            "(s.id = ANY(CAST(:ids AS uuid[])) OR s.reference = ANY(CAST(:references AS text[])))",
            ids=uuid_array(q.ids or []),
            references=text_array(q.references or []),
        )
    where.given(q.reporter, "s.reporter = :reporter", reporter=q.reporter)
    if q.bbox is not None:
        min_lon, min_lat, max_lon, max_lat = q.bbox
        where.add(
            "s.lon BETWEEN :min_lon AND :max_lon AND s.lat BETWEEN :min_lat AND :max_lat",
            min_lon=min_lon,
            min_lat=min_lat,
            max_lon=max_lon,
            max_lat=max_lat,
        )
        if spatial:  # the same box on the spatial index (migration 0012, where PostGIS is installed)
            where.add(
                "s.geom OPERATOR(postgis.&&) postgis.ST_MakeEnvelope(:min_lon, :min_lat, :max_lon, :max_lat, 4326)"
            )
    return where


async def has_geometry(session: AsyncSession) -> bool:
    """Whether signals have their PostGIS `geom` column here (migration 0012 with PostGIS)."""
    found = await session.execute(
        text(
            "SELECT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema()"
            " AND table_name = 'signals' AND column_name = 'geom')"
        )
    )
    return bool(found.scalar_one())


@dataclass(frozen=True)
class MapPoint:
    id: UUID
    reference: str
    area: str
    category: str
    urgency: str
    status: str
    reported_at: datetime
    lat: float
    lon: float


async def map_points(session: AsyncSession, q: Query, *, limit: int, now: datetime) -> tuple[list[MapPoint], bool]:
    """The signals with a location that match, newest first, at most `limit`; and whether more matched."""
    where = _where(q, now, spatial=q.bbox is not None and await has_geometry(session))
    where.add("s.lat IS NOT NULL AND s.lon IS NOT NULL")
    sql = (
        "SELECT s.id, s.reference, s.area, s.category, s.urgency, s.status, s.reported_at, s.lat, s.lon"
        f" FROM signals s WHERE {where.sql} ORDER BY s.reported_at DESC, s.id DESC LIMIT :limit"
    )
    rows = list(await session.execute(text(sql), {**where.params, "limit": limit + 1}))
    return [MapPoint(**r._mapping) for r in rows[:limit]], len(rows) > limit


@dataclass(frozen=True)
class _Order:
    source: str
    count: str
    by: str
    key: str
    after: str


def _order(q: Query, where: Where) -> _Order:
    """Newest report first; a partner's feed by its escalations, oldest first."""
    if q.partner_id is None:
        return _Order(
            f"SELECT {COLUMNS}, {AGGREGATES}, s.reported_at AS key_at FROM signals s",
            "SELECT count(*) FROM signals s WHERE TRUE",
            "s.reported_at DESC, s.id DESC",
            "s.reported_at",
            "<",
        )
    where.params["feed_partner"] = q.partner_id
    return _Order(
        f"SELECT {COLUMNS}, {AGGREGATES}, x.key_at FROM signals s"
        " JOIN LATERAL (SELECT max(e.at) AS key_at FROM signal_escalations e"
        " WHERE e.signal_id = s.id AND e.partner_id = :feed_partner) x ON x.key_at IS NOT NULL",
        "SELECT count(*) FROM signals s WHERE :feed_partner = ANY(s.escalated_to)",
        "x.key_at, s.id",
        "x.key_at",
        ">",
    )
