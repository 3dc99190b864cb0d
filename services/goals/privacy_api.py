"""`GET /v1/me/data`, `DELETE /v1/me`: goals' part of the AVG self-service (services/goals/privacy.py)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from services.goals import privacy
from shared.auth import CurrentPrincipal
from shared.runtime import RuntimeDep

router = APIRouter(tags=["privacy"])


@router.get("/v1/me/data", summary="Everything goals holds about the caller (AVG access)")
async def me_data(principal: CurrentPrincipal, runtime: RuntimeDep) -> dict[str, Any]:
    """The caller's own data here, as JSON (any person's token); the gateway joins every service's."""
    async with runtime.uow() as uow:
        return await privacy.me_data(uow, principal, runtime.clock)


@router.delete("/v1/me", status_code=202, summary="Erase the caller's data in goals (AVG erasure)")
async def erase_me(principal: CurrentPrincipal, runtime: RuntimeDep) -> JSONResponse:
    """Erasure (CONTRACT.md Rule 16): resident and group admin tokens signed in at most 5 minutes ago."""
    async with runtime.uow() as uow:
        erased = await privacy.erase_me(uow, principal, runtime.clock)
    return JSONResponse(erased, status_code=202)
