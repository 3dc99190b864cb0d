"""`GET /v1/me/data`, `DELETE /v1/me`, `GET /v1/audit?objectId=`: signals' part of the AVG
self-service the gateway joins (services/signals/privacy.py)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from services.signals import privacy
from services.signals.api import _secret_box
from shared.auth import CurrentPrincipal
from shared.crypto import SecretBox
from shared.errors import FieldError, ValidationFailed
from shared.runtime import RuntimeDep

router = APIRouter(tags=["privacy"])


def _box(secrets_key: str) -> SecretBox | None:
    return _secret_box(secrets_key) if secrets_key else None


@router.get("/v1/me/data", summary="Everything signals holds about the caller (AVG access)")
async def me_data(principal: CurrentPrincipal, runtime: RuntimeDep) -> dict[str, Any]:
    """The caller's own data here, as JSON (any person's token); the gateway joins every service's."""
    async with runtime.uow() as uow:
        return await privacy.me_data(uow, principal, runtime.clock, _box(runtime.settings.secrets_key))


@router.delete("/v1/me", status_code=202, summary="Erase the caller's data in signals (AVG erasure)")
async def erase_me(principal: CurrentPrincipal, runtime: RuntimeDep) -> JSONResponse:
    """Erasure (CONTRACT.md Rule 16): resident and group admin tokens signed in at most 5 minutes ago."""
    async with runtime.uow() as uow:
        erased = await privacy.erase_me(uow, principal, runtime.clock)
    return JSONResponse(erased, status_code=202)


@router.get("/v1/audit", summary="Who read or changed personal data of a signal (coordinators)")
async def audit(
    principal: CurrentPrincipal, runtime: RuntimeDep, object_id: str = Query(alias="objectId")
) -> dict[str, Any]:
    """Who read or changed personal data of the signal, and when (coordinators of its municipality)."""
    privacy.demand_auditor(principal)
    try:
        signal_id = UUID(object_id)
    except ValueError as exc:
        raise ValidationFailed([FieldError("objectId", "must be a signal id")]) from exc
    async with runtime.uow() as uow:
        return {"results": await privacy.audit_of(uow, signal_id, principal)}
