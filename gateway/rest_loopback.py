"""The REST edge for partner systems, the loop back part: a police system (or any partner system)
adds feedback for the reporters and keeps its own case number on the signal, as `addFeedback` and
`setExternalReference` do in GraphQL. Proxied with the caller's token; the signals service
authorises and validates (problem+json passes through)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Request
from fastapi.responses import Response
from pydantic import Field

from gateway.rest import PROBLEMS, Caller, _relay
from shared.events.catalog import Model

router = APIRouter(prefix="/v1", tags=["partner systems"], responses=PROBLEMS)


class FeedbackBody(Model):
    message: str | None = Field(default=None, description="for the reporters, 1..2000 characters")


class ExternalReferenceBody(Model):
    reference: str | None = Field(default=None, description="your own case number, 1..200 characters")


@router.post(
    "/signals/{signal_id}/feedback",
    summary="Add feedback for the reporters (the partner it is escalated to, or an involved one; while open)",
)
async def add_feedback(
    signal_id: str, request: Request, caller: Caller, body: Annotated[FeedbackBody, Body()]
) -> Response:
    payload = body.model_dump(by_alias=True, exclude_none=True)
    return await _relay(request, caller, "signals", "POST", f"/v1/signals/{signal_id}/feedback", json=payload)


@router.put(
    "/signals/{signal_id}/external-reference",
    summary="Keep your own case number on the signal, e.g. a police case number (the partner it is escalated to)",
)
async def set_external_reference(
    signal_id: str, request: Request, caller: Caller, body: Annotated[ExternalReferenceBody, Body()]
) -> Response:
    payload = body.model_dump(by_alias=True, exclude_none=True)
    path = f"/v1/signals/{signal_id}/external-reference"
    return await _relay(request, caller, "signals", "PUT", path, json=payload)
