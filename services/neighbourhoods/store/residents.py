"""Residents' memberships of neighbourhoods, within one unit of work."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text

from services.neighbourhoods.domain.residents import Residence
from shared import areas
from shared.db import UnitOfWork


class Residences:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.session = uow.session

    async def get(self, resident: str, *, for_update: bool = False) -> Residence:
        """The resident's memberships (none yet: an empty residence); locked for a change."""
        if for_update:
            await self.session.execute(
                text("INSERT INTO residents (resident) VALUES (:r) ON CONFLICT DO NOTHING"), {"r": resident}
            )
        lock = " FOR UPDATE" if for_update else ""
        sql = text(f"SELECT version FROM residents WHERE resident = :r{lock}")
        version = (await self.session.execute(sql, {"r": resident})).scalar()
        rows = await self.session.execute(
            text("SELECT area FROM memberships WHERE resident = :r ORDER BY joined_at, area"), {"r": resident}
        )
        residence = Residence(resident, [r.area for r in rows], version or 0)
        self.uow.track(residence)
        return residence

    async def save(self, residence: Residence, at: datetime) -> None:
        await self.session.execute(
            text("UPDATE residents SET version = :v WHERE resident = :r"),
            {"v": residence.version, "r": residence.resident},
        )
        await self.session.execute(
            text("DELETE FROM memberships WHERE resident = :r AND NOT area = ANY(:areas)"),
            {"r": residence.resident, "areas": residence.areas},
        )
        for area in residence.areas:
            await self.session.execute(
                text(
                    "INSERT INTO memberships (resident, area, municipality, joined_at)"
                    " VALUES (:r, :area, :m, :at) ON CONFLICT DO NOTHING"
                ),
                {"r": residence.resident, "area": area, "m": areas.parse(area).municipality, "at": at},
            )
