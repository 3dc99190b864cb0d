"""REST for the neighbourhood: parse, call a handler, shape the answer (camelCase JSON). One router
per concept, so the OpenAPI document groups them."""

from __future__ import annotations

import functools
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Header, Query
from pydantic import BaseModel

from services.neighbourhoods.bodies import InitiativeIn, MessageIn, OutcomeIn, PledgeIn, ReasonIn
from services.neighbourhoods.domain.initiatives import StartInput
from services.neighbourhoods.domain.messages import PostInput
from services.neighbourhoods.handlers import initiatives, messages, summary
from services.neighbourhoods.handlers import places as handlers
from services.neighbourhoods.views import area_json, initiative_json, message_json
from shared.auth import CurrentPrincipal, Principal
from shared.crypto import SecretBox, resident_ref
from shared.errors import FieldErrors, NotFound, ValidationFailed
from shared.http import JSONBody
from shared.idempotency import Once, request_hash
from shared.pagination import Keyset, decode_keyset, listing, page_size, parse_ids
from shared.runtime import RuntimeDep, ServiceRuntime

area_router = APIRouter(prefix="/v1", tags=["areas"])
resident_router = APIRouter(prefix="/v1", tags=["residents"])
message_router = APIRouter(prefix="/v1", tags=["messages"])
initiative_router = APIRouter(prefix="/v1", tags=["initiatives"])
summary_router = APIRouter(prefix="/v1", tags=["summary"])
routers = [area_router, resident_router, message_router, initiative_router, summary_router]


@functools.cache
def _secret_box(key_material: str) -> SecretBox:
    return SecretBox(key_material)


def _box(runtime: ServiceRuntime) -> SecretBox:
    """Leaders' contacts are sealed with the service's SECRETS_KEY (raises when none is configured)."""
    return _secret_box(runtime.settings.secrets_key)


def _me(runtime: ServiceRuntime, principal: Principal) -> str:
    """The caller as this service knows residents: a keyed pseudonym of their subject."""
    return resident_ref(runtime.settings.resident_ref_key, principal.sub)


def _all(results: list[dict[str, Any]]) -> JSONBody:
    """A list that is never paged, in the shape of every list (`shared.pagination.listing`)."""
    return JSONBody(listing(results, len(results), None))


@area_router.get("/areas/{code}", summary="An area: any well-formed CBS code of the caller's municipalities")
async def get_area(code: str, principal: CurrentPrincipal, runtime: RuntimeDep) -> JSONBody:
    async with runtime.uow() as uow:
        area = await handlers.read_area(uow, code, principal)
    return JSONBody(area_json(area))


@area_router.get("/areas", summary="The loaded areas of a municipality (children of `parent` when given)")
async def list_areas(
    principal: CurrentPrincipal, runtime: RuntimeDep, municipality: str | None = None, parent: str | None = None
) -> JSONBody:
    async with runtime.uow() as uow:
        found = await handlers.list_areas(uow, handlers.ListAreas(municipality, parent), principal)
    return _all([area_json(a) for a in found])


@area_router.get("/area-at", summary="The loaded neighbourhood (BU) containing a point; null without boundaries")
async def area_at(
    principal: CurrentPrincipal, runtime: RuntimeDep, lat: float | None = None, lon: float | None = None
) -> JSONBody:
    async with runtime.uow() as uow:
        area = await handlers.locate(uow, handlers.Locate(lat, lon), principal)
    return JSONBody({"area": area_json(area) if area else None})


# --- where residents live ------------------------------------------------------------------------


@resident_router.get("/me/neighbourhoods", summary="The neighbourhoods the caller lives in")
async def my_neighbourhoods(principal: CurrentPrincipal, runtime: RuntimeDep) -> JSONBody:
    async with runtime.uow() as uow:
        found = await handlers.my_neighbourhoods(uow, _me(runtime, principal))
    return _all([area_json(a) for a in found])


@resident_router.put(
    "/me/neighbourhoods/{code}",
    summary="Name a neighbourhood (BU) the caller lives in (residents; idempotent; at most 3, a 4th is 409)",
)
async def join_neighbourhood(code: str, principal: CurrentPrincipal, runtime: RuntimeDep) -> JSONBody:
    async with runtime.uow() as uow:
        cmd = handlers.LiveIn(_me(runtime, principal), code)
        area = await handlers.join_neighbourhood(uow, cmd, principal, runtime.clock)
    return JSONBody(area_json(area))


@resident_router.delete("/me/neighbourhoods/{code}", summary="No longer name a neighbourhood (residents)")
async def leave_neighbourhood(code: str, principal: CurrentPrincipal, runtime: RuntimeDep) -> JSONBody:
    async with runtime.uow() as uow:
        cmd = handlers.LiveIn(_me(runtime, principal), code)
        left = await handlers.leave_neighbourhood(uow, cmd, principal, runtime.clock)
    return JSONBody({"left": left})


# --- messages ------------------------------------------------------------------------------------

IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]


def _once(key: str | None, body: BaseModel) -> Once:
    return Once(key, request_hash(body.model_dump(mode="json")))


def _id(value: str) -> UUID:
    try:
        return UUID(value)
    except ValueError:
        raise NotFound() from None


def _paging(first: int, after: str | None, ids: str | None) -> tuple[int, Keyset | None, list[UUID] | None]:
    """`first`, `after` and `ids` read with the shared helpers, every invalid one reported at once."""
    errors = FieldErrors()
    wanted = parse_ids(ids, errors)
    size, cursor = first, None
    try:
        size = page_size(first)
    except ValidationFailed as exc:
        errors.items.extend(exc.fields)
    try:
        cursor = decode_keyset(after)
    except ValidationFailed as exc:
        errors.items.extend(exc.fields)
    errors.raise_if_any()
    return size, cursor, wanted


@message_router.post("/messages", status_code=201, summary="Post a message to a neighbourhood or district")
async def post_message(
    body: MessageIn, principal: CurrentPrincipal, runtime: RuntimeDep, key: IdempotencyKey = None
) -> JSONBody:
    given = PostInput(body.area, body.kind, body.title, body.body, body.valid_until, body.partner_id)
    async with runtime.uow() as uow:
        cmd = messages.PostMessage(given, _once(key, body))
        created = await messages.post_message(uow, cmd, principal, runtime.clock)
    return JSONBody(created.body, status_code=created.status)


@message_router.get("/messages/{message_id}", summary="A message (also when withdrawn or expired)")
async def get_message(message_id: str, principal: CurrentPrincipal, runtime: RuntimeDep) -> JSONBody:
    async with runtime.uow() as uow:
        message = await messages.read_message(uow, _id(message_id), principal)
    return JSONBody(message_json(message))


@message_router.post("/messages/{message_id}/withdraw", summary="Withdraw a message (who posted it, or a coordinator)")
async def withdraw_message(message_id: str, principal: CurrentPrincipal, runtime: RuntimeDep) -> JSONBody:
    async with runtime.uow() as uow:
        message = await messages.withdraw_message(uow, _id(message_id), principal, runtime.clock)
    return JSONBody(message_json(message))


@message_router.get(
    "/messages",
    summary="An area's messages, newest first (a WK with its BUs, a BU with its WK's and GM's); withdrawn and"
    " expired ones left out",
)
async def list_messages(
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    area: str | None = None,
    first: int = 50,
    after: str | None = None,
    ids: Annotated[str | None, Query(description="comma-separated message ids (batch read)")] = None,
) -> JSONBody:
    size, cursor, wanted = _paging(first, after, ids)
    q = messages.ListMessages(area, wanted, size, cursor)
    async with runtime.uow() as uow:
        found, total, more = await messages.list_messages(uow, q, principal, runtime.clock)
    last = (found[-1].posted_at, found[-1].id) if found and more else None
    return JSONBody(listing([message_json(m) for m in found], total, last))


# --- initiatives ---------------------------------------------------------------------------------


def _initiative(seen: initiatives.Seen, me: str) -> dict[str, Any]:
    return initiative_json(seen.initiative, me=me, joined_by_me=seen.joined_by_me)


@initiative_router.post("/initiatives", status_code=201, summary="Start an initiative (residents, group admins)")
async def start_initiative(
    body: InitiativeIn, principal: CurrentPrincipal, runtime: RuntimeDep, key: IdempotencyKey = None
) -> JSONBody:
    given = StartInput(
        municipality=body.municipality,
        area=body.area,
        title=body.title,
        description=body.description,
        kind=body.kind,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        place=body.place,
        asks=[(a.kind, a.note) for a in body.asks or []],
        goal_id=body.goal_id,
        contact_email=body.contact_email,
    )
    box = _box(runtime) if body.contact_email else None
    cmd = initiatives.StartInitiative(given, _me(runtime, principal), _once(key, body))
    async with runtime.uow() as uow:
        created = await initiatives.start_initiative(uow, cmd, principal, runtime.clock, box=box)
    return JSONBody(created.body, status_code=created.status)


@initiative_router.get("/initiatives/{initiative_id}", summary="An initiative")
async def get_initiative(initiative_id: str, principal: CurrentPrincipal, runtime: RuntimeDep) -> JSONBody:
    me = _me(runtime, principal)
    async with runtime.uow() as uow:
        seen = await initiatives.read_initiative(uow, _id(initiative_id), principal, me)
    return JSONBody(_initiative(seen, me))


@initiative_router.get("/initiatives", summary="An area's initiatives, newest first (a WK with its BUs)")
async def list_initiatives(
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    area: str | None = None,
    status: Annotated[str | None, Query(description="comma-separated: active, done, stopped")] = None,
    first: int = 50,
    after: str | None = None,
    ids: Annotated[str | None, Query(description="comma-separated initiative ids (batch read)")] = None,
) -> JSONBody:
    me = _me(runtime, principal)
    statuses = [s.strip() for s in status.split(",") if s.strip()] if status is not None else None
    size, cursor, wanted = _paging(first, after, ids)
    q = initiatives.ListInitiatives(area, statuses, wanted, size, cursor)
    async with runtime.uow() as uow:
        found, total, more = await initiatives.list_initiatives(uow, q, principal, me)
    last = (found[-1].initiative.created_at, found[-1].initiative.id) if found and more else None
    return JSONBody(listing([_initiative(s, me) for s in found], total, last))


@initiative_router.post("/initiatives/{initiative_id}/join", summary="Join an initiative (residents; idempotent)")
async def join_initiative(initiative_id: str, principal: CurrentPrincipal, runtime: RuntimeDep) -> JSONBody:
    me = _me(runtime, principal)
    async with runtime.uow() as uow:
        cmd = initiatives.Participation(_id(initiative_id), me)
        seen = await initiatives.join_initiative(uow, cmd, principal, runtime.clock)
    return JSONBody(_initiative(seen, me))


@initiative_router.post("/initiatives/{initiative_id}/leave", summary="Leave an initiative (residents; idempotent)")
async def leave_initiative(initiative_id: str, principal: CurrentPrincipal, runtime: RuntimeDep) -> JSONBody:
    me = _me(runtime, principal)
    async with runtime.uow() as uow:
        cmd = initiatives.Participation(_id(initiative_id), me)
        seen = await initiatives.leave_initiative(uow, cmd, principal, runtime.clock)
    return JSONBody(_initiative(seen, me))


@initiative_router.post("/initiatives/{initiative_id}/pledges", summary="Pledge support (a partner covering the area)")
async def pledge_support(
    initiative_id: str, body: PledgeIn, principal: CurrentPrincipal, runtime: RuntimeDep
) -> JSONBody:
    me = _me(runtime, principal)
    cmd = initiatives.PledgeSupport(_id(initiative_id), body.kind, body.note, body.partner_id, me)
    async with runtime.uow() as uow:
        seen = await initiatives.pledge_support(uow, cmd, principal, runtime.clock)
    return JSONBody(_initiative(seen, me))


@initiative_router.post("/initiatives/{initiative_id}/complete", summary="Complete it (its leader or a coordinator)")
async def complete_initiative(
    initiative_id: str, body: OutcomeIn, principal: CurrentPrincipal, runtime: RuntimeDep
) -> JSONBody:
    me = _me(runtime, principal)
    async with runtime.uow() as uow:
        cmd = initiatives.EndInitiative(_id(initiative_id), body.outcome, me)
        seen = await initiatives.complete_initiative(uow, cmd, principal, runtime.clock)
    return JSONBody(_initiative(seen, me))


@initiative_router.post("/initiatives/{initiative_id}/stop", summary="Stop it (its leader or a coordinator)")
async def stop_initiative(
    initiative_id: str, body: ReasonIn, principal: CurrentPrincipal, runtime: RuntimeDep
) -> JSONBody:
    me = _me(runtime, principal)
    async with runtime.uow() as uow:
        cmd = initiatives.EndInitiative(_id(initiative_id), body.reason, me)
        seen = await initiatives.stop_initiative(uow, cmd, principal, runtime.clock)
    return JSONBody(_initiative(seen, me))


@initiative_router.get(
    "/initiatives/{initiative_id}/leader-contact",
    summary="The leader's e-mail address (the notifications service alone; audited)",
)
async def leader_contact(initiative_id: str, principal: CurrentPrincipal, runtime: RuntimeDep) -> JSONBody:
    box = _box(runtime) if runtime.settings.secrets_key else None
    async with runtime.uow() as uow:
        email = await initiatives.read_leader_contact(uow, _id(initiative_id), principal, box)
    return JSONBody({"email": email})


# --- the quarter ---------------------------------------------------------------------------------


@summary_router.get("/summary", summary="An area's initiatives and messages of a quarter (a WK with its BUs)")
async def neighbourhood_summary(
    principal: CurrentPrincipal, runtime: RuntimeDep, area: str | None = None, quarter: str | None = None
) -> JSONBody:
    me = _me(runtime, principal)
    async with runtime.uow() as uow:
        found = await summary.summarise(uow, area, quarter, principal, me)
    return JSONBody(
        {
            "area": area_json(found.area),
            "quarter": str(found.quarter),
            "initiatives": [_initiative(s, me) for s in found.initiatives],
            "messages": [message_json(m) for m in found.messages],
        }
    )
