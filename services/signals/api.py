"""REST for signals: parse, authorise, call the domain, answer (camelCase JSON)."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Annotated
from uuid import UUID, uuid4

from fastapi import APIRouter, Header, Query
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from services.signals import permissions, store
from services.signals.domain import (
    DESCRIPTION_MAX,
    NotResponsible,
    Partner,
    Report,
    Signal,
    SignalRuleBroken,
    advice_for,
    area_problem,
    check_report,
    duplicate_of,
    intake_escalation,
    route,
)
from services.signals.views import signal_json
from shared import idempotency
from shared.auth import CurrentPrincipal, Principal, demand
from shared.crypto import SecretBox
from shared.db import UnitOfWork
from shared.errors import Conflict, FieldError, FieldErrors, Forbidden, NotFound, ValidationFailed
from shared.events.codes import Category, PartnerKind, Role, SignalStatus
from shared.http import JSONBody
from shared.observability import get_logger
from shared.pagination import decode_cursor, encode_cursor, page_size
from shared.runtime import RuntimeDep, ServiceRuntime

router = APIRouter(tags=["signals"])
log = get_logger(__name__)


class Body(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class ReportBody(Body):
    municipality: str = ""
    area: str = ""
    category: str = ""
    urgency: str = ""
    description: str = ""
    observed_at: datetime | None = None
    lat: float | None = None
    lon: float | None = None
    bag_id: str | None = None
    source: str | None = None
    group_id: str | None = None
    contact_email: str | None = None
    client_request_id: str | None = None


class EscalationBody(Body):
    partner_id: str | None = None
    reason: str | None = None


class AcknowledgementBody(Body):
    message: str | None = None


class ResolutionBody(Body):
    feedback: str | None = None


class ReasonBody(Body):
    reason: str | None = None


class MergeBody(Body):
    into_id: str | None = None


class ReclassificationBody(Body):
    category: str | None = None
    area: str | None = None


@functools.cache
def _secret_box(key_material: str) -> SecretBox:
    return SecretBox(key_material)


def _box(runtime: ServiceRuntime) -> SecretBox:
    """Contacts are sealed with the service's SECRETS_KEY (raises when none is configured)."""
    return _secret_box(runtime.settings.secrets_key)


def _publish(uow: UnitOfWork, signal: Signal) -> None:
    for version, event in signal.pending:
        uow.emit(event, sequence=version, municipality=signal.municipality)
    signal.pending.clear()


def _uuid(value: str, field: str = "id") -> UUID:
    try:
        return UUID(value)
    except ValueError:
        raise NotFound() from None


def _text(errors: FieldErrors, field: str, value: str | None, *, required: bool) -> str | None:
    if value is None or not value.strip():
        if required:
            errors.add(field, "must not be empty")
        return None
    if len(value) > DESCRIPTION_MAX:
        errors.add(field, f"must be at most {DESCRIPTION_MAX} characters")
    return value


# --- intake --------------------------------------------------------------------------------------


@router.post("/v1/signals", status_code=201, summary="Report a signal")
async def report_signal(
    body: ReportBody,
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> JSONBody:
    demand(principal, *permissions.roles_for("report"), municipality=body.municipality)
    group_id = body.group_id
    if principal.has(Role.GROUP_ADMIN) and not principal.has(Role.COORDINATOR):
        group_id = group_id or principal.partner_id
        if group_id != principal.partner_id:
            raise Forbidden("a group admin reports for their own WhatsApp group")
    allowed = permissions.sources_for(principal)
    report = Report(
        municipality=body.municipality,
        area=body.area,
        category=body.category,
        urgency=body.urgency,
        description=body.description,
        source=body.source or allowed[0],
        observed_at=body.observed_at,
        lat=body.lat,
        lon=body.lon,
        bag_id=body.bag_id,
        group_id=group_id,
        contact_email=body.contact_email,
    )
    now = runtime.clock.now()
    errors = check_report(report, now, frozenset(allowed))
    if body.client_request_id is not None and not 1 <= len(body.client_request_id) <= 200:
        errors.add("clientRequestId", "must be 1 to 200 characters")
    if idempotency_key is not None and not 1 <= len(idempotency_key) <= 200:
        errors.add("Idempotency-Key", "must be 1 to 200 characters")
    errors.raise_if_any()

    keys = [f"key:{idempotency_key}"] if idempotency_key else []
    if body.client_request_id:
        keys.append(f"client:{body.client_request_id}")
    scope = f"signals.intake:{principal.sub}"
    body_hash = idempotency.request_hash(body.model_dump(mode="json", by_alias=True, exclude_none=True))
    sealed = _box(runtime) if report.contact_email else None

    async with runtime.uow() as uow:
        ctx = await store.intake_context(
            uow.session,
            municipality=report.municipality,
            area=report.area,
            category=report.category,
            at=now,
            since=now - timedelta(hours=2),
            group_id=UUID(group_id) if group_id else None,
            claim=(scope, keys[0], body_hash) if keys else None,
        )
        # the report's time is taken under the intake lock: a report that read the clock first
        # but got the lock second would otherwise find the original "in its future" and not merge
        now = runtime.clock.now()
        for i, key in enumerate(keys):
            if i == 0 and ctx.claimed:
                continue
            stored = await idempotency.claim(uow.session, scope, key, body_hash)
            if stored is not None:
                return JSONBody(stored.body, status_code=stored.status_code)
        if group_id and not _is_whatsapp_group(ctx.group, report.municipality):
            raise ValidationFailed([field_error("groupId", f"not a WhatsApp group of {report.municipality}")])
        routed = route(
            ctx.partners, municipality=report.municipality, area=report.area, category=Category(report.category), at=now
        )
        signal = Signal.report(
            id=uuid4(),
            reference=ctx.reference,
            report=report,
            reporter=principal.sub,
            at=now,
            routed_partner_id=routed.id if routed else None,
        )
        original = duplicate_of(
            ctx.open_reports,
            municipality=signal.municipality,
            area=signal.area,
            category=signal.category,
            at=now,
            lat=signal.lat,
            lon=signal.lon,
        )
        if original is not None:
            signal.merge_reported(original, at=now)
        else:
            target = intake_escalation(signal, routed, ctx.partners, now)
            if target is not None:
                signal.escalate(target[0], at=now, actor=None, reason=target[1], automatic=True)
        contact = sealed.seal(report.contact_email, str(signal.id)) if sealed and report.contact_email else None
        answer = {
            "signal": signal_json(signal, principal, now),
            "duplicate": original is not None,
            "advice": advice_for(signal.urgency),
        }
        await store.SignalStore(uow.session).add(signal, contact, answer=answer, scope=scope, keys=keys)
        _publish(uow, signal)
        await uow.commit()
    log.info("signal_reported", signal_id=str(signal.id), duplicate=original is not None, routed=routed is not None)
    return JSONBody(answer, status_code=201)


def field_error(field: str, message: str) -> FieldError:
    return FieldError(field, message)


def _is_whatsapp_group(group: Partner | None, municipality: str) -> bool:
    return (
        group is not None
        and group.active
        and group.kind == PartnerKind.WHATSAPP_GROUP
        and municipality in group.municipalities
    )


# --- reads ---------------------------------------------------------------------------------------


def _statuses(value: str | None, errors: FieldErrors) -> list[str]:
    if not value:
        return []
    codes = [v.strip().lower() for v in value.split(",") if v.strip()]
    for code in codes:
        if code not in SignalStatus._value2member_map_:
            errors.add("status", f"unknown status {code!r}")
    return codes


def _ids(value: str | None, errors: FieldErrors) -> list[UUID] | None:
    if value is None:
        return None
    out: list[UUID] = []
    for part in value.split(","):
        try:
            out.append(UUID(part.strip()))
        except ValueError:
            errors.add("ids", f"not an id: {part.strip()!r}")
    if len(out) > 200:
        errors.add("ids", "at most 200 ids")
    return out


async def _list(
    runtime: ServiceRuntime, principal: Principal, q: store.Query, first: int, after: str | None
) -> JSONBody:
    size = page_size(first)
    cursor = decode_cursor(after)
    if cursor is not None and len(cursor) != 2:
        raise ValidationFailed([field_error("after", "not a cursor this API gave out")])
    now = runtime.clock.now()
    async with runtime.uow() as uow:
        signals, total, last = await store.list_signals(uow.session, q, first=size, after=cursor, now=now)
    return JSONBody(
        {
            "results": [signal_json(s, principal, now) for s in signals],
            "totalCount": total,
            "next": encode_cursor(*last) if last else None,
        }
    )


@router.get("/v1/signals", summary="List signals (filters, cursor pagination)")
async def list_signals(
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    municipality: str | None = None,
    area: str | None = None,
    status: str | None = None,
    category: str | None = None,
    partner_id: Annotated[str | None, Query(alias="partnerId")] = None,
    overdue: bool | None = None,
    unrouted: bool | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    ids: str | None = None,
    first: int | None = None,
    after: str | None = None,
) -> JSONBody:
    """Newest first; with `partnerId` the signals escalated to that partner, oldest escalation
    first (a catch-up feed). `ids` is a batch read: without `first` it answers all of them."""
    demand(principal, *permissions.roles_for("read"), municipality=municipality)
    municipalities = [municipality] if municipality else sorted(principal.municipalities)
    errors = FieldErrors()
    statuses = _statuses(status, errors)
    if category is not None and category not in Category._value2member_map_:
        errors.add("category", f"unknown category {category!r}")
    if area is not None:
        for m in municipalities:
            problem = area_problem(area, m)
            if problem and (len(municipalities) == 1 or not problem.startswith("is not")):
                errors.add("area", problem)
                break
    feed_partner: UUID | None = None
    if partner_id is not None:
        try:
            feed_partner = UUID(partner_id)
        except ValueError:
            errors.add("partnerId", "must be a partner id (uuid)")
    wanted = _ids(ids, errors)
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            errors.add(name, "must carry a time zone (RFC 3339)")
    errors.raise_if_any()
    clauses, params = permissions.visibility_clauses(principal)
    size = first if first is not None else max(50, min(len(wanted or []), 200))
    q = store.Query(
        municipalities=municipalities,
        area=area,
        statuses=statuses,
        category=category,
        partner_id=feed_partner,
        overdue=overdue,
        unrouted=unrouted,
        since=since,
        until=until,
        ids=wanted,
        visibility=clauses,
        params=params,
    )
    return await _list(runtime, principal, q, size, after)


@router.get("/v1/signals/mine", summary="The caller's own signals")
async def my_signals(
    principal: CurrentPrincipal, runtime: RuntimeDep, first: int = 50, after: str | None = None
) -> JSONBody:
    demand(principal, *permissions.roles_for("report"))
    q = store.Query(municipalities=sorted(principal.municipalities), reporter=principal.sub)
    return await _list(runtime, principal, q, first, after)


@router.get("/v1/signals/{signal_id}", summary="One signal (fields visible by role)")
async def get_signal(signal_id: str, principal: CurrentPrincipal, runtime: RuntimeDep) -> JSONBody:
    demand(principal, *permissions.roles_for("read"))
    async with runtime.uow() as uow:
        signal = await store.SignalStore(uow.session).get(_uuid(signal_id))
    if signal is None or not permissions.can_see(principal, signal):
        raise NotFound()
    return JSONBody(signal_json(signal, principal, runtime.clock.now()))


# --- commands ------------------------------------------------------------------------------------

Apply = Callable[[Signal, store.SignalStore, datetime], Awaitable[bool]]


async def _command(
    runtime: ServiceRuntime,
    principal: Principal,
    signal_id: str,
    action: str,
    apply: Apply,
    *,
    relation: Callable[[Principal, Signal], bool] | None = None,
) -> JSONBody:
    """Load and lock the signal, authorise (404, 403), apply the domain command (400, 409),
    save the change with its history and events in one transaction, answer the signal."""
    sid = _uuid(signal_id)
    now = runtime.clock.now()
    async with runtime.uow() as uow:
        signals = store.SignalStore(uow.session)
        signal = await signals.get(sid, for_update=True)
        if signal is None or not permissions.can_see(principal, signal):
            raise NotFound()
        if not principal.has(*permissions.roles_for(action)):
            raise Forbidden(f"requires role {' or '.join(permissions.roles_for(action))}")
        if relation is not None and not relation(principal, signal):
            raise Forbidden(f"you may not {action} this signal")
        try:
            changed = await apply(signal, signals, now)
        except SignalRuleBroken as exc:
            raise Conflict(f"{exc}; the signal is {exc.status.value}") from exc
        except NotResponsible as exc:
            raise Forbidden(str(exc)) from exc
        if changed:
            await signals.save(signal)
            _publish(uow, signal)
            await uow.commit()
    if changed:
        log.info("signal_changed", signal_id=str(signal.id), action=action, status=signal.status.value)
    return JSONBody(signal_json(signal, principal, now))


@router.post("/v1/signals/{signal_id}/escalation", summary="Escalate (forward) to a partner")
async def escalate(signal_id: str, body: EscalationBody, principal: CurrentPrincipal, runtime: RuntimeDep) -> JSONBody:
    async def apply(signal: Signal, signals: store.SignalStore, now: datetime) -> bool:
        errors = FieldErrors()
        reason = _text(errors, "reason", body.reason, required=False)
        target: Partner | None = None
        if body.partner_id:
            try:
                target = await store.partner(signals.session, UUID(body.partner_id))
            except ValueError:
                errors.add("partnerId", "must be a partner id (uuid)")
            else:
                if target is None or not target.active or signal.municipality not in target.municipalities:
                    errors.add("partnerId", f"not an active partner in {signal.municipality}")
                    target = None
        elif signal.routed_partner_id is None:
            errors.add("partnerId", "the signal is unrouted: name the partner to escalate to")
        else:
            target = await store.partner(signals.session, signal.routed_partner_id)
            if target is None or not target.active:
                errors.add("partnerId", "the routed partner is no longer active: name another partner")
        errors.raise_if_any()
        assert target is not None
        signal.escalate(target, at=now, actor=principal.sub, reason=reason)
        return True

    return await _command(runtime, principal, signal_id, "escalate", apply, relation=permissions.may_escalate)


@router.post("/v1/signals/{signal_id}/acknowledgement", summary="Acknowledge, with a message for the reporters")
async def acknowledge(
    signal_id: str, body: AcknowledgementBody, principal: CurrentPrincipal, runtime: RuntimeDep
) -> JSONBody:
    async def apply(signal: Signal, signals: store.SignalStore, now: datetime) -> bool:
        errors = FieldErrors()
        message = _text(errors, "message", body.message, required=False)
        errors.raise_if_any()
        return signal.acknowledge(permissions.acting_partner(principal), at=now, actor=principal.sub, message=message)

    return await _command(runtime, principal, signal_id, "acknowledge", apply)


@router.post("/v1/signals/{signal_id}/resolution", summary="Resolve, with feedback for the reporters")
async def resolve(signal_id: str, body: ResolutionBody, principal: CurrentPrincipal, runtime: RuntimeDep) -> JSONBody:
    async def apply(signal: Signal, signals: store.SignalStore, now: datetime) -> bool:
        errors = FieldErrors()
        feedback = _text(errors, "feedback", body.feedback, required=True)
        errors.raise_if_any()
        assert feedback is not None
        return signal.resolve(permissions.acting_partner(principal), at=now, actor=principal.sub, feedback=feedback)

    return await _command(runtime, principal, signal_id, "resolve", apply)


@router.post("/v1/signals/{signal_id}/rejection", summary="Reject (coordinator)")
async def reject(signal_id: str, body: ReasonBody, principal: CurrentPrincipal, runtime: RuntimeDep) -> JSONBody:
    async def apply(signal: Signal, signals: store.SignalStore, now: datetime) -> bool:
        errors = FieldErrors()
        reason = _text(errors, "reason", body.reason, required=True)
        errors.raise_if_any()
        assert reason is not None
        signal.reject(at=now, actor=principal.sub, reason=reason)
        return True

    return await _command(runtime, principal, signal_id, "reject", apply)


@router.post("/v1/signals/{signal_id}/merge", summary="Merge into another open signal (coordinator)")
async def merge(signal_id: str, body: MergeBody, principal: CurrentPrincipal, runtime: RuntimeDep) -> JSONBody:
    async def apply(signal: Signal, signals: store.SignalStore, now: datetime) -> bool:
        into: Signal | None = None
        try:
            into_id = UUID(body.into_id or "")
        except ValueError:
            raise ValidationFailed([field_error("intoId", "must be a signal id (uuid)")]) from None
        if into_id != signal.id:
            into = await signals.get(into_id, for_update=True)
        if into is None or not permissions.can_see(principal, into) or into.municipality != signal.municipality:
            raise ValidationFailed([field_error("intoId", "not a signal of this municipality")])
        signal.merge_into(into, at=now, actor=principal.sub, automatic=False)
        await signals.save(into)
        await signals.repoint_duplicates(signal.id, into.id)
        return True

    return await _command(runtime, principal, signal_id, "merge", apply)


@router.post("/v1/signals/{signal_id}/reclassification", summary="Change category or area; routes again")
async def reclassify(
    signal_id: str, body: ReclassificationBody, principal: CurrentPrincipal, runtime: RuntimeDep
) -> JSONBody:
    async def apply(signal: Signal, signals: store.SignalStore, now: datetime) -> bool:
        errors = FieldErrors()
        if body.category is None and body.area is None:
            errors.add("category", "give a category, an area, or both")
        if body.category is not None and body.category not in Category._value2member_map_:
            errors.add("category", f"unknown category {body.category!r}")
        if body.area is not None:
            problem = area_problem(body.area, signal.municipality)
            if problem:
                errors.add("area", problem)
        errors.raise_if_any()
        category = Category(body.category) if body.category else signal.category
        area = body.area or signal.area
        partners = await store.partners_for(signals.session, signal.municipality, area)
        routed = route(partners, municipality=signal.municipality, area=area, category=category, at=now)
        signal.reclassify(
            category=category, area=area, routed_partner_id=routed.id if routed else None, at=now, actor=principal.sub
        )
        return True

    return await _command(runtime, principal, signal_id, "reclassify", apply)


@router.post("/v1/signals/{signal_id}/reopening", summary="Reopen within 14 days of resolution")
async def reopen(signal_id: str, body: ReasonBody, principal: CurrentPrincipal, runtime: RuntimeDep) -> JSONBody:
    window = timedelta(seconds=float(getattr(runtime.settings, "reopen_window_seconds", 14 * 86400)))

    async def apply(signal: Signal, signals: store.SignalStore, now: datetime) -> bool:
        errors = FieldErrors()
        reason = _text(errors, "reason", body.reason, required=True)
        errors.raise_if_any()
        assert reason is not None
        signal.reopen(at=now, actor=principal.sub, reason=reason, window=window)
        return True

    return await _command(runtime, principal, signal_id, "reopen", apply, relation=permissions.may_reopen)


# --- internal ------------------------------------------------------------------------------------


@router.get("/internal/v1/signals/{signal_id}/contacts", summary="Reporters' contacts (notifications only)")
async def contacts(signal_id: str, principal: CurrentPrincipal, runtime: RuntimeDep) -> JSONBody:
    if not principal.has(*permissions.roles_for("contacts")) or principal.sub not in permissions.CONTACT_READERS:
        raise Forbidden("only the notifications service reads contacts")
    sid = _uuid(signal_id)
    async with runtime.uow() as uow:
        signals = store.SignalStore(uow.session)
        signal = await signals.get(sid)
        if signal is None:
            raise NotFound()
        sealed = await signals.contacts(sid)
        box = _box(runtime) if sealed else None
        found = [
            {"reporter": reporter, "email": box.open(contact, str(owner))}
            for owner, reporter, contact in sealed
            if box is not None
        ]
        await signals.audit_contact_read(sid, principal.sub, len(found))
        await uow.commit()
    log.info("contacts_read", signal_id=str(sid), reader=principal.sub, contacts=len(found))
    return JSONBody({"contacts": found})
