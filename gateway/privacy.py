"""AVG self-service at the gateway (CONTRACT.md "More REST at the gateway", Rule 16): it asks every
service that holds personal data for its part, with the caller's token, and joins the answers.

`PRIVACY_SERVICES` lists the services that answer `/v1/me/data` and `DELETE /v1/me` today,
`AUDIT_SERVICES` those that answer `/v1/audit`; a service whose part is not joined yet would be
listed in the answer's `notYetIncluded` (none today), so nobody reads a partial answer as the
whole. Partners and notifications keep nothing about a person under their subject but idempotency
scopes and the audit (`shared.privacy.shared_tables_router`); neighbourhoods keeps residents under
a keyed pseudonym of their subject (`services/neighbourhoods/privacy.py`).
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from gateway.upstream import Upstream, UpstreamError
from shared import privacy
from shared.auth import Principal, current_principal
from shared.errors import Forbidden
from shared.events.codes import Role
from shared.http import JSONBody, problem

PRIVACY_SERVICES: tuple[str, ...] = ("signals", "goals", "partners", "notifications", "neighbourhoods")
AUDIT_SERVICES: tuple[str, ...] = ("signals",)  # goals' proposals are not audited yet
NOT_YET_INCLUDED: tuple[str, ...] = ()

router = APIRouter(prefix="/v1", tags=["privacy"])
Caller = Annotated[Principal, Depends(current_principal)]


def _upstream(request: Request) -> Upstream:
    upstream: Upstream = request.app.state.upstream
    return upstream


async def _ask_all(
    request: Request, caller: Principal, services: tuple[str, ...], method: str, path: str, **params: str
) -> list[Any]:
    """Every service's answer; a failure anywhere fails the whole (never a partial answer)."""
    answers: list[Any] = []
    for service in services:
        try:
            answer = await _upstream(request).send(service, method, path, token=caller.token, params=params or None)
        except UpstreamError as exc:
            raise _Failed(503, exc.problem.message) from exc
        if answer.status_code >= 500:
            raise _Failed(502, f"{service} failed")
        if answer.status_code >= 400:
            raise _Relayed(answer)
        answers.append(orjson.loads(answer.content) if answer.content else None)
    return answers


class _Failed(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


class _Relayed(Exception):
    def __init__(self, answer: Any) -> None:
        super().__init__(answer.status_code)
        self.answer = answer


async def _joined(
    request: Request,
    caller: Principal,
    method: str,
    path: str,
    services: tuple[str, ...] = PRIVACY_SERVICES,
    **params: str,
) -> list[Any] | Response:
    try:
        return await _ask_all(request, caller, services, method, path, **params)
    except _Failed as exc:
        return problem(exc.status, "Service unavailable", exc.detail, "INTERNAL", instance=request.url.path)
    except _Relayed as exc:
        return Response(exc.answer.content, status_code=exc.answer.status_code, media_type="application/problem+json")


@router.get("/me/data", summary="Everything the platform holds about the caller (AVG access)")
async def me_data(request: Request, caller: Caller) -> Response:
    """Every service's part of the caller's data, joined (any person's token)."""
    privacy.demand_person(caller)
    answers = await _joined(request, caller, "GET", "/v1/me/data")
    if isinstance(answers, Response):
        return answers
    joined: dict[str, Any] = {"notYetIncluded": list(NOT_YET_INCLUDED)}
    for answer in answers:
        for key, value in (answer or {}).items():
            joined[key] = [*joined.get(key, []), *value] if isinstance(value, list) else value
    return JSONBody(joined)


@router.delete("/me", status_code=202, summary="Erase the caller's data everywhere (AVG erasure)")
async def erase_me(request: Request, caller: Caller) -> Response:
    """Erasure in every service (resident and group admin tokens signed in at most 5 minutes ago)."""
    privacy.demand_erasure(caller)  # 403 before any service is asked
    answers = await _joined(request, caller, "DELETE", "/v1/me")
    if isinstance(answers, Response):
        return answers
    erased = dict(zip(PRIVACY_SERVICES, answers, strict=True))
    return JSONBody({"erased": erased, "notYetIncluded": list(NOT_YET_INCLUDED)}, status_code=202)


@router.get("/audit", summary="Who read which personal data of an object, and when (coordinators)")
async def audit(request: Request, caller: Caller, object_id: str = Query(alias="objectId")) -> Response:
    """Who read or changed personal data of the object, and when (coordinators)."""
    if not caller.has(Role.COORDINATOR) or caller.is_service:
        raise Forbidden("the audit is for coordinators")
    answers = await _joined(request, caller, "GET", "/v1/audit", AUDIT_SERVICES, objectId=object_id)
    if isinstance(answers, Response):
        return answers
    results = sorted((e for a in answers for e in (a or {}).get("results", [])), key=lambda e: str(e["at"]))
    return JSONBody({"results": results, "notYetIncluded": list(NOT_YET_INCLUDED)})
