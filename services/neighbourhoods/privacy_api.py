"""`GET /v1/me/data`, `DELETE /v1/me`: neighbourhoods' part of the AVG self-service
(services/neighbourhoods/privacy.py)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from services.neighbourhoods import privacy
from shared.auth import CurrentPrincipal, Principal
from shared.crypto import SecretBox, resident_ref
from shared.runtime import RuntimeDep, ServiceRuntime

router = APIRouter(tags=["privacy"])


def _me(runtime: ServiceRuntime, principal: Principal) -> str:
    """The caller as this service stores residents: the keyed pseudonym of their subject."""
    return resident_ref(runtime.settings.resident_ref_key, principal.sub)


@router.get("/v1/me/data", summary="Everything neighbourhoods holds about the caller (AVG access)")
async def me_data(principal: CurrentPrincipal, runtime: RuntimeDep) -> dict[str, Any]:
    """The caller's memberships, the initiatives they lead (texts, contact address) and joined (any person's token)."""
    box = SecretBox(runtime.settings.secrets_key) if runtime.settings.secrets_key else None
    async with runtime.uow() as uow:
        return await privacy.me_data(uow, principal, _me(runtime, principal), runtime.clock, box)


@router.delete("/v1/me", status_code=202, summary="Erase the caller's data in neighbourhoods (AVG erasure)")
async def erase_me(principal: CurrentPrincipal, runtime: RuntimeDep) -> JSONResponse:
    """Erasure (CONTRACT.md Rule 16): resident and group admin tokens signed in at most 5 minutes ago."""
    async with runtime.uow() as uow:
        erased = await privacy.erase_me(uow, principal, _me(runtime, principal), runtime.clock)
    return JSONResponse(erased, status_code=202)
