"""Tables of the area review (migrations/0004): how partners responded to an area's signals (fed by
events), the scores participants give each other, agreements, and the reviews held."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson
from sqlalchemy import RowMapping, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.goals.domain import Goal, Quarter
from services.goals.domain.area_reviews import Agreement, PartnerInfo, Score
from services.goals.store import GOAL_COLUMNS, goal_from_row
from shared import areas
from shared.areas import Level
from shared.events.codes import PartnerKind

# --- partners ------------------------------------------------------------------------------------


def _partner(row: RowMapping) -> PartnerInfo:
    try:
        kind = PartnerKind(row["kind"])
    except ValueError:
        kind = PartnerKind.OTHER
    return PartnerInfo(
        id=row["partner_id"],
        name=row["name"],
        kind=kind,
        municipalities=tuple(row["municipalities"]),
        areas=tuple(row["areas"]),
        active=row["active"],
    )


async def partners(session: AsyncSession, ids: Sequence[UUID]) -> dict[UUID, PartnerInfo]:
    if not ids:
        return {}
    rows = await session.execute(
        text("SELECT partner_id, name, kind, municipalities, areas, active FROM partners WHERE partner_id = ANY(:ids)"),
        {"ids": list(ids)},
    )
    return {r["partner_id"]: _partner(r) for r in rows.mappings()}


async def partners_of(session: AsyncSession, municipality: str) -> list[PartnerInfo]:
    rows = await session.execute(
        text(
            "SELECT partner_id, name, kind, municipalities, areas, active FROM partners"
            " WHERE :m = ANY(municipalities) ORDER BY name, partner_id"
        ),
        {"m": municipality},
    )
    return [_partner(r) for r in rows.mappings()]


# --- responsiveness, fed by signal and notification events ---------------------------------------


async def escalated(
    session: AsyncSession, signal_id: UUID, partner_id: UUID, at: datetime, acknowledge_by: datetime
) -> None:
    """The first escalation to a partner counts (with its acknowledge-by)."""
    await session.execute(
        text(
            "INSERT INTO partner_escalations AS e (signal_id, partner_id, escalated_at, acknowledge_by)"
            " VALUES (:s, :p, :at, :by) ON CONFLICT (signal_id, partner_id) DO UPDATE SET"
            " escalated_at = EXCLUDED.escalated_at, acknowledge_by = EXCLUDED.acknowledge_by"
            " WHERE e.escalated_at IS NULL OR EXCLUDED.escalated_at < e.escalated_at"
        ),
        {"s": signal_id, "p": partner_id, "at": at, "by": acknowledge_by},
    )


async def acknowledged(session: AsyncSession, signal_id: UUID, partner_id: UUID, at: datetime) -> None:
    """The partner's first acknowledgement counts (an implied one at its resolution)."""
    await session.execute(
        text(
            "INSERT INTO partner_escalations AS e (signal_id, partner_id, acknowledged_at) VALUES (:s, :p, :at)"
            " ON CONFLICT (signal_id, partner_id) DO UPDATE SET acknowledged_at = EXCLUDED.acknowledged_at"
            " WHERE e.acknowledged_at IS NULL OR EXCLUDED.acknowledged_at < e.acknowledged_at"
        ),
        {"s": signal_id, "p": partner_id, "at": at},
    )


async def resolved(session: AsyncSession, signal_id: UUID, partner_id: UUID, at: datetime) -> None:
    await session.execute(
        text(
            "INSERT INTO partner_escalations AS e (signal_id, partner_id, resolved_at) VALUES (:s, :p, :at)"
            " ON CONFLICT (signal_id, partner_id) DO UPDATE SET resolved_at = EXCLUDED.resolved_at"
            " WHERE e.resolved_at IS NULL OR EXCLUDED.resolved_at < e.resolved_at"
        ),
        {"s": signal_id, "p": partner_id, "at": at},
    )


async def paused(
    session: AsyncSession, signal_id: UUID, partner_id: UUID, asked_at: datetime, ended_at: datetime, by: datetime
) -> None:
    """A question to the reporters ended: its time is left out, and acknowledge-by moved to `by`."""
    await session.execute(
        text(
            "INSERT INTO signal_pauses (signal_id, partner_id, asked_at, ended_at) VALUES (:s, :p, :asked, :ended)"
            " ON CONFLICT DO NOTHING"
        ),
        {"s": signal_id, "p": partner_id, "asked": asked_at, "ended": ended_at},
    )
    await session.execute(
        text(
            "UPDATE partner_escalations SET acknowledge_by = GREATEST(acknowledge_by, :by)"
            " WHERE signal_id = :s AND partner_id = :p"
        ),
        {"s": signal_id, "p": partner_id, "by": by},
    )


async def feedback_delivered(session: AsyncSession, signal_id: UUID, target: str, partner_id: UUID | None) -> None:
    await session.execute(
        text(
            "INSERT INTO feedback_deliveries (signal_id, target, partner_id) VALUES (:s, :t, :p) ON CONFLICT DO NOTHING"
        ),
        {"s": signal_id, "t": target, "p": partner_id},
    )


def area_column(area: str, prefix: str = "") -> str:
    level = areas.parse(area).level
    column = {Level.MUNICIPALITY: "municipality", Level.DISTRICT: "district"}.get(level, "area")
    return prefix + column


@dataclass(frozen=True)
class Responsiveness:
    partner_id: UUID
    escalated: int
    acknowledged_in_time: int
    median_acknowledge_minutes: float | None
    resolved: int
    with_feedback: int
    rated: int = 0
    satisfied: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "partnerId": str(self.partner_id),
            "escalated": self.escalated,
            "acknowledgedInTime": self.acknowledged_in_time,
            "medianAcknowledgeMinutes": self.median_acknowledge_minutes,
            "resolved": self.resolved,
            "withFeedback": self.with_feedback,
            "rated": self.rated,
            "satisfied": self.satisfied,
        }


_RESPONSIVENESS = """
SELECT e.partner_id,
       count(*) AS escalated,
       count(*) FILTER (WHERE e.acknowledged_at IS NOT NULL AND e.acknowledged_at <= e.acknowledge_by) AS in_time,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY GREATEST(0, EXTRACT(EPOCH FROM e.acknowledged_at - e.escalated_at)
           - COALESCE((SELECT sum(EXTRACT(EPOCH FROM p.ended_at - p.asked_at)) FROM signal_pauses p
                       WHERE p.signal_id = e.signal_id AND p.partner_id = e.partner_id
                         AND p.ended_at <= e.acknowledged_at), 0)) / 60)
           FILTER (WHERE e.acknowledged_at IS NOT NULL) AS median_minutes,
       count(*) FILTER (WHERE e.resolved_at IS NOT NULL) AS resolved,
       count(*) FILTER (WHERE e.resolved_at IS NOT NULL AND EXISTS (
           SELECT 1 FROM feedback_deliveries d LEFT JOIN partners g ON g.partner_id = d.partner_id
           WHERE d.signal_id = e.signal_id
             AND (d.target = 'reporter' OR g.kind IN ('whatsapp_group', 'resident_group')))) AS with_feedback
FROM partner_escalations e JOIN signal_facts f ON f.signal_id = e.signal_id
WHERE {column} = :area AND e.escalated_at >= :starts AND e.escalated_at < :ends AND NOT f.merged
GROUP BY e.partner_id
"""


async def responsiveness(session: AsyncSession, area: str, quarter: Quarter) -> list[Responsiveness]:
    """The "aansluiten" figure per partner the area's signals were escalated to in the quarter;
    ratings count in the quarter of the resolution they rate."""
    params = {"area": area, "starts": quarter.starts_at, "ends": quarter.ends_at}
    rows = await session.execute(text(_RESPONSIVENESS.format(column=area_column(area, "f."))), params)
    ratings = await session.execute(
        text(
            f"SELECT partner_id, count(*) AS rated, count(*) FILTER (WHERE satisfied) AS satisfied"
            f" FROM signal_ratings WHERE {area_column(area)} = :area AND quarter = :quarter"
            f" AND partner_id IS NOT NULL GROUP BY partner_id"
        ),
        {"area": area, "quarter": str(quarter)},
    )
    rated = {r.partner_id: (int(r.rated), int(r.satisfied)) for r in ratings}
    found = []
    for r in rows:
        n, ok = rated.get(r.partner_id, (0, 0))
        minutes = None if r.median_minutes is None else round(float(r.median_minutes), 1)
        found.append(Responsiveness(r.partner_id, r.escalated, r.in_time, minutes, r.resolved, r.with_feedback, n, ok))
    return found


async def category_counts(session: AsyncSession, area: str, quarters: Sequence[Quarter]) -> dict[str, dict[str, int]]:
    """Per quarter and category: the signals reported in the area (rejected and merged ones not)."""
    rows = await session.execute(
        text(
            f"SELECT quarter, category, count(*) AS n FROM signal_facts WHERE {area_column(area)} = :area"
            f" AND quarter = ANY(:quarters) AND NOT merged AND status NOT IN ('rejected', 'merged')"
            f" GROUP BY quarter, category"
        ),
        {"area": area, "quarters": [str(q) for q in quarters]},
    )
    found: dict[str, dict[str, int]] = {str(q): {} for q in quarters}
    for r in rows:
        found[r.quarter][r.category] = int(r.n)
    return found


# --- scores, agreements, reviews held ------------------------------------------------------------


async def rate(session: AsyncSession, area: str, quarter: Quarter, score: Score, by: str, at: datetime) -> None:
    """Rating again replaces."""
    await session.execute(
        text(
            "INSERT INTO cooperation_scores (area, quarter, from_partner, to_partner, score, comment, rated_by,"
            " rated_at) VALUES (:area, :quarter, :f, :t, :score, :comment, :by, :at)"
            " ON CONFLICT (area, quarter, from_partner, to_partner) DO UPDATE SET score = EXCLUDED.score,"
            " comment = EXCLUDED.comment, rated_by = EXCLUDED.rated_by, rated_at = EXCLUDED.rated_at"
        ),
        {
            "area": area,
            "quarter": str(quarter),
            "f": score.from_partner,
            "t": score.to_partner,
            "score": score.score,
            "comment": score.comment,
            "by": by,
            "at": at,
        },
    )


async def scores(session: AsyncSession, area: str, quarter: Quarter) -> list[Score]:
    rows = await session.execute(
        text(
            "SELECT from_partner, to_partner, score, comment FROM cooperation_scores"
            " WHERE area = :area AND quarter = :quarter ORDER BY rated_at, from_partner, to_partner"
        ),
        {"area": area, "quarter": str(quarter)},
    )
    return [Score(r.from_partner, r.to_partner, r.score, r.comment) for r in rows]


_AGREEMENT_COLUMNS = (
    "id, municipality, area, text, owner, made_in, due_quarter, status, closed_in, created_at, updated_at"
)


async def add_agreement(session: AsyncSession, agreement: Agreement, by: str) -> None:
    await session.execute(
        text(
            f"INSERT INTO agreements ({_AGREEMENT_COLUMNS}, created_by) VALUES (:id, :municipality, :area, :text,"
            " :owner, :made_in, :due_quarter, :status, :closed_in, :created_at, :updated_at, :by)"
        ),
        {**agreement.__dict__, "by": by},
    )


async def agreement(session: AsyncSession, agreement_id: UUID, *, for_update: bool = False) -> Agreement | None:
    lock = " FOR UPDATE" if for_update else ""
    row = await session.execute(
        text(f"SELECT {_AGREEMENT_COLUMNS} FROM agreements WHERE id = :id{lock}"), {"id": agreement_id}
    )
    found = row.mappings().first()
    return Agreement(**found) if found else None


async def save_agreement(session: AsyncSession, agreement: Agreement) -> None:
    await session.execute(
        text("UPDATE agreements SET status = :status, closed_in = :closed_in, updated_at = :updated_at WHERE id = :id"),
        agreement.__dict__,
    )


async def agreements_until(session: AsyncSession, area: str, quarter: Quarter) -> list[Agreement]:
    """The area's agreements made in or before the quarter (the caller picks those shown in it)."""
    rows = await session.execute(
        text(
            f"SELECT {_AGREEMENT_COLUMNS} FROM agreements WHERE area = :area AND made_in <= :quarter"
            " ORDER BY made_in, created_at, id"
        ),
        {"area": area, "quarter": str(quarter)},
    )
    return [Agreement(**r) for r in rows.mappings()]


@dataclass(frozen=True)
class Held:
    notes: str | None
    held_at: datetime
    figures: dict[str, Any]


async def held(session: AsyncSession, area: str, quarter: Quarter, *, lock: bool = False) -> Held | None:
    if lock:  # serialise holding, rating and agreeing per area and quarter
        await session.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"area-review:{area}:{quarter}"}
        )
    row = await session.execute(
        text("SELECT notes, held_at, figures FROM area_reviews WHERE area = :area AND quarter = :quarter"),
        {"area": area, "quarter": str(quarter)},
    )
    found = row.first()
    if found is None:
        return None
    figures = found.figures if isinstance(found.figures, dict) else orjson.loads(found.figures)
    return Held(found.notes, found.held_at, figures)


async def hold(
    session: AsyncSession,
    area: str,
    quarter: Quarter,
    municipality: str,
    notes: str | None,
    figures: dict[str, Any],
    by: str,
    at: datetime,
) -> bool:
    """False when it was held already."""
    row = await session.execute(
        text(
            "INSERT INTO area_reviews (area, quarter, municipality, notes, held_at, held_by, figures)"
            " VALUES (:area, :quarter, :m, :notes, :at, :by, CAST(:figures AS jsonb))"
            " ON CONFLICT DO NOTHING RETURNING area"
        ),
        {
            "area": area,
            "quarter": str(quarter),
            "m": municipality,
            "notes": notes,
            "at": at,
            "by": by,
            "figures": orjson.dumps(figures).decode(),
        },
    )
    return row.scalar() is not None


async def goal_reviews_of(session: AsyncSession, area: str, quarter: Quarter) -> list[dict[str, Any]]:
    """The reviews of the quarter of the area's goals (for a WK its BUs' too; for a GM all of it)."""
    parsed = areas.parse(area)
    if parsed.level is Level.MUNICIPALITY:
        where, params = "g.municipality = :area", {"area": area}
    else:
        where, params = "(g.area = :area OR g.area LIKE :like)", {"area": area, "like": parsed.neighbourhoods_like()}
    rows = await session.execute(
        text(
            "SELECT r.id, r.goal_id, r.quarter, r.assessment, r.decision, r.notes, r.measurements, r.cooperation,"
            f" r.reviewed_at, g.title FROM reviews r JOIN goals g ON g.id = r.goal_id WHERE {where}"
            " AND r.quarter = :quarter ORDER BY r.reviewed_at, r.id"
        ),
        {**params, "quarter": str(quarter)},
    )
    return [dict(r) for r in rows.mappings()]


async def goals_in(session: AsyncSession, area: str, year: int) -> list[Goal]:
    """The goals of the area and year (for a WK its BUs' too; for a GM all of it), oldest first."""
    parsed = areas.parse(area)
    if parsed.level is Level.MUNICIPALITY:
        where, params = "municipality = :area", {"area": area}
    else:
        where, params = "(area = :area OR area LIKE :like)", {"area": area, "like": parsed.neighbourhoods_like()}
    rows = await session.execute(
        text(f"SELECT {GOAL_COLUMNS} FROM goals WHERE {where} AND year = :year ORDER BY created_at, id"),
        {**params, "year": year},
    )
    return [goal_from_row(r) for r in rows.mappings()]
