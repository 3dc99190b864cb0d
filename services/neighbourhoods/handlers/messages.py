"""Use cases of neighbourhood messages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from services.neighbourhoods import permissions
from services.neighbourhoods.domain.areas import AreaInfo, check_area
from services.neighbourhoods.domain.messages import Message, PostInput, check_post
from services.neighbourhoods.handlers.common import partner_acting_in
from services.neighbourhoods.store.messages import MessageFilter, Messages
from services.neighbourhoods.views import message_json
from shared.areas import parse_or_none
from shared.auth import Principal
from shared.clock import Clock
from shared.db import UnitOfWork
from shared.errors import FieldErrors, Forbidden, NotFound
from shared.idempotency import Created, Once, create_once
from shared.pagination import Keyset


@dataclass(frozen=True)
class PostMessage:
    input: PostInput
    once: Once


async def post_message(uow: UnitOfWork, cmd: PostMessage, principal: Principal, clock: Clock) -> Created:
    """Partner staff for their partner in areas it covers; coordinators for a partner of theirs or none."""
    permissions.require(principal, "post_message")
    now = clock.now()
    errors = FieldErrors()
    area = parse_or_none(cmd.input.area)
    if area is not None:
        permissions.require_in(principal, "post_message", area.municipality)  # 404 before 400
    checked = check_post(cmd.input, now, errors)
    errors.raise_if_any()
    assert checked is not None and area is not None
    partner_id = await partner_acting_in(
        uow, principal, area.municipality, checked.area, checked.partner_id, required=False
    )

    async def create() -> dict[str, object]:
        message = Message.post(checked, area.municipality, partner_id, principal.sub, now)
        await Messages(uow).add(message)
        return message_json(message)

    return await create_once(uow, cmd.once, f"messages:{principal.sub}", create)


async def _readable(uow: UnitOfWork, message_id: UUID, principal: Principal, *, for_update: bool = False) -> Message:
    message = await Messages(uow).get(message_id, for_update=for_update)
    if message is None:
        raise NotFound()
    permissions.may_read(principal, message.municipality)
    return message


async def read_message(uow: UnitOfWork, message_id: UUID, principal: Principal) -> Message:
    permissions.require(principal, "read")
    return await _readable(uow, message_id, principal)


async def withdraw_message(uow: UnitOfWork, message_id: UUID, principal: Principal, clock: Clock) -> Message:
    """Who posted it (or their partner's staff), or a coordinator; withdrawing again changes nothing."""
    permissions.require(principal, "withdraw_message")
    message = await _readable(uow, message_id, principal, for_update=True)
    poster = message.posted_by == principal.sub
    same_partner = message.partner_id is not None and permissions.acting_partner(principal) == message.partner_id
    if not (poster or same_partner or permissions.is_coordinator_of(principal, message.municipality)):
        raise Forbidden("only who posted a message, or a coordinator, withdraws it")
    if message.withdraw(clock.now()):
        await Messages(uow).save(message)
        await uow.commit()
    return message


@dataclass(frozen=True)
class ListMessages:
    area: str | None
    ids: Sequence[UUID] | None
    limit: int
    after: Keyset | None


async def list_messages(
    uow: UnitOfWork, q: ListMessages, principal: Principal, clock: Clock
) -> tuple[list[Message], int, bool]:
    """Newest first, withdrawn and expired ones left out; a WK shows its BUs, a BU its WK's and GM's."""
    permissions.require(principal, "read")
    errors = FieldErrors()
    area = None
    if q.area is not None or q.ids is None:
        area = check_area(errors, "area", q.area)
    errors.raise_if_any()
    municipalities = permissions.readable_municipalities(principal)
    if area:
        permissions.may_read(principal, AreaInfo.of(area).municipality)
    found = MessageFilter(municipalities, area=area or None, ids=q.ids, shown_at=clock.now())
    return await Messages(uow).find(found, q.limit, q.after)
