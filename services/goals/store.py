"""Tables of the goals schema (migrations/) and the repositories of goals and proposals.

`GoalStore` and `ProposalStore` work within one unit of work and track every aggregate they load
or add, so the events those raise are written to the outbox when the unit of work commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson
from sqlalchemy import RowMapping, text

from services.goals.domain import Goal, Indicator, Proposal, Quarter, Review
from shared.db import UnitOfWork, lock_key
from shared.events.codes import Category, GoalStatus
from shared.pagination import Keyset

# --- goals ---------------------------------------------------------------------------------------

GOAL_COLUMNS = (
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


@dataclass(frozen=True)
class GoalFilter:
    municipalities: Sequence[str]
    partner_id: UUID | None = None
    area: str | None = None
    year: int | None = None
    status: str | None = None
    ids: Sequence[UUID] | None = None


class GoalStore:
    """The goals, their reviews and the reviews due, within one unit of work."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.session = uow.session

    def _tracked(self, row: RowMapping) -> Goal:
        goal = goal_from_row(row)
        self.uow.track(goal)
        return goal

    async def get(self, goal_id: UUID, *, for_update: bool = False) -> Goal | None:
        lock = " FOR UPDATE" if for_update else ""
        sql = text(f"SELECT {GOAL_COLUMNS} FROM goals WHERE id = :id{lock}")
        row = (await self.session.execute(sql, {"id": goal_id})).mappings().first()
        return self._tracked(row) if row else None

    async def add(self, goal: Goal) -> None:
        await self.session.execute(
            text(
                f"INSERT INTO goals ({GOAL_COLUMNS}) VALUES (:id, :municipality, :area, :year, :title, :description,"
                " :theme, :categories, CAST(:indicators AS jsonb), :partner_ids, :status, :proposal_id, :version,"
                " :created_at, :updated_at)"
            ),
            _goal_params(goal),
        )
        self.uow.track(goal)

    async def save(self, goal: Goal) -> None:
        await self.session.execute(
            text(
                "UPDATE goals SET title = :title, description = :description, theme = :theme,"
                " categories = :categories, indicators = CAST(:indicators AS jsonb), partner_ids = :partner_ids,"
                " status = :status, version = :version, updated_at = :updated_at WHERE id = :id"
            ),
            _goal_params(goal),
        )

    async def lock_area_year(self, area: str, year: int) -> None:
        """Serialise the three-goal rule per (area, year) until this transaction ends."""
        await self.session.execute(
            text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock_key(f"goals:{area}:{year}")}
        )

    async def count_active(self, area: str, year: int, *, excluding: UUID | None = None) -> int:
        row = await self.session.execute(
            text(
                "SELECT count(*) FROM goals WHERE area = :area AND year = :year AND status = 'active'"
                " AND (CAST(:excluding AS uuid) IS NULL OR id <> :excluding)"
            ),
            {"area": area, "year": year, "excluding": excluding},
        )
        return int(row.scalar_one())

    async def find(self, where: GoalFilter, limit: int, after: Keyset | None) -> tuple[list[Goal], int]:
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
        total = (await self.session.execute(text(f"SELECT count(*) FROM goals WHERE {clause}"), params)).scalar_one()
        page = clause
        if after is not None:
            page += " AND (created_at, id) > (:after_at, :after_id)"
            params.update(after_at=after[0], after_id=after[1])
        rows = await self.session.execute(
            text(f"SELECT {GOAL_COLUMNS} FROM goals WHERE {page} ORDER BY created_at, id LIMIT :limit"),
            {**params, "limit": limit},
        )
        return [goal_from_row(r) for r in rows.mappings()], int(total)

    # --- reviews ---------------------------------------------------------------------------------

    async def add_review(self, review: Review) -> bool:
        """False when the goal already has a review for that quarter."""
        row = await self.session.execute(
            text(
                "INSERT INTO reviews (id, goal_id, quarter, assessment, decision, notes, measurements, cooperation,"
                " reviewed_by, reviewed_at) VALUES (:id, :goal_id, :quarter, :assessment, :decision, :notes,"
                " CAST(:measurements AS jsonb), CAST(:cooperation AS jsonb), :reviewed_by, :reviewed_at)"
                " ON CONFLICT (goal_id, quarter) DO NOTHING RETURNING id"
            ),
            {
                **review.__dict__,
                "measurements": orjson.dumps(review.measurements).decode(),
                "cooperation": orjson.dumps(review.cooperation).decode(),
            },
        )
        return row.scalar() is not None

    async def reviews(self, goal_ids: Sequence[UUID]) -> list[Review]:
        rows = await self.session.execute(
            text(
                "SELECT id, goal_id, quarter, assessment, decision, notes, measurements, cooperation, reviewed_at"
                " FROM reviews WHERE goal_id = ANY(:ids) ORDER BY goal_id, quarter"
            ),
            {"ids": list(goal_ids)},
        )
        return [Review(**r) for r in rows.mappings()]

    async def claim_reviews_due(self, quarter: Quarter, limit: int) -> list[Goal]:
        """Active goals of the quarter's year, set before it ended, not yet told it is due: claimed
        now, and locked so that the version their event takes is theirs alone.

        The (goal, quarter) row is inserted in the caller's transaction with the outbox row; a second
        instance racing on the same goal blocks on the key and then inserts nothing.
        """
        rows = await self.session.execute(
            text(
                "INSERT INTO reviews_due (goal_id, quarter)"
                " SELECT id, :quarter FROM goals WHERE status = 'active' AND year = :year AND created_at < :ended"
                " AND NOT EXISTS (SELECT 1 FROM reviews_due d WHERE d.goal_id = goals.id AND d.quarter = :quarter)"
                " ORDER BY id LIMIT :limit ON CONFLICT DO NOTHING RETURNING goal_id"
            ),
            {"quarter": str(quarter), "year": quarter.year, "ended": quarter.ends_at, "limit": limit},
        )
        ids = sorted(r.goal_id for r in rows)
        if not ids:
            return []
        locked = await self.session.execute(
            text(f"SELECT {GOAL_COLUMNS} FROM goals WHERE id = ANY(:ids) ORDER BY id FOR UPDATE"), {"ids": ids}
        )
        return [self._tracked(r) for r in locked.mappings()]


# --- proposals -----------------------------------------------------------------------------------

_PROPOSAL_SELECT = (
    "SELECT p.id, p.municipality, p.area, p.year, p.title, p.description, p.categories, p.proposer, p.group_id,"
    " p.status, p.decline_reason, p.goal_id, p.proposed_at,"
    " (SELECT count(*) FROM proposal_supports s WHERE s.proposal_id = p.id) AS support_count,"
    " (SELECT count(*) FROM proposal_supports s WHERE s.proposal_id = p.id AND s.supporter_ref IN"
    "   (SELECT r.resident FROM area_residents r WHERE r.joined AND (r.area = p.area OR r.district = p.area))"
    " ) AS support_from_area,"
    " EXISTS (SELECT 1 FROM proposal_supports s WHERE s.proposal_id = p.id AND s.supporter = :me) AS supported_by_me"
    " FROM proposals p"
)


def _proposal(row: RowMapping) -> Proposal:
    values: dict[str, Any] = dict(row)
    values["categories"] = list(values["categories"])
    return Proposal(**values)


class ProposalStore:
    """Residents' proposals and their support, within one unit of work; what `me` supports is
    read with each proposal."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.session = uow.session

    async def get(self, proposal_id: UUID, me: str, *, for_update: bool = False) -> Proposal | None:
        if for_update:
            await self.session.execute(text("SELECT 1 FROM proposals WHERE id = :id FOR UPDATE"), {"id": proposal_id})
        sql = text(f"{_PROPOSAL_SELECT} WHERE p.id = :id")
        row = (await self.session.execute(sql, {"id": proposal_id, "me": me})).mappings().first()
        if row is None:
            return None
        proposal = _proposal(row)
        self.uow.track(proposal)
        return proposal

    async def add(self, p: Proposal, contact_sealed: bytes | None = None) -> None:
        await self.session.execute(
            text(
                "INSERT INTO proposals (id, municipality, area, year, title, description, categories, proposer,"
                " group_id, status, proposed_at, contact_sealed) VALUES (:id, :municipality, :area, :year, :title,"
                " :description, :categories, :proposer, :group_id, 'open', :proposed_at, :contact)"
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
                "contact": contact_sealed,
            },
        )
        self.uow.track(p)

    async def contact(self, proposal_id: UUID) -> bytes | None:
        """The proposer's sealed address, if they left one."""
        row = await self.session.execute(
            text("SELECT contact_sealed FROM proposals WHERE id = :id"), {"id": proposal_id}
        )
        found = row.scalar()
        return bytes(found) if found is not None else None

    async def save(self, p: Proposal) -> None:
        """Its decision: adopted into a goal, or declined with a reason."""
        await self.session.execute(
            text(
                "UPDATE proposals SET status = :status, decided_at = :at, goal_id = :goal_id,"
                " decline_reason = :reason WHERE id = :id"
            ),
            {"id": p.id, "status": p.status, "at": p.decided_at, "goal_id": p.goal_id, "reason": p.decline_reason},
        )

    async def find(
        self,
        me: str,
        municipalities: Sequence[str],
        area: str | None,
        year: int | None,
        status: str | None,
        limit: int,
        after: Keyset | None,
    ) -> tuple[list[Proposal], int]:
        conditions = ["p.municipality = ANY(:municipalities)"]
        params: dict[str, Any] = {"municipalities": list(municipalities), "me": me}
        for name, value in (("area", area), ("year", year), ("status", status)):
            if value is not None:
                conditions.append(f"p.{name} = :{name}")
                params[name] = value
        clause = " AND ".join(conditions)
        count = text(f"SELECT count(*) FROM proposals p WHERE {clause}")
        total = (await self.session.execute(count, params)).scalar_one()
        if after is not None:
            clause += " AND (p.proposed_at, p.id) > (:after_at, :after_id)"
            params.update(after_at=after[0], after_id=after[1])
        rows = await self.session.execute(
            text(f"{_PROPOSAL_SELECT} WHERE {clause} ORDER BY p.proposed_at, p.id LIMIT :limit"),
            {**params, "limit": limit},
        )
        return [_proposal(r) for r in rows.mappings()], int(total)

    async def add_support(self, proposal_id: UUID, supporter: str, ref: str | None, at: datetime) -> None:
        """`ref`: the supporter's resident pseudonym, to count them where they live."""
        await self.session.execute(
            text(
                "INSERT INTO proposal_supports (proposal_id, supporter, supporter_ref, supported_at)"
                " VALUES (:id, :who, :ref, :at) ON CONFLICT DO NOTHING"
            ),
            {"id": proposal_id, "who": supporter, "ref": ref, "at": at},
        )
