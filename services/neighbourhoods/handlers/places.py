"""Use cases of areas and of where residents live."""

from __future__ import annotations

from dataclasses import dataclass

from services.neighbourhoods import permissions
from services.neighbourhoods.domain.areas import AreaInfo, check_area
from services.neighbourhoods.store import areas as area_store
from services.neighbourhoods.store.residents import Residences
from shared.areas import Level
from shared.auth import Principal
from shared.clock import Clock
from shared.db import UnitOfWork
from shared.errors import FieldErrors

# --- areas ---------------------------------------------------------------------------------------


async def read_area(uow: UnitOfWork, code: str, principal: Principal) -> AreaInfo:
    """Any well-formed code of the caller's municipalities; its name where one was loaded."""
    permissions.require(principal, "read")
    errors = FieldErrors()
    code = check_area(errors, "code", code)
    errors.raise_if_any()
    area = AreaInfo.of(code)
    permissions.may_read(principal, area.municipality)
    return await area_store.describe(uow.session, code)


@dataclass(frozen=True)
class ListAreas:
    municipality: str | None
    parent: str | None


async def list_areas(uow: UnitOfWork, q: ListAreas, principal: Principal) -> list[AreaInfo]:
    """The loaded areas of a municipality, or the children of a GM or WK in it."""
    permissions.require(principal, "read")
    errors = FieldErrors()
    municipality = check_area(errors, "municipality", q.municipality, levels=(Level.MUNICIPALITY,))
    parent = None
    if q.parent is not None:
        parent = check_area(errors, "parent", q.parent, levels=(Level.MUNICIPALITY, Level.DISTRICT))
        if parent and municipality and AreaInfo.of(parent).municipality != municipality:
            errors.add("parent", f"must lie in {municipality}")
    errors.raise_if_any()
    permissions.may_read(principal, municipality)
    return await area_store.loaded(uow.session, municipality, parent)


@dataclass(frozen=True)
class Locate:
    lat: float | None
    lon: float | None


async def locate(uow: UnitOfWork, q: Locate, principal: Principal) -> AreaInfo | None:
    """The loaded neighbourhood containing the point; None where no boundaries are loaded."""
    permissions.require(principal, "locate")
    errors = FieldErrors()
    if q.lat is None or not -90 <= q.lat <= 90:
        errors.add("lat", "must be a latitude between -90 and 90 (WGS84)")
    if q.lon is None or not -180 <= q.lon <= 180:
        errors.add("lon", "must be a longitude between -180 and 180 (WGS84)")
    errors.raise_if_any()
    assert q.lat is not None and q.lon is not None
    return await area_store.neighbourhood_at(uow.session, q.lat, q.lon)


# --- where residents live ------------------------------------------------------------------------


@dataclass(frozen=True)
class LiveIn:
    """A resident (their pseudonym) naming, or no longer naming, a neighbourhood."""

    resident: str
    area: str


async def my_neighbourhoods(uow: UnitOfWork, resident: str) -> list[AreaInfo]:
    residence = await Residences(uow).get(resident)
    described = await area_store.described(uow.session, residence.areas)
    return [described[a] for a in residence.areas]


def _neighbourhood(principal: Principal, code: str) -> str:
    """The BU a resident names: role first (403), then the code's form (400), then municipality (404)."""
    permissions.require(principal, "live_in")
    errors = FieldErrors()
    area = check_area(errors, "area", code, levels=(Level.NEIGHBOURHOOD,))
    errors.raise_if_any()
    permissions.require_in(principal, "live_in", AreaInfo.of(area).municipality)
    return area


async def join_neighbourhood(uow: UnitOfWork, cmd: LiveIn, principal: Principal, clock: Clock) -> AreaInfo:
    """Idempotent; a fourth neighbourhood is a conflict."""
    area = _neighbourhood(principal, cmd.area)
    residences = Residences(uow)
    residence = await residences.get(cmd.resident, for_update=True)
    now = clock.now()
    if residence.join(area, now):
        await residences.save(residence, now)
        await uow.commit()
    return await area_store.describe(uow.session, area)


async def leave_neighbourhood(uow: UnitOfWork, cmd: LiveIn, principal: Principal, clock: Clock) -> bool:
    area = _neighbourhood(principal, cmd.area)
    residences = Residences(uow)
    residence = await residences.get(cmd.resident, for_update=True)
    now = clock.now()
    left = residence.leave(area, now)
    if left:
        await residences.save(residence, now)
        await uow.commit()
    return left
