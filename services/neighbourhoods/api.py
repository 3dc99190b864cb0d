"""REST for the neighbourhood: parse, call a handler, shape the answer (camelCase JSON). One router
per concept, so the OpenAPI document groups them."""

from __future__ import annotations

from fastapi import APIRouter

from services.neighbourhoods import handlers
from services.neighbourhoods.views import area_json
from shared.auth import CurrentPrincipal, Principal
from shared.crypto import resident_ref
from shared.http import JSONBody
from shared.runtime import RuntimeDep, ServiceRuntime

area_router = APIRouter(prefix="/v1", tags=["areas"])
resident_router = APIRouter(prefix="/v1", tags=["residents"])
routers = [area_router, resident_router]


def _me(runtime: ServiceRuntime, principal: Principal) -> str:
    """The caller as this service knows residents: a keyed pseudonym of their subject."""
    return resident_ref(runtime.settings.resident_ref_key, principal.sub)


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
    return JSONBody({"items": [area_json(a) for a in found]})


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
    return JSONBody({"items": [area_json(a) for a in found]})


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
