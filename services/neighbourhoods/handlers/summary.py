"""The residents' view of their quarter: the initiatives and messages of an area (a WK with its BUs);
the gateway adds the counts from goals."""

from __future__ import annotations

from dataclasses import dataclass

from services.neighbourhoods import permissions
from services.neighbourhoods.domain.areas import AreaInfo, check_area
from services.neighbourhoods.domain.messages import Message
from services.neighbourhoods.domain.quarters import QUARTER_RULE, Quarter
from services.neighbourhoods.handlers.initiatives import Seen
from services.neighbourhoods.store import areas as area_store
from services.neighbourhoods.store.initiatives import InitiativeFilter, Initiatives
from services.neighbourhoods.store.messages import MessageFilter, Messages
from shared.auth import Principal
from shared.db import UnitOfWork
from shared.errors import FieldErrors

MAX_MESSAGES = 200


@dataclass(frozen=True)
class Summary:
    area: AreaInfo
    quarter: Quarter
    initiatives: list[Seen]
    messages: list[Message]


async def summarise(uow: UnitOfWork, area: str | None, quarter: str | None, principal: Principal, me: str) -> Summary:
    """Initiatives active or done at some time in the quarter; messages posted in it (not withdrawn)."""
    permissions.require(principal, "read")
    errors = FieldErrors()
    code = check_area(errors, "area", area)
    parsed = Quarter.parse(quarter or "")
    if parsed is None:
        errors.add("quarter", QUARTER_RULE)
    errors.raise_if_any()
    assert parsed is not None
    municipality = AreaInfo.of(code).municipality
    permissions.may_read(principal, municipality)
    store = Initiatives(uow)
    initiatives = await store.find(
        InitiativeFilter([municipality], area=code, active_in=(parsed.starts_at, parsed.ends_at))
    )
    joined = await store.joined_by([i.id for i in initiatives], me)
    messages, _, _ = await Messages(uow).find(
        MessageFilter(
            [municipality],
            area=code,
            posted_from=parsed.starts_at,
            posted_before=parsed.ends_at,
            withdrawn=False,
        ),
        MAX_MESSAGES,
        None,
    )
    return Summary(
        area=await area_store.describe(uow.session, code),
        quarter=parsed,
        initiatives=[Seen(i, i.leader == me or i.id in joined) for i in initiatives],
        messages=messages,
    )
