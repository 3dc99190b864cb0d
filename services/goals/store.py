"""Tables of the goals schema (migrations/) and the queries on them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson
from sqlalchemy import RowMapping, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.goals.domain import Goal, Indicator, Quarter, QuarterStats
from shared import areas
from shared.areas import Level
from shared.db import lock_key
from shared.events.codes import Category, GoalStatus

# --- partners read model -------------------------------------------------------------------------


async def apply_partner(
    session: AsyncSession, partner_id: UUID, municipalities: list[str], active: bool, version: int
) -> None:
    """Full state, applied only when newer than what is kept (events of one partner may repeat)."""
    await session.execute(
        text(
            "INSERT INTO partners (partner_id, municipalities, active, version)"
            " VALUES (:id, :municipalities, :active, :version)"
            " ON CONFLICT (partner_id) DO UPDATE SET municipalities = EXCLUDED.municipalities,"
            " active = EXCLUDED.active, version = EXCLUDED.version WHERE partners.version < EXCLUDED.version"
        ),
        {"id": partner_id, "municipalities": municipalities, "active": active, "version": version},
    )


async def active_partners(session: AsyncSession, municipality: str, ids: Sequence[UUID]) -> set[UUID]:
    if not ids:
        return set()
    rows = await session.execute(
        text("SELECT partner_id FROM partners WHERE partner_id = ANY(:ids) AND active AND :m = ANY(municipalities)"),
        {"ids": list(ids), "m": municipality},
    )
    return {r.partner_id for r in rows}


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


async def quarter_stats(
    session: AsyncSession, area: str, categories: Sequence[Category], quarters: Sequence[Quarter]
) -> dict[Quarter, QuarterStats]:
    """Per quarter: signals reported in the area (a BU, its WK or its GM), merged ones not counted."""
    column = _area_column(area)
    # A WK's own signals and its neighbourhoods' signals both carry the WK as district.
    rows = await session.execute(
        text(
            f"SELECT quarter, count(*) AS signals,"
            f" count(*) FILTER (WHERE status IN ('resolved', 'closed')) AS resolved,"
            f" array_remove(array_agg(EXTRACT(EPOCH FROM"
            f" acknowledged_at - COALESCE(ack_escalated_at, escalated_at)) / 60), NULL) AS ack"
            f" FROM signal_facts WHERE {column} = :area AND quarter = ANY(:quarters) AND NOT merged"
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
    return {q: found.get(q, QuarterStats()) for q in quarters}


# --- goals ---------------------------------------------------------------------------------------

_GOAL_COLUMNS = (
    "id, municipality, area, year, title, description, theme, categories, indicators, partner_ids,"
    " status, proposal_id, version, created_at, updated_at"
)


def goal_from_row(row: RowMapping) -> Goal:
    indicators = row["indicators"]
    if isinstance(indicators, str):
        indicators = orjson.loads(indicators)
    return Goal(
        id=row["id"],
        municipality=row["municipality"],
        area=row["area"],
        year=row["year"],
        title=row["title"],
        description=row["description"],
        theme=row["theme"],
        categories=[Category(c) for c in row["categories"]],
        indicators=[Indicator.from_json(i) for i in indicators],
        partner_ids=list(row["partner_ids"]),
        status=GoalStatus(row["status"]),
        proposal_id=row["proposal_id"],
        version=row["version"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _goal_params(goal: Goal) -> dict[str, Any]:
    return {
        "id": goal.id,
        "municipality": goal.municipality,
        "area": goal.area,
        "year": goal.year,
        "title": goal.title,
        "description": goal.description,
        "theme": goal.theme,
        "categories": [c.value for c in goal.categories],
        "indicators": orjson.dumps([i.as_json() for i in goal.indicators]).decode(),
        "partner_ids": list(goal.partner_ids),
        "status": goal.status.value,
        "proposal_id": goal.proposal_id,
        "version": goal.version,
        "created_at": goal.created_at,
        "updated_at": goal.updated_at,
    }


async def lock_area_year(session: AsyncSession, area: str, year: int) -> None:
    """Serialise the three-goal rule per (area, year) until this transaction ends."""
    await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock_key(f"goals:{area}:{year}")})


async def count_active(session: AsyncSession, area: str, year: int, *, excluding: UUID | None = None) -> int:
    row = await session.execute(
        text(
            "SELECT count(*) FROM goals WHERE area = :area AND year = :year AND status = 'active'"
            " AND (CAST(:excluding AS uuid) IS NULL OR id <> :excluding)"
        ),
        {"area": area, "year": year, "excluding": excluding},
    )
    return int(row.scalar_one())


async def insert_goal(session: AsyncSession, goal: Goal) -> None:
    await session.execute(
        text(
            f"INSERT INTO goals ({_GOAL_COLUMNS}) VALUES (:id, :municipality, :area, :year, :title, :description,"
            " :theme, :categories, CAST(:indicators AS jsonb), :partner_ids, :status, :proposal_id, :version,"
            " :created_at, :updated_at)"
        ),
        _goal_params(goal),
    )


async def save_goal(session: AsyncSession, goal: Goal) -> None:
    await session.execute(
        text(
            "UPDATE goals SET title = :title, description = :description, theme = :theme,"
            " categories = :categories, indicators = CAST(:indicators AS jsonb), partner_ids = :partner_ids,"
            " status = :status, version = :version, updated_at = :updated_at WHERE id = :id"
        ),
        _goal_params(goal),
    )


async def bump_goal_version(session: AsyncSession, goal_id: UUID) -> int:
    row = await session.execute(
        text("UPDATE goals SET version = version + 1 WHERE id = :id RETURNING version"), {"id": goal_id}
    )
    return int(row.scalar_one())


async def get_goal(session: AsyncSession, goal_id: UUID, *, for_update: bool = False) -> Goal | None:
    lock = " FOR UPDATE" if for_update else ""
    row = (
        (await session.execute(text(f"SELECT {_GOAL_COLUMNS} FROM goals WHERE id = :id{lock}"), {"id": goal_id}))
        .mappings()
        .first()
    )
    return goal_from_row(row) if row else None


@dataclass(frozen=True)
class GoalFilter:
    municipalities: Sequence[str]
    partner_id: UUID | None = None
    area: str | None = None
    year: int | None = None
    status: str | None = None
    ids: Sequence[UUID] | None = None


async def list_goals(
    session: AsyncSession, where: GoalFilter, limit: int, after: tuple[datetime, UUID] | None
) -> tuple[list[Goal], int]:
    conditions = ["(municipality = ANY(:municipalities) OR CAST(:partner AS uuid) = ANY(partner_ids))"]
    params: dict[str, Any] = {"municipalities": list(where.municipalities), "partner": where.partner_id}
    if where.area:
        conditions.append("area = :area")
        params["area"] = where.area
    if where.year is not None:
        conditions.append("year = :year")
        params["year"] = where.year
    if where.status:
        conditions.append("status = :status")
        params["status"] = where.status
    if where.ids is not None:
        conditions.append("id = ANY(:ids)")
        params["ids"] = list(where.ids)
    clause = " AND ".join(conditions)
    total = (await session.execute(text(f"SELECT count(*) FROM goals WHERE {clause}"), params)).scalar_one()
    page = clause
    if after is not None:
        page += " AND (created_at, id) > (:after_at, :after_id)"
        params.update(after_at=after[0], after_id=after[1])
    rows = await session.execute(
        text(f"SELECT {_GOAL_COLUMNS} FROM goals WHERE {page} ORDER BY created_at, id LIMIT :limit"),
        {**params, "limit": limit},
    )
    return [goal_from_row(r) for r in rows.mappings()], int(total)


# --- proposals -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Proposal:
    id: UUID
    municipality: str
    area: str
    year: int
    title: str
    description: str | None
    categories: list[str]
    proposer: str
    group_id: UUID | None
    status: str
    decline_reason: str | None
    goal_id: UUID | None
    proposed_at: datetime
    support_count: int
    supported_by_me: bool


_PROPOSAL_SELECT = (
    "SELECT p.id, p.municipality, p.area, p.year, p.title, p.description, p.categories, p.proposer, p.group_id,"
    " p.status, p.decline_reason, p.goal_id, p.proposed_at,"
    " (SELECT count(*) FROM proposal_supports s WHERE s.proposal_id = p.id) AS support_count,"
    " EXISTS (SELECT 1 FROM proposal_supports s WHERE s.proposal_id = p.id AND s.supporter = :me) AS supported_by_me"
    " FROM proposals p"
)


def _proposal(row: RowMapping) -> Proposal:
    values: dict[str, Any] = dict(row)
    values["categories"] = list(values["categories"])
    return Proposal(**values)


async def insert_proposal(session: AsyncSession, p: Proposal) -> None:
    await session.execute(
        text(
            "INSERT INTO proposals (id, municipality, area, year, title, description, categories, proposer,"
            " group_id, status, proposed_at) VALUES (:id, :municipality, :area, :year, :title, :description,"
            " :categories, :proposer, :group_id, 'open', :proposed_at)"
        ),
        {
            "id": p.id,
            "municipality": p.municipality,
            "area": p.area,
            "year": p.year,
            "title": p.title,
            "description": p.description,
            "categories": p.categories,
            "proposer": p.proposer,
            "group_id": p.group_id,
            "proposed_at": p.proposed_at,
        },
    )


async def get_proposal(
    session: AsyncSession, proposal_id: UUID, me: str, *, for_update: bool = False
) -> Proposal | None:
    if for_update:
        await session.execute(text("SELECT 1 FROM proposals WHERE id = :id FOR UPDATE"), {"id": proposal_id})
    row = (
        (await session.execute(text(f"{_PROPOSAL_SELECT} WHERE p.id = :id"), {"id": proposal_id, "me": me}))
        .mappings()
        .first()
    )
    return _proposal(row) if row else None


async def list_proposals(
    session: AsyncSession,
    me: str,
    municipalities: Sequence[str],
    area: str | None,
    year: int | None,
    status: str | None,
    limit: int,
    after: tuple[datetime, UUID] | None,
) -> tuple[list[Proposal], int]:
    conditions = ["p.municipality = ANY(:municipalities)"]
    params: dict[str, Any] = {"municipalities": list(municipalities), "me": me}
    for name, value in (("area", area), ("year", year), ("status", status)):
        if value is not None:
            conditions.append(f"p.{name} = :{name}")
            params[name] = value
    clause = " AND ".join(conditions)
    total = (await session.execute(text(f"SELECT count(*) FROM proposals p WHERE {clause}"), params)).scalar_one()
    if after is not None:
        clause += " AND (p.proposed_at, p.id) > (:after_at, :after_id)"
        params.update(after_at=after[0], after_id=after[1])
    rows = await session.execute(
        text(f"{_PROPOSAL_SELECT} WHERE {clause} ORDER BY p.proposed_at, p.id LIMIT :limit"), {**params, "limit": limit}
    )
    return [_proposal(r) for r in rows.mappings()], int(total)


async def add_support(session: AsyncSession, proposal_id: UUID, supporter: str, at: datetime) -> None:
    await session.execute(
        text(
            "INSERT INTO proposal_supports (proposal_id, supporter, supported_at) VALUES (:id, :who, :at)"
            " ON CONFLICT DO NOTHING"
        ),
        {"id": proposal_id, "who": supporter, "at": at},
    )


async def decide_proposal(
    session: AsyncSession, proposal_id: UUID, status: str, at: datetime, *, goal_id: UUID | None, reason: str | None
) -> None:
    await session.execute(
        text(
            "UPDATE proposals SET status = :status, decided_at = :at, goal_id = :goal_id, decline_reason = :reason"
            " WHERE id = :id"
        ),
        {"id": proposal_id, "status": status, "at": at, "goal_id": goal_id, "reason": reason},
    )


# --- reviews -------------------------------------------------------------------------------------


async def insert_review(session: AsyncSession, review: dict[str, Any]) -> bool:
    """False when the goal already has a review for that quarter."""
    row = await session.execute(
        text(
            "INSERT INTO reviews (id, goal_id, quarter, assessment, decision, notes, measurements, cooperation,"
            " reviewed_by, reviewed_at) VALUES (:id, :goal_id, :quarter, :assessment, :decision, :notes,"
            " CAST(:measurements AS jsonb), CAST(:cooperation AS jsonb), :reviewed_by, :reviewed_at)"
            " ON CONFLICT (goal_id, quarter) DO NOTHING RETURNING id"
        ),
        {
            **review,
            "measurements": orjson.dumps(review["measurements"]).decode(),
            "cooperation": orjson.dumps(review["cooperation"]).decode(),
        },
    )
    return row.scalar() is not None


async def list_reviews(session: AsyncSession, goal_ids: Sequence[UUID]) -> list[dict[str, Any]]:
    rows = await session.execute(
        text(
            "SELECT id, goal_id, quarter, assessment, decision, notes, measurements, cooperation, reviewed_at"
            " FROM reviews WHERE goal_id = ANY(:ids) ORDER BY goal_id, quarter"
        ),
        {"ids": list(goal_ids)},
    )
    return [dict(r) for r in rows.mappings()]


# --- reviews due ---------------------------------------------------------------------------------


async def claim_reviews_due(session: AsyncSession, quarter: Quarter, limit: int) -> list[Goal]:
    """Active goals of the quarter's year, set before it ended, not yet told it is due: claimed now.

    The (goal, quarter) row is inserted in the caller's transaction with the outbox row; a second
    instance racing on the same goal blocks on the key and then inserts nothing.
    """
    rows = await session.execute(
        text(
            "INSERT INTO reviews_due (goal_id, quarter)"
            " SELECT id, :quarter FROM goals WHERE status = 'active' AND year = :year AND created_at < :ended"
            " AND NOT EXISTS (SELECT 1 FROM reviews_due d WHERE d.goal_id = goals.id AND d.quarter = :quarter)"
            " ORDER BY id LIMIT :limit ON CONFLICT DO NOTHING RETURNING goal_id"
        ),
        {"quarter": str(quarter), "year": quarter.year, "ended": quarter.ends_at, "limit": limit},
    )
    ids = [r.goal_id for r in rows]
    goals = []
    for goal_id in ids:
        goal = await get_goal(session, goal_id)
        if goal is not None:
            goals.append(goal)
    return goals
