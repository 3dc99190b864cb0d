"""REST: deliveries and their attempts, a manual resend, and a webhook ping.

Each route parses, calls a handler (`handlers.py`) and shapes the answer (`views.py`).
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Query, Request, Response

from services.notifications import handlers, permissions
from services.notifications.domain import Status
from services.notifications.sender import Sender
from services.notifications.views import AttemptOut, AttemptPage, DeliveryOut, DeliveryPage
from shared.auth import CurrentPrincipal, Principal
from shared.errors import FieldErrors, ValidationFailed
from shared.pagination import decode_cursor, encode_cursor, page_size, parse_ids
from shared.runtime import RuntimeDep, ServiceRuntime

router = APIRouter(prefix="/v1", tags=["notifications"])


def get_sender(request: Request) -> Sender:
    sender: Sender = request.app.state.sender
    return sender


SenderDep = Annotated[Sender, Depends(get_sender)]


@router.get("/deliveries", response_model=DeliveryPage)
async def list_deliveries(
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    event_id: Annotated[UUID | None, Query(alias="eventId")] = None,
    signal_id: Annotated[UUID | None, Query(alias="signalId")] = None,
    partner_id: Annotated[UUID | None, Query(alias="partnerId")] = None,
    status: Annotated[str | None, Query()] = None,
    ids: Annotated[str | None, Query(description="comma-separated delivery ids (batch read)")] = None,
    first: Annotated[int, Query()] = 50,
    after: Annotated[str | None, Query()] = None,
) -> DeliveryPage:
    scope_partner = permissions.readable_partner(principal, partner_id)
    errors = FieldErrors()
    wanted_status: Status | None = None
    if status is not None:
        try:
            wanted_status = Status(status.lower())
        except ValueError:
            errors.add("status", "one of pending, delivered, retrying, failed")
    wanted_ids = parse_ids(ids, errors)
    size = 50
    try:
        size = page_size(first)
    except ValidationFailed as exc:
        errors.items.extend(exc.fields)
    after_seq = _after_seq(after, errors)
    errors.raise_if_any()
    q = handlers.ListDeliveries(scope_partner, event_id, signal_id, wanted_status, wanted_ids, size, after_seq)
    async with runtime.uow() as uow:
        found = await handlers.list_deliveries(uow, q, principal)
    return DeliveryPage(
        results=[DeliveryOut.of(d) for d in found.page],
        total_count=found.total,
        next=encode_cursor(found.page[-1].seq) if found.more and found.page else None,
    )


def _after_seq(after: str | None, errors: FieldErrors) -> int | None:
    try:
        cursor = decode_cursor(after)
        return int(cursor[0]) if cursor is not None else None
    except (ValidationFailed, ValueError, TypeError, IndexError):
        errors.add("after", "not a cursor this API gave out")
        return None


async def _readable(runtime: ServiceRuntime, principal: Principal, delivery_id: UUID) -> DeliveryOut:
    async with runtime.uow() as uow:
        return DeliveryOut.of(await handlers.readable_delivery(uow, delivery_id, principal))


@router.get("/deliveries/{delivery_id}", response_model=DeliveryOut)
async def get_delivery(principal: CurrentPrincipal, runtime: RuntimeDep, delivery_id: UUID) -> DeliveryOut:
    return await _readable(runtime, principal, delivery_id)


@router.get("/deliveries/{delivery_id}/attempts", response_model=AttemptPage)
async def list_attempts(principal: CurrentPrincipal, runtime: RuntimeDep, delivery_id: UUID) -> AttemptPage:
    async with runtime.uow() as uow:
        attempts = await handlers.attempts_of(uow, delivery_id, principal)
    results = [AttemptOut.of(a) for a in attempts]
    return AttemptPage(results=results, total_count=len(results), next=None)


@router.post("/deliveries/{delivery_id}/resend", response_model=DeliveryOut)
async def resend_delivery(
    principal: CurrentPrincipal, runtime: RuntimeDep, sender: SenderDep, delivery_id: UUID
) -> DeliveryOut:
    """Send again now with a fresh retry schedule (same webhook-id: receivers deduplicate)."""
    async with runtime.uow() as uow:
        await handlers.resend(uow, handlers.Resend(delivery_id), principal, runtime.clock)
    sender.wake.set()
    return await _readable(runtime, principal, delivery_id)


@router.post("/partners/{partner_id}/ping", response_model=DeliveryOut, status_code=201)
async def ping_partner(
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    sender: SenderDep,
    response: Response,
    partner_id: UUID,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> Any:
    """A `ping` webhook (data: `{partnerId}`) to the partner's url, sent at once."""
    cmd = handlers.Ping(partner_id, idempotency_key)
    async with runtime.uow() as uow:
        pinged = await handlers.ping(
            uow, cmd, principal, runtime.clock, public_base_url=runtime.settings.public_base_url
        )
    if pinged.delivery_id is None:  # the same Idempotency-Key again: the first answer
        response.status_code = pinged.status
        return pinged.answer
    await sender.send_now(pinged.delivery_id)
    return await _readable(runtime, principal, pinged.delivery_id)
