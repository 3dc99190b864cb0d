"""REST: deliveries and their attempts, a manual resend, and a webhook ping."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID, uuid4

import orjson
from fastapi import APIRouter, Depends, Header, Query, Request, Response

from services.notifications import domain, store
from services.notifications.domain import Channel, Status, Target
from services.notifications.permissions import (
    may_ping,
    may_resend,
    readable_partner,
    visible_delivery,
)
from services.notifications.sender import Sender
from shared import idempotency
from shared.auth import CurrentPrincipal
from shared.bodies import CamelBody
from shared.errors import Conflict, FieldErrors, NotFound, ValidationFailed
from shared.pagination import decode_cursor, encode_cursor, page_size, parse_ids
from shared.runtime import RuntimeDep

router = APIRouter(prefix="/v1", tags=["notifications"])


class DeliveryOut(CamelBody):
    id: UUID
    channel: str
    target: str
    partner_id: UUID | None
    event_type: str
    event_id: UUID
    subject: str
    status: str
    attempts: int
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None
    last_error: str | None
    created_at: datetime

    @classmethod
    def of(cls, d: store.Delivery) -> DeliveryOut:
        return cls(
            id=d.id,
            channel=str(d.channel),
            target=d.target,
            partner_id=d.partner_id,
            event_type=d.event_type,
            event_id=d.event_id,
            subject=d.subject,
            status=str(d.status),
            attempts=d.attempts,
            last_attempt_at=d.last_attempt_at,
            next_attempt_at=d.next_attempt_at if d.status in domain.OPEN_STATUSES else None,
            last_error=d.last_error,
            created_at=d.created_at,
        )


class DeliveryPage(CamelBody):
    results: list[DeliveryOut]
    total_count: int
    next: str | None


class AttemptOut(CamelBody):
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: float
    outcome: str


class AttemptPage(CamelBody):
    results: list[AttemptOut]
    total_count: int
    next: str | None


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
    scope_partner = readable_partner(principal, partner_id)
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
    after_seq: int | None = None
    try:
        cursor = decode_cursor(after)
        if cursor is not None:
            after_seq = int(cursor[0])
    except (ValidationFailed, ValueError, TypeError, IndexError):
        errors.add("after", "not a cursor this API gave out")
    errors.raise_if_any()
    f = store.DeliveryFilter(
        municipalities=sorted(principal.municipalities),
        partner_id=scope_partner,
        event_id=event_id,
        subject=str(signal_id) if signal_id is not None else None,
        status=wanted_status,
        ids=wanted_ids,
    )
    async with runtime.db.sessions() as session:
        rows, total = await store.list_deliveries(session, f, first=size, after_seq=after_seq)
    page, more = rows[:size], len(rows) > size
    return DeliveryPage(
        results=[DeliveryOut.of(d) for d in page],
        total_count=total,
        next=encode_cursor(page[-1].seq) if more and page else None,
    )


async def _visible(runtime: RuntimeDep, principal: CurrentPrincipal, delivery_id: UUID) -> store.Delivery:
    async with runtime.db.sessions() as session:
        delivery = await store.get_delivery(session, delivery_id)
    if delivery is None:
        raise NotFound("no such delivery")
    visible_delivery(principal, delivery.municipality, delivery.partner_id)
    return delivery


@router.get("/deliveries/{delivery_id}", response_model=DeliveryOut)
async def get_delivery(principal: CurrentPrincipal, runtime: RuntimeDep, delivery_id: UUID) -> DeliveryOut:
    return DeliveryOut.of(await _visible(runtime, principal, delivery_id))


@router.get("/deliveries/{delivery_id}/attempts", response_model=AttemptPage)
async def list_attempts(principal: CurrentPrincipal, runtime: RuntimeDep, delivery_id: UUID) -> AttemptPage:
    await _visible(runtime, principal, delivery_id)
    async with runtime.db.sessions() as session:
        attempts = await store.attempts_of(session, delivery_id)
    results = [AttemptOut(**a.__dict__) for a in attempts]
    return AttemptPage(results=results, total_count=len(results), next=None)


@router.post("/deliveries/{delivery_id}/resend", response_model=DeliveryOut)
async def resend_delivery(
    principal: CurrentPrincipal, runtime: RuntimeDep, sender: SenderDep, delivery_id: UUID
) -> DeliveryOut:
    """Send again now with a fresh retry schedule (same webhook-id: receivers deduplicate)."""
    async with runtime.uow() as uow:
        delivery = await store.get_delivery(uow.session, delivery_id, lock=True)
        if delivery is None:
            raise NotFound("no such delivery")
        may_resend(principal, delivery.municipality)
        await store.resend(uow.session, delivery_id, runtime.clock.now())
        await store.notify_workers(uow.session, runtime.db.schema)
        await uow.commit()
    sender.wake.set()
    return DeliveryOut.of(await _visible(runtime, principal, delivery_id))


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
    async with runtime.uow() as uow:
        partner = await store.channels_of(uow.session, partner_id)
        if partner is None:
            raise NotFound("no such partner")
        municipality = may_ping(principal, partner)
        if idempotency_key:
            scope = f"ping:{principal.sub}"
            digest = idempotency.request_hash({"partnerId": str(partner_id)})
            stored = await idempotency.claim(uow.session, scope, idempotency_key, digest)
            if stored is not None:
                response.status_code = stored.status_code
                return stored.body
        if not partner.active or not partner.webhook_url:
            raise Conflict("the partner has no active webhook channel")
        event_id = uuid4()
        data = {"partnerId": str(partner_id)}
        body = domain.cloud_event(
            event_id=event_id,
            source=domain.SOURCE,
            event_type=domain.PING,
            time=runtime.clock.now(),
            subject=str(partner_id),
            data=data,
            public_base_url=runtime.settings.public_base_url,
        )
        created = await store.add_deliveries(
            uow.session,
            event_id=event_id,
            event_type=domain.PING,
            subject=str(partner_id),
            municipality=municipality,
            data=data,
            body=orjson.dumps(body).decode(),
            targets=[Target(str(partner_id), Channel.WEBHOOK, partner_id)],
            now=runtime.clock.now(),
        )
        delivery = await store.get_delivery(uow.session, created[0])
        assert delivery is not None
        if idempotency_key:
            answer = DeliveryOut.of(delivery).model_dump(mode="json", by_alias=True)
            await idempotency.complete(uow.session, f"ping:{principal.sub}", idempotency_key, 201, answer)
        await uow.commit()
    await sender.send_now(delivery.id)
    return DeliveryOut.of(await _visible(runtime, principal, delivery.id))
