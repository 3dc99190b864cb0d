"""Messages, within one unit of work; lists newest first, keyset-paged."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import RowMapping, text

from services.neighbourhoods.domain.coverage import shown_in
from services.neighbourhoods.domain.messages import Message
from shared.db import UnitOfWork
from shared.events.codes import MessageKind
from shared.pagination import Keyset

_COLUMNS = (
    "id, municipality, area, kind, title, body, partner_id, posted_by, posted_at, valid_until, withdrawn_at, version"
)


def _message(row: RowMapping) -> Message:
    values = dict(row)
    values["kind"] = MessageKind(values["kind"])
    return Message(**values)


@dataclass(frozen=True)
class MessageFilter:
    municipalities: Sequence[str] | None  # None: every one
    area: str | None = None
    ids: Sequence[UUID] | None = None
    shown_at: datetime | None = None  # leave out withdrawn and expired ones
    posted_from: datetime | None = None
    posted_before: datetime | None = None
    withdrawn: bool | None = None  # False: leave out withdrawn ones


def _where(f: MessageFilter) -> tuple[str, dict[str, Any]]:
    conditions = ["true"]
    params: dict[str, Any] = {}
    if f.municipalities is not None:
        conditions.append("municipality = ANY(:municipalities)")
        params["municipalities"] = list(f.municipalities)
    if f.area is not None:
        enclosing, lying_in = shown_in(f.area)
        conditions.append("(area = ANY(:enclosing) OR substr(area, 3) LIKE :lying_in)")
        params.update(enclosing=enclosing, lying_in=lying_in)
    if f.ids is not None:
        conditions.append("id = ANY(:ids)")
        params["ids"] = list(f.ids)
    if f.shown_at is not None:
        conditions.append("withdrawn_at IS NULL AND (valid_until IS NULL OR valid_until >= :now)")
        params["now"] = f.shown_at
    if f.withdrawn is False:
        conditions.append("withdrawn_at IS NULL")
    if f.posted_from is not None:
        conditions.append("posted_at >= :posted_from")
        params["posted_from"] = f.posted_from
    if f.posted_before is not None:
        conditions.append("posted_at < :posted_before")
        params["posted_before"] = f.posted_before
    return " AND ".join(conditions), params


class Messages:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.session = uow.session

    async def get(self, message_id: UUID, *, for_update: bool = False) -> Message | None:
        lock = " FOR UPDATE" if for_update else ""
        sql = text(f"SELECT {_COLUMNS} FROM messages WHERE id = :id{lock}")
        row = (await self.session.execute(sql, {"id": message_id})).mappings().first()
        if row is None:
            return None
        message = _message(row)
        self.uow.track(message)
        return message

    async def add(self, m: Message) -> None:
        await self.session.execute(
            text(
                f"INSERT INTO messages ({_COLUMNS}) VALUES (:id, :municipality, :area, :kind, :title, :body,"
                " :partner_id, :posted_by, :posted_at, :valid_until, :withdrawn_at, :version)"
            ),
            {c: getattr(m, c) for c in _COLUMNS.split(", ")} | {"kind": m.kind.value},
        )
        self.uow.track(m)

    async def save(self, m: Message) -> None:
        await self.session.execute(
            text("UPDATE messages SET withdrawn_at = :at, version = :version WHERE id = :id"),
            {"at": m.withdrawn_at, "version": m.version, "id": m.id},
        )

    async def find(self, f: MessageFilter, limit: int, after: Keyset | None) -> tuple[list[Message], int, bool]:
        """Newest first: a page, the count of all, and whether more follow the page."""
        where, params = _where(f)
        total = (await self.session.execute(text(f"SELECT count(*) FROM messages WHERE {where}"), params)).scalar()
        if after is not None:
            where += " AND (posted_at, id) < (:after_at, :after_id)"
            params.update(after_at=after[0], after_id=after[1])
        rows = await self.session.execute(
            text(f"SELECT {_COLUMNS} FROM messages WHERE {where} ORDER BY posted_at DESC, id DESC LIMIT :limit"),
            {**params, "limit": limit + 1},
        )
        found = [_message(r) for r in rows.mappings()]
        return found[:limit], int(total or 0), len(found) > limit
