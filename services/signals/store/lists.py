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
    reporter: str | None = None
    visibility: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)


async def list_signals(
    session: AsyncSession, q: Query, *, first: int, after: Keyset | None, now: datetime
) -> tuple[list[Signal], int, Keyset | None]:
    """A page of signals, the total count, and the keyset of the last one when there is more.

    With a partner filter the order is oldest escalation first (a catch-up feed); else newest first.
    """
    where = ["s.municipality = ANY(CAST(:municipalities AS text[]))"]
    params: dict[str, Any] = {"municipalities": text_array(q.municipalities), "now": now, **q.params}
    if q.visibility:
        where.append("(" + " OR ".join(q.visibility) + ")")
    if q.area:
        where.append("(s.area = :area OR s.area LIKE :area_prefix)")
        params["area"], params["area_prefix"] = q.area, areas.parse(q.area).neighbourhoods_like()
    if q.statuses:
        where.append("s.status = ANY(CAST(:statuses AS text[]))")
        params["statuses"] = text_array(q.statuses)
    if q.category:
        where.append("s.category = :category")
        params["category"] = q.category
    if q.overdue is not None:
        clause = "(s.status = 'escalated' AND s.acknowledge_by < :now)"
        where.append(clause if q.overdue else f"NOT {clause}")
    if q.unrouted is not None:
        where.append(
            "(s.routed_partner_id IS NULL AND s.status IN ('received', 'reopened'))"
            if q.unrouted
            else "s.routed_partner_id IS NOT NULL"
        )
    if q.since:
        where.append("s.reported_at >= :since")
        params["since"] = q.since
    if q.until:
        where.append("s.reported_at < :until")
        params["until"] = q.until
    if q.ids is not None:
        where.append("s.id = ANY(CAST(:ids AS uuid[]))")
        params["ids"] = uuid_array(q.ids)
    if q.reporter is not None:
        where.append("s.reporter = :reporter")
        params["reporter"] = q.reporter
    if q.partner_id is not None:
        params["feed_partner"] = q.partner_id
        source = (
            f"SELECT {COLUMNS}, {AGGREGATES}, x.key_at FROM signals s"
            " JOIN LATERAL (SELECT max(e.at) AS key_at FROM signal_escalations e"
            " WHERE e.signal_id = s.id AND e.partner_id = :feed_partner) x ON x.key_at IS NOT NULL"
        )
        count_source = "SELECT count(*) FROM signals s WHERE :feed_partner = ANY(s.escalated_to) AND " + " AND ".join(
            where
        )
        order, cmp = "x.key_at, s.id", ">"
        key_expr = "x.key_at"
    else:
        source = f"SELECT {COLUMNS}, {AGGREGATES}, s.reported_at AS key_at FROM signals s"
        count_source = "SELECT count(*) FROM signals s WHERE " + " AND ".join(where)
        order, cmp = "s.reported_at DESC, s.id DESC", "<"
        key_expr = "s.reported_at"
    page_where = list(where)
    if after:
        page_where.append(f"({key_expr}, s.id) {cmp} (CAST(:after_at AS timestamptz), CAST(:after_id AS uuid))")
        params["after_at"], params["after_id"] = after
    sql = f"{source} WHERE {' AND '.join(page_where)} ORDER BY {order} LIMIT :limit"
    params["limit"] = first + 1
    rows = list(await session.execute(text(sql), params))
    total = (await session.execute(text(count_source), params)).scalar_one()
    signals = [signal_from_row(r)[0] for r in rows[:first]]
    last = rows[first - 1] if len(rows) > first else None
    cursor = (last.key_at, last.id) if last is not None else None
    return signals, int(total), cursor
