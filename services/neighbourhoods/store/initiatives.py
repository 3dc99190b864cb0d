"""Initiatives, their participants (pseudonyms: counted, never listed) and pledges, within one unit
of work."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson
from sqlalchemy import RowMapping, text

from services.neighbourhoods.domain.initiatives import Ask, Initiative, Pledge
from shared.db import UnitOfWork
from shared.events.codes import InitiativeKind, InitiativeStatus, SupportKind
from shared.pagination import Keyset

_SELECT = (
    "SELECT i.id, i.municipality, i.area, i.title, i.description, i.kind, i.status, i.starts_at, i.ends_at,"
    " i.place, i.asks, i.goal_id, i.leader, i.group_id, i.created_at, i.outcome, i.stop_reason, i.ended_at,"
    " i.contact IS NOT NULL AS has_contact, i.version,"
    " 1 + (SELECT count(*) FROM participants p WHERE p.initiative_id = i.id AND p.resident <> i.leader)"
    " AS participant_count"
    " FROM initiatives i"
)
MAX_LISTED = 500


@dataclass(frozen=True)
class InitiativeFilter:
    municipalities: Sequence[str] | None  # None: every one
    area: str | None = None  # it and what lies in it
    statuses: Sequence[InitiativeStatus] | None = None
    ids: Sequence[UUID] | None = None
    active_in: tuple[datetime, datetime] | None = None  # active or done at some time in [from, until)


def _where(f: InitiativeFilter) -> tuple[str, dict[str, Any]]:
    conditions = ["true"]
    params: dict[str, Any] = {}
    if f.municipalities is not None:
        conditions.append("i.municipality = ANY(:municipalities)")
        params["municipalities"] = list(f.municipalities)
    if f.area is not None:
        conditions.append("substr(i.area, 3) LIKE :lying_in")
        params["lying_in"] = f.area[2:] + "%"
    if f.statuses is not None:
        conditions.append("i.status = ANY(:statuses)")
        params["statuses"] = [s.value for s in f.statuses]
    if f.ids is not None:
        conditions.append("i.id = ANY(:ids)")
        params["ids"] = list(f.ids)
    if f.active_in is not None:
        conditions.append(
            "i.status IN ('active', 'done') AND i.created_at < :until AND (i.ended_at IS NULL OR i.ended_at >= :since)"
        )
        params.update(since=f.active_in[0], until=f.active_in[1])
    return " AND ".join(conditions), params


def _initiative(row: RowMapping, pledges: list[Pledge]) -> Initiative:
    values = dict(row)
    asks = values.pop("asks")
    if isinstance(asks, str):
        asks = orjson.loads(asks)
    return Initiative(
        **values
        | {
            "kind": InitiativeKind(values["kind"]),
            "status": InitiativeStatus(values["status"]),
            "asks": [Ask(SupportKind(a["kind"]), a.get("note")) for a in asks],
            "pledges": pledges,
        }
    )


class Initiatives:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.session = uow.session

    async def get(self, initiative_id: UUID, *, for_update: bool = False) -> Initiative | None:
        if for_update:
            lock = text("SELECT 1 FROM initiatives WHERE id = :id FOR UPDATE")
            await self.session.execute(lock, {"id": initiative_id})
        found = await self._load(f"{_SELECT} WHERE i.id = :id", {"id": initiative_id})
        if not found:
            return None
        self.uow.track(found[0])
        return found[0]

    async def _load(self, sql: str, params: dict[str, Any]) -> list[Initiative]:
        rows = list((await self.session.execute(text(sql), params)).mappings())
        pledges = await self._pledges([r["id"] for r in rows])
        return [_initiative(r, pledges.get(r["id"], [])) for r in rows]

    async def _pledges(self, ids: Sequence[UUID]) -> dict[UUID, list[Pledge]]:
        if not ids:
            return {}
        rows = await self.session.execute(
            text(
                "SELECT id, initiative_id, partner_id, kind, note, pledged_at FROM pledges"
                " WHERE initiative_id = ANY(:ids) ORDER BY pledged_at, id"
            ),
            {"ids": list(ids)},
        )
        found: dict[UUID, list[Pledge]] = {}
        for r in rows:
            found.setdefault(r.initiative_id, []).append(
                Pledge(r.id, r.partner_id, SupportKind(r.kind), r.note, r.pledged_at)
            )
        return found

    async def add(self, i: Initiative, contact: bytes | None) -> None:
        await self.session.execute(
            text(
                "INSERT INTO initiatives (id, municipality, area, title, description, kind, status, starts_at,"
                " ends_at, place, asks, goal_id, leader, group_id, contact, created_at, version)"
                " VALUES (:id, :municipality, :area, :title, :description, :kind, :status, :starts_at, :ends_at,"
                " :place, CAST(:asks AS jsonb), :goal_id, :leader, :group_id, :contact, :created_at, :version)"
            ),
            {
                "id": i.id,
                "municipality": i.municipality,
                "area": i.area,
                "title": i.title,
                "description": i.description,
                "kind": i.kind.value,
                "status": i.status.value,
                "starts_at": i.starts_at,
                "ends_at": i.ends_at,
                "place": i.place,
                "asks": orjson.dumps([a.as_json() for a in i.asks]).decode(),
                "goal_id": i.goal_id,
                "leader": i.leader,
                "group_id": i.group_id,
                "contact": contact,
                "created_at": i.created_at,
                "version": i.version,
            },
        )
        self.uow.track(i)

    async def save(self, i: Initiative) -> None:
        await self.session.execute(
            text(
                "UPDATE initiatives SET status = :status, outcome = :outcome, stop_reason = :reason,"
                " ended_at = :ended_at, version = :version WHERE id = :id"
            ),
            {
                "id": i.id,
                "status": i.status.value,
                "outcome": i.outcome,
                "reason": i.stop_reason,
                "ended_at": i.ended_at,
                "version": i.version,
            },
        )

    async def add_pledge(self, initiative_id: UUID, pledge: Pledge, by: str) -> None:
        await self.session.execute(
            text(
                "INSERT INTO pledges (id, initiative_id, partner_id, kind, note, pledged_by, pledged_at)"
                " VALUES (:id, :initiative, :partner, :kind, :note, :by, :at)"
            ),
            {
                "id": pledge.id,
                "initiative": initiative_id,
                "partner": pledge.partner_id,
                "kind": pledge.kind.value,
                "note": pledge.note,
                "by": by,
                "at": pledge.at,
            },
        )

    async def participates(self, initiative_id: UUID, resident: str) -> bool:
        found = await self.session.execute(
            text("SELECT 1 FROM participants WHERE initiative_id = :id AND resident = :r"),
            {"id": initiative_id, "r": resident},
        )
        return found.scalar() is not None

    async def joined_by(self, ids: Sequence[UUID], resident: str) -> set[UUID]:
        rows = await self.session.execute(
            text("SELECT initiative_id FROM participants WHERE initiative_id = ANY(:ids) AND resident = :r"),
            {"ids": list(ids), "r": resident},
        )
        return {r.initiative_id for r in rows}

    async def add_participant(self, initiative_id: UUID, resident: str, at: datetime) -> None:
        await self.session.execute(
            text("INSERT INTO participants (initiative_id, resident, joined_at) VALUES (:id, :r, :at)"),
            {"id": initiative_id, "r": resident, "at": at},
        )

    async def remove_participant(self, initiative_id: UUID, resident: str) -> None:
        await self.session.execute(
            text("DELETE FROM participants WHERE initiative_id = :id AND resident = :r"),
            {"id": initiative_id, "r": resident},
        )

    async def find(self, f: InitiativeFilter) -> list[Initiative]:
        """Newest first, at most MAX_LISTED."""
        where, params = _where(f)
        params["limit"] = MAX_LISTED
        return await self._load(f"{_SELECT} WHERE {where} ORDER BY i.created_at DESC, i.id DESC LIMIT :limit", params)

    async def page(self, f: InitiativeFilter, limit: int, after: Keyset | None) -> tuple[list[Initiative], int, bool]:
        """Newest first: a page, the count of all, and whether more follow the page."""
        where, params = _where(f)
        total = (await self.session.execute(text(f"SELECT count(*) FROM initiatives i WHERE {where}"), params)).scalar()
        if after is not None:
            where += " AND (i.created_at, i.id) < (:after_at, :after_id)"
            params.update(after_at=after[0], after_id=after[1])
        params["limit"] = limit + 1
        found = await self._load(f"{_SELECT} WHERE {where} ORDER BY i.created_at DESC, i.id DESC LIMIT :limit", params)
        return found[:limit], int(total or 0), len(found) > limit

    async def sealed_contact(self, initiative_id: UUID) -> bytes | None:
        sql = text("SELECT contact FROM initiatives WHERE id = :id")
        found = await self.session.execute(sql, {"id": initiative_id})
        value = found.scalar()
        return bytes(value) if value is not None else None

    async def audit_contact_read(self, initiative_id: UUID, reader: str, found: bool) -> None:
        await self.session.execute(
            text("INSERT INTO contact_reads (initiative_id, reader, found) VALUES (:id, :reader, :found)"),
            {"id": initiative_id, "reader": reader, "found": found},
        )
