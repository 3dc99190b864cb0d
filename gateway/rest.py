"""The public REST edge for partner systems (CONTRACT.md "REST edge"): proxied with the caller's token.

The gateway verifies the token first (401 before any upstream call), then the service answers
as it would itself: its status and problem+json pass through unchanged.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import Response
from pydantic import Field

from gateway.settings import Settings
from gateway.upstream import Upstream, UpstreamError
from shared.auth import Principal, current_principal
from shared.events.catalog import Model
from shared.http import PROBLEM, JSONBody, problem

PROBLEMS: dict[int | str, dict[str, Any]] = {
    400: {"description": "invalid input, every invalid field in `invalidParams` (problem+json)"},
    401: {"description": "no or an invalid token (problem+json)"},
    403: {"description": "the caller's role or partner may not do this (problem+json)"},
    404: {"description": "no such object, or another municipality's: its existence is not revealed (problem+json)"},
    409: {"description": "not possible in the signal's current state (problem+json)"},
}
router = APIRouter(prefix="/v1", tags=["partner systems"], responses=PROBLEMS)
Caller = Annotated[Principal, Depends(current_principal)]


GROUP_MESSAGE = "to share in the reporting group (its admins read it as the signal's groupMessage); never in a webhook"


class AcknowledgementBody(Model):
    message: str | None = Field(default=None, max_length=2000, description="for the reporters")
    group_message: str | None = Field(default=None, max_length=2000, description=GROUP_MESSAGE)


class ResolutionBody(Model):
    feedback: str = Field(min_length=1, max_length=2000, description="for the reporters")
    group_message: str | None = Field(default=None, max_length=2000, description=GROUP_MESSAGE)


def _upstream(request: Request) -> Upstream:
    upstream: Upstream = request.app.state.upstream
    return upstream


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def _relay(
    request: Request,
    caller: Principal,
    service: str,
    method: str,
    path: str,
    *,
    params: dict[str, Any] | None = None,
    json: object = None,
    add: dict[str, Any] | None = None,
) -> Response:
    try:
        answer = await _upstream(request).send(service, method, path, token=caller.token, params=params, json=json)
    except UpstreamError as exc:
        unavailable = exc.problem.code == "INTERNAL"
        title = "Service unavailable" if unavailable else "Not found"
        status = 503 if unavailable else exc.problem.status
        return problem(status, title, exc.problem.message, exc.problem.code, instance=request.url.path)
    media = answer.headers.get("content-type", "application/json")
    if answer.status_code >= 500:
        return problem(502, "Internal error", "An upstream service failed", "INTERNAL", instance=request.url.path)
    if add and answer.status_code < 300 and media.startswith("application/json"):
        body = orjson.loads(answer.content)
        if isinstance(body, dict):
            body.update(add)
            return JSONBody(body, status_code=answer.status_code)
    if answer.status_code >= 400 and not media.startswith(PROBLEM):
        media = PROBLEM if media.startswith("application/json") else media
    return Response(answer.content, status_code=answer.status_code, media_type=media)


@router.get("/signals/{signal_id}", summary="A signal (where every signal webhook's dataref points)")
async def get_signal(signal_id: str, request: Request, caller: Caller) -> Response:
    return await _relay(request, caller, "signals", "GET", f"/v1/signals/{signal_id}")


@router.get("/signals", summary="Signals escalated to a partner, oldest first, for catching up after downtime")
async def list_signals(
    request: Request,
    caller: Caller,
    partner_id: Annotated[str, Query(alias="partnerId")],
    after: str | None = None,
    first: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Response:
    params = {"partnerId": partner_id, "after": after, "first": first}
    answer = await _relay(request, caller, "signals", "GET", "/v1/signals", params=params)
    if answer.status_code != 200:
        return answer
    body = orjson.loads(answer.body)
    return JSONBody({"results": body.get("results", []), "next": body.get("next")})


@router.get(
    "/signals.geojson",
    summary="The signals with a location in a bounding box the caller may see, as GeoJSON (for map front-ends)",
    response_class=Response,
    responses={200: {"content": {"application/geo+json": {}}}},
)
async def signals_geojson(
    request: Request,
    caller: Caller,
    municipality: str,
    bbox: Annotated[str, Query(description="minLon,minLat,maxLon,maxLat (WGS84, edges inclusive)")],
    status: Annotated[str | None, Query(description="comma-separated statuses, lower case")] = None,
) -> Response:
    params = {"municipality": municipality, "bbox": bbox, "status": status}
    return await _relay(request, caller, "signals", "GET", "/v1/signals.geojson", params=params)


@router.post("/signals/{signal_id}/acknowledgement", summary="Acknowledge (idempotent for the same partner)")
async def acknowledge(
    signal_id: str, request: Request, caller: Caller, body: Annotated[AcknowledgementBody, Body()]
) -> Response:
    payload = body.model_dump(by_alias=True, exclude_none=True)
    return await _relay(request, caller, "signals", "POST", f"/v1/signals/{signal_id}/acknowledgement", json=payload)


@router.post("/signals/{signal_id}/resolution", summary="Resolve with feedback (idempotent for the same partner)")
async def resolve(
    signal_id: str, request: Request, caller: Caller, body: Annotated[ResolutionBody, Body()]
) -> Response:
    payload = body.model_dump(by_alias=True)
    return await _relay(request, caller, "signals", "POST", f"/v1/signals/{signal_id}/resolution", json=payload)


@router.get("/goals/{goal_id}", summary="A goal, with the URL of its trend chart")
async def get_goal(goal_id: str, request: Request, caller: Caller) -> Response:
    url = f"{_settings(request).public_base_url.rstrip('/')}/v1/goals/{goal_id}/trend.svg"
    return await _relay(request, caller, "goals", "GET", f"/v1/goals/{goal_id}", add={"trendChartUrl": url})


@router.get(
    "/goals/{goal_id}/trend.svg",
    summary="The goal's indicators per quarter as an SVG chart",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}}},
)
async def goal_trend(goal_id: str, request: Request, caller: Caller) -> Response:
    return await _relay(request, caller, "goals", "GET", f"/v1/goals/{goal_id}/trend.svg")


@router.get("/messages/{message_id}", summary="A neighbourhood message (where its webhooks' dataref points)")
async def get_message(message_id: str, request: Request, caller: Caller) -> Response:
    return await _relay(request, caller, "neighbourhoods", "GET", f"/v1/messages/{message_id}")


@router.get("/initiatives/{initiative_id}", summary="A residents' initiative (where its webhooks' dataref points)")
async def get_initiative(initiative_id: str, request: Request, caller: Caller) -> Response:
    return await _relay(request, caller, "neighbourhoods", "GET", f"/v1/initiatives/{initiative_id}")
