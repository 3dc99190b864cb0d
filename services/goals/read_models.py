"""What the consumers keep: the partners read model (who may be named on a goal) and the facts
of every signal, from which the statistics of an area and quarter are computed on read."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.goals.domain import Quarter, QuarterStats
from shared import areas
from shared.areas import Level
from shared.events.codes import Category

# --- partners read model -------------------------------------------------------------------------


async def apply_partner(
    session: AsyncSession,
    partner_id: UUID,
    municipalities: list[str],
    active: bool,
    version: int,
    *,
    name: str = "",
    kind: str = "other",
    areas: Sequence[str] = (),
) -> None:
    """Full state, applied only when newer than what is kept (events of one partner may repeat)."""
    await session.execute(
        text(
            "INSERT INTO partners (partner_id, municipalities, active, version, name, kind, areas)"
            " VALUES (:id, :municipalities, :active, :version, :name, :kind, :areas)"
            " ON CONFLICT (partner_id) DO UPDATE SET municipalities = EXCLUDED.municipalities,"
            " active = EXCLUDED.active, version = EXCLUDED.version, name = EXCLUDED.name, kind = EXCLUDED.kind,"
            " areas = EXCLUDED.areas WHERE partners.version < EXCLUDED.version"
        ),
        {
            "id": partner_id,
            "municipalities": municipalities,
            "active": active,
            "version": version,
            "name": name,
            "kind": kind,
            "areas": list(areas),
        },
    )


async def active_partners(session: AsyncSession, municipality: str, ids: Sequence[UUID]) -> set[UUID]:
    if not ids:
        return set()
    rows = await session.execute(
        text("SELECT partner_id FROM partners WHERE partner_id = ANY(:ids) AND active AND :m = ANY(municipalities)"),
        {"ids": list(ids), "m": municipality},
    )
    return {r.partner_id for r in rows}


# --- residents: who lives where (by pseudonym) ---------------------------------------------------


async def apply_resident(
    session: AsyncSession, resident: str, municipality: str, area: str, joined: bool, at: datetime
) -> None:
    """A resident joined or left a neighbourhood; a later change wins (a replay changes nothing)."""
    await session.execute(
        text(
            "INSERT INTO area_residents AS r (resident, area, district, municipality, joined, changed_at)"
            " VALUES (:resident, :area, :district, :municipality, :joined, :at)"
            " ON CONFLICT (resident, area) DO UPDATE SET joined = EXCLUDED.joined, changed_at = EXCLUDED.changed_at"
            " WHERE r.changed_at <= EXCLUDED.changed_at"
        ),
        {
            "resident": resident,
            "area": area,
            "district": areas.parse(area).district,
            "municipality": municipality,
            "joined": joined,
            "at": at,
        },
    )


# --- signal statistics ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SignalFactsUpdate:
    """What one signal event tells about its signal; absent facts are None and keep what is known."""

    signal_id: UUID
    municipality: str
    area: str
    district: str | None
    category: str
    status: str
    sequence: int
    received_at: datetime | None = None
    quarter: str | None = None
    merged: bool = False
    escalated_at: datetime | None = None
    acknowledged_at: datetime | None = None
    ack_escalated_at: datetime | None = None


# Area, category and status follow the newest event (by sequence); times are kept once known;
# the first acknowledgement counts (a reopened signal's second one does not replace it).
_APPLY_SIGNAL = text(
    """
    INSERT INTO signal_facts AS f (signal_id, municipality, area, district, category, status, sequence,
        received_at, quarter, merged, escalated_at, acknowledged_at, ack_escalated_at)
    VALUES (:signal_id, :municipality, :area, :district, :category, :status, :sequence,
        :received_at, :quarter, :merged, :escalated_at, :acknowledged_at, :ack_escalated_at)
    ON CONFLICT (signal_id) DO UPDATE SET
        municipality = CASE WHEN EXCLUDED.sequence > f.sequence THEN EXCLUDED.municipality ELSE f.municipality END,
        area = CASE WHEN EXCLUDED.sequence > f.sequence THEN EXCLUDED.area ELSE f.area END,
        district = CASE WHEN EXCLUDED.sequence > f.sequence THEN EXCLUDED.district ELSE f.district END,
        category = CASE WHEN EXCLUDED.sequence > f.sequence THEN EXCLUDED.category ELSE f.category END,
        status = CASE WHEN EXCLUDED.sequence > f.sequence THEN EXCLUDED.status ELSE f.status END,
        sequence = GREATEST(f.sequence, EXCLUDED.sequence),
        received_at = COALESCE(f.received_at, EXCLUDED.received_at),
        quarter = COALESCE(f.quarter, EXCLUDED.quarter),
        merged = f.merged OR EXCLUDED.merged,
        escalated_at = COALESCE(f.escalated_at, EXCLUDED.escalated_at),
        ack_escalated_at = CASE
            WHEN EXCLUDED.acknowledged_at IS NOT NULL
                 AND (f.acknowledged_at IS NULL OR EXCLUDED.acknowledged_at < f.acknowledged_at)
            THEN EXCLUDED.ack_escalated_at ELSE f.ack_escalated_at END,
        acknowledged_at = CASE
            WHEN EXCLUDED.acknowledged_at IS NOT NULL
                 AND (f.acknowledged_at IS NULL OR EXCLUDED.acknowledged_at < f.acknowledged_at)
            THEN EXCLUDED.acknowledged_at ELSE f.acknowledged_at END
    """
)


async def apply_signal(session: AsyncSession, update: SignalFactsUpdate) -> None:
    await session.execute(_APPLY_SIGNAL, update.__dict__)


def _area_column(area: str) -> str:
    return {Level.MUNICIPALITY: "municipality", Level.DISTRICT: "district"}.get(areas.parse(area).level, "area")


async def apply_rating(session: AsyncSession, rating: RatingFacts) -> None:
    """A reporter's rating; rating again (the same id, later) replaces it."""
    await session.execute(
        text(
            "INSERT INTO signal_ratings AS r (rating_id, signal_id, partner_id, municipality, area, district, category,"
            " satisfied, resolved_at, quarter, rated_at) VALUES (:rating_id, :signal_id, :partner_id, :municipality,"
            " :area, :district, :category, :satisfied, :resolved_at, :quarter, :rated_at)"
            " ON CONFLICT (rating_id) DO UPDATE SET satisfied = EXCLUDED.satisfied, rated_at = EXCLUDED.rated_at,"
            " resolved_at = EXCLUDED.resolved_at, quarter = EXCLUDED.quarter, partner_id = EXCLUDED.partner_id"
            " WHERE r.rated_at <= EXCLUDED.rated_at"
        ),
        rating.__dict__,
    )


@dataclass(frozen=True)
class RatingFacts:
    rating_id: UUID
    signal_id: UUID
    partner_id: UUID | None
    municipality: str
    area: str
    district: str | None
    category: str
    satisfied: bool
    resolved_at: datetime
    quarter: str
    rated_at: datetime


@dataclass(frozen=True)
class InitiativeState:
    """An initiative as its newest event tells it; the times are kept once known."""

    initiative_id: UUID
    municipality: str
    area: str
    district: str | None
    status: str
    participant_count: int
    sequence: int
    started_at: datetime | None = None
    ended_at: datetime | None = None


async def apply_initiative(session: AsyncSession, state: InitiativeState) -> None:
    await session.execute(
        text(
            "INSERT INTO initiatives AS i (initiative_id, municipality, area, district, status, participant_count,"
            " started_at, ended_at, sequence) VALUES (:initiative_id, :municipality, :area, :district, :status,"
            " :participant_count, :started_at, :ended_at, :sequence)"
            " ON CONFLICT (initiative_id) DO UPDATE SET"
            " status = CASE WHEN EXCLUDED.sequence > i.sequence THEN EXCLUDED.status ELSE i.status END,"
            " participant_count = CASE WHEN EXCLUDED.sequence > i.sequence"
            "   THEN EXCLUDED.participant_count ELSE i.participant_count END,"
            " sequence = GREATEST(i.sequence, EXCLUDED.sequence),"
            " started_at = COALESCE(i.started_at, EXCLUDED.started_at),"
            " ended_at = COALESCE(i.ended_at, EXCLUDED.ended_at)"
        ),
        state.__dict__,
    )


async def manual_values(
    session: AsyncSession, goal_id: UUID, indicator: int, quarters: Sequence[Quarter]
) -> dict[Quarter, float | None]:
    rows = await session.execute(
        text(
            "SELECT quarter, value FROM manual_measurements"
            " WHERE goal_id = :goal AND indicator = :indicator AND quarter = ANY(:quarters)"
        ),
        {"goal": goal_id, "indicator": indicator, "quarters": [str(q) for q in quarters]},
    )
    found = {r.quarter: float(r.value) for r in rows}
    return {q: found.get(str(q)) for q in quarters}


async def record_manual(
    session: AsyncSession,
    goal_id: UUID,
    indicator: int,
    quarter: Quarter,
    value: float,
    source: str,
    by: str,
    at: datetime,
) -> None:
    """A coordinator's value for a `manual` indicator; recording again replaces it."""
    await session.execute(
        text(
            "INSERT INTO manual_measurements (goal_id, indicator, quarter, value, source, recorded_by, recorded_at)"
            " VALUES (:goal, :indicator, :quarter, :value, :source, :by, :at)"
            " ON CONFLICT (goal_id, indicator, quarter) DO UPDATE SET value = EXCLUDED.value,"
            " source = EXCLUDED.source, recorded_by = EXCLUDED.recorded_by, recorded_at = EXCLUDED.recorded_at"
        ),
        {
            "goal": goal_id,
            "indicator": indicator,
            "quarter": str(quarter),
            "value": value,
            "source": source,
            "by": by,
            "at": at,
        },
    )


async def _ratings(
    session: AsyncSession, column: str, area: str, categories: Sequence[Category], quarters: Sequence[Quarter]
) -> dict[str, tuple[int, int]]:
    rows = await session.execute(
        text(
            f"SELECT quarter, count(*) AS rated, count(*) FILTER (WHERE satisfied) AS satisfied"
            f" FROM signal_ratings WHERE {column} = :area AND quarter = ANY(:quarters)"
            f" AND (cardinality(CAST(:categories AS text[])) = 0 OR category = ANY(:categories)) GROUP BY quarter"
        ),
        {"area": area, "quarters": [str(q) for q in quarters], "categories": [c.value for c in categories]},
    )
    return {r.quarter: (int(r.rated), int(r.satisfied)) for r in rows}


async def _initiatives(session: AsyncSession, column: str, area: str, quarter: Quarter) -> tuple[int, int]:
    """Initiatives active or done in the quarter (stopped ones not counted) and their participants."""
    row = await session.execute(
        text(
            f"SELECT count(*) AS initiatives, COALESCE(sum(participant_count), 0) AS participants FROM initiatives"
            f" WHERE {column} = :area AND status IN ('active', 'done') AND started_at < :ends"
            f" AND (ended_at IS NULL OR ended_at >= :starts)"
        ),
        {"area": area, "starts": quarter.starts_at, "ends": quarter.ends_at},
    )
    found = row.one()
    return int(found.initiatives), int(found.participants)


async def quarter_stats(
    session: AsyncSession,
    area: str,
    categories: Sequence[Category],
    quarters: Sequence[Quarter],
    *,
    ratings: bool = True,
    initiatives: bool = True,
) -> dict[Quarter, QuarterStats]:
    """Per quarter: signals reported in the area (a BU, its WK or its GM; rejected and merged ones
    count in no indicator), and unless left out the ratings and the initiatives."""
    column = _area_column(area)
    # A WK's own signals and its neighbourhoods' signals both carry the WK as district.
    rows = await session.execute(
        text(
            f"SELECT quarter, count(*) AS signals,"
            f" count(*) FILTER (WHERE status IN ('resolved', 'closed')) AS resolved,"
            f" array_remove(array_agg(EXTRACT(EPOCH FROM"
            f" acknowledged_at - COALESCE(ack_escalated_at, escalated_at)) / 60), NULL) AS ack"
            f" FROM signal_facts WHERE {column} = :area AND quarter = ANY(:quarters) AND NOT merged"
            f" AND status NOT IN ('rejected', 'merged')"
            f" AND (cardinality(CAST(:categories AS text[])) = 0 OR category = ANY(:categories))"
            f" GROUP BY quarter"
        ),
        {"area": area, "quarters": [str(q) for q in quarters], "categories": [c.value for c in categories]},
    )
    found = {
        Quarter.parse(r.quarter): QuarterStats(
            r.signals, r.resolved, tuple(max(float(m), 0.0) for m in r.ack if m is not None)
        )
        for r in rows
    }
    rated_by_quarter = await _ratings(session, column, area, categories, quarters) if ratings else {}
    stats = {}
    for q in quarters:
        rated, satisfied = rated_by_quarter.get(str(q), (0, 0))
        started, participants = await _initiatives(session, column, area, q) if initiatives else (0, 0)
        stats[q] = replace(
            found.get(q, QuarterStats()),
            rated=rated,
            satisfied=satisfied,
            initiatives=started,
            participants=participants,
        )
    return stats


async def signals_by_category(
    session: AsyncSession, area: str, categories: Sequence[Category], quarter: Quarter
) -> dict[Category, int]:
    """Signals reported in the area in the quarter per category (of `categories`, or all when none),
    counted as `quarter_stats` counts them: rejected and merged ones not. One query."""
    column = _area_column(area)
    rows = await session.execute(
        text(
            f"SELECT category, count(*) AS n FROM signal_facts WHERE {column} = :area AND quarter = :quarter"
            f" AND NOT merged AND status NOT IN ('rejected', 'merged')"
            f" AND (cardinality(CAST(:categories AS text[])) = 0 OR category = ANY(:categories))"
            f" GROUP BY category"
        ),
        {"area": area, "quarter": str(quarter), "categories": [c.value for c in categories]},
    )
    counted = {str(r.category): int(r.n) for r in rows}
    return {c: counted.get(c.value, 0) for c in (categories or list(Category))}
