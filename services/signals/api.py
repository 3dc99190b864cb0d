"""REST for signals: parse, authorise, call the domain, answer (camelCase JSON)."""

from __future__ import annotations

import functools
import math
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Annotated, TypeVar
from uuid import UUID

from fastapi import APIRouter, Header, Query
from pydantic import Field

from services.signals import handlers, permissions, privacy, store
from services.signals.domain import (
    DESCRIPTION_MAX,
    Report,
    Signal,
    advice_for,
    area_problem,
    check_report,
)
from services.signals.domain.chain import ChainStep
from services.signals.views import signal_json
from shared import idempotency
from shared.auth import CurrentPrincipal, Principal, demand
from shared.bodies import CamelBody
from shared.clock import Clock, rfc3339
from shared.crypto import SecretBox
from shared.db import UnitOfWork
from shared.errors import FieldError, FieldErrors, Forbidden, NotFound, ValidationFailed
from shared.events.codes import Category, Role, SignalSource, SignalStatus, Urgency
from shared.http import JSONBody
from shared.observability import get_logger
from shared.pagination import MAX_IDS, decode_keyset, listing, page_size, parse_ids
from shared.runtime import RuntimeDep, ServiceRuntime

router = APIRouter(tags=["signals"])
GROUP_MESSAGE = (
    "a text to share in the reporting group (1..2000 characters); shown as `groupMessage` to the admins of"
    " the signal's group and of its merged duplicates' groups and to those who may read the description;"
    " never in a webhook or event"
)
log = get_logger(__name__)


class ReportBody(CamelBody):
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
    forward: bool | None = Field(
        default=None,
        description="escalate to the routed partner at once (group admins and coordinators); acute reports"
        " are escalated at once anyway, a duplicate is merged instead",
    )


class EscalationBody(CamelBody):
    partner_id: str | None = None
    reason: str | None = None


class AcknowledgementBody(CamelBody):
    message: str | None = None
    group_message: str | None = Field(default=None, description=GROUP_MESSAGE)


class ResolutionBody(CamelBody):
    feedback: str | None = None
    group_message: str | None = Field(default=None, description=GROUP_MESSAGE)


class ReasonBody(CamelBody):
    reason: str | None = None


class QuestionBody(CamelBody):
    question: str | None = Field(default=None, description="1..2000 characters; never in an event or webhook")


class AnswerBody(CamelBody):
    answer: str | None = Field(default=None, description="1..2000 characters; never in an event or webhook")


class TransferBody(CamelBody):
    partner_id: str | None = None
    reason: str | None = Field(default=None, description="1..2000 characters; the history note")


class InvolvementBody(CamelBody):
    partner_id: str | None = None
    reason: str | None = Field(default=None, description="1..2000 characters; the history note")


class RatingBody(CamelBody):
    satisfied: bool | None = None
    comment: str | None = Field(default=None, description="1..2000 characters; never in an event or webhook")


class FeedbackBody(CamelBody):
    message: str | None = Field(default=None, description="1..2000 characters; never in an event or webhook")


class ExternalReferenceBody(CamelBody):
    reference: str | None = Field(default=None, description="1..200 characters, e.g. a police case number")


class ChainStepBody(CamelBody):
    category: str | None = Field(default=None, description="the step for this category; null: any category")
    next_partner_id: str | None = None
    after_minutes: int | None = Field(default=None, description="not acknowledged this long after the escalation")


class ChainBody(CamelBody):
    partner_id: str | None = Field(default=None, description="validation only: the partner the steps are for")
    kind: str | None = Field(default=None, description="the partner's kind, while this service does not know it yet")
    municipalities: list[str] | None = Field(
        default=None, description="the partner's municipalities, used while this service does not know the partner yet"
    )
    steps: list[ChainStepBody] | None = None


class MergeBody(CamelBody):
    into_id: str | None = None


class ReclassificationBody(CamelBody):
    category: str | None = None
    area: str | None = None


@functools.cache
def _secret_box(key_material: str) -> SecretBox:
    return SecretBox(key_material)


def _box(runtime: ServiceRuntime) -> SecretBox:
    """Contacts are sealed with the service's SECRETS_KEY (raises when none is configured)."""
    return _secret_box(runtime.settings.secrets_key)


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


def _required_text(field: str, value: str | None) -> str:
    errors = FieldErrors()
    text = _text(errors, field, value, required=True)
    errors.raise_if_any()
    assert text is not None
    return text


# --- intake --------------------------------------------------------------------------------------


@router.post("/v1/signals", status_code=201, summary="Report a signal")
async def report_signal(
    body: ReportBody,
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> JSONBody:
    demand(principal, *permissions.roles_for("report"), municipality=body.municipality)
    cmd = _report_command(body, principal, runtime.clock.now(), idempotency_key)
    box = _box(runtime) if cmd.report.contact_email else None
    async with runtime.uow() as uow:
        reported = await handlers.report_signal(uow, cmd, principal, runtime.clock, box=box)
    return JSONBody(reported.answer, status_code=reported.status)


def _report_command(
    body: ReportBody, principal: Principal, now: datetime, idempotency_key: str | None
) -> handlers.ReportSignal:
    """The checked report (every invalid field at once) and its idempotency keys."""
    group_id = body.group_id
    if principal.has(Role.GROUP_ADMIN) and not principal.has(Role.COORDINATOR):
        group_id = group_id or principal.partner_id
        if group_id != principal.partner_id:
            raise Forbidden("a group admin reports for their own WhatsApp group")
    elif group_id is not None and not permissions.may_report_for_group(principal, group_id):
        raise Forbidden("only the group's admins report for a group")
    if body.forward and not principal.has(*permissions.roles_for("forward")):
        raise Forbidden(f"forwarding a report requires role {' or '.join(permissions.roles_for('forward'))}")
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
    errors = check_report(report, now, frozenset(allowed))
    for name, value in (("clientRequestId", body.client_request_id), ("Idempotency-Key", idempotency_key)):
        if value is not None and not 1 <= len(value) <= 200:
            errors.add(name, "must be 1 to 200 characters")
    errors.raise_if_any()
    keys = [f"key:{idempotency_key}"] if idempotency_key else []
    if body.client_request_id:
        keys.append(f"client:{body.client_request_id}")
    body_hash = idempotency.request_hash(body.model_dump(mode="json", by_alias=True, exclude_none=True))
    return handlers.ReportSignal(
        report, f"signals.intake:{principal.sub}", tuple(keys), body_hash, forward=bool(body.forward)
    )


# --- reads ---------------------------------------------------------------------------------------


@router.get("/v1/advice", summary="The advice for a report before it is written (what to call, in Dutch)")
async def advice(
    principal: CurrentPrincipal, category: str = "", urgency: str = "", source: str | None = None
) -> JSONBody:
    demand(principal, *permissions.roles_for("advice"))
    errors = FieldErrors()
    if category not in Category._value2member_map_:
        errors.add("category", f"unknown category; one of {', '.join(c.value for c in Category)}")
    if urgency not in Urgency._value2member_map_:
        errors.add("urgency", f"unknown urgency; one of {', '.join(u.value for u in Urgency)}")
    if source is not None and source not in SignalSource._value2member_map_:
        errors.add("source", f"unknown source; one of {', '.join(s.value for s in SignalSource)}")
    errors.raise_if_any()
    given = advice_for(Category(category), Urgency(urgency), SignalSource(source) if source else None)
    return JSONBody({"call": given.call, "text": given.text})


def _statuses(value: str | None, errors: FieldErrors) -> list[str]:
    if not value:
        return []
    codes = [v.strip().lower() for v in value.split(",") if v.strip()]
    for code in codes:
        if code not in SignalStatus._value2member_map_:
            errors.add("status", f"unknown status {code!r}")
    return codes


async def _list(
    runtime: ServiceRuntime, principal: Principal, q: store.Query, first: int, after: str | None
) -> JSONBody:
    size = page_size(first)
    cursor = decode_keyset(after)
    now = runtime.clock.now()
    async with runtime.uow() as uow:
        signals, total, last = await store.list_signals(uow.session, q, first=size, after=cursor, now=now)
    return JSONBody(listing([signal_json(s, principal, now) for s in signals], total, last))


def _bbox(value: str | None, errors: FieldErrors) -> tuple[float, float, float, float] | None:
    """`minLon,minLat,maxLon,maxLat` in WGS84 (CONTRACT.md rule 15)."""
    if value is None:
        return None
    try:
        box = tuple(float(v) for v in value.split(","))
    except ValueError:
        box = ()
    if len(box) != 4 or not all(math.isfinite(v) for v in box):
        errors.add("bbox", "must be minLon,minLat,maxLon,maxLat: four numbers")
        return None
    min_lon, min_lat, max_lon, max_lat = box
    if not (-180 <= min_lon <= max_lon <= 180 and -90 <= min_lat <= max_lat <= 90):
        errors.add("bbox", "must be minLon,minLat,maxLon,maxLat in WGS84, each minimum at most its maximum")
        return None
    return min_lon, min_lat, max_lon, max_lat


def _references(value: str | None, errors: FieldErrors) -> list[str] | None:
    if value is None:
        return None
    found = [r.strip() for r in value.split(",") if r.strip()]
    if len(found) > MAX_IDS:
        errors.add("references", f"at most {MAX_IDS} references")
    return found


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
    references: str | None = None,
    bbox: str | None = None,
    first: int | None = None,
    after: str | None = None,
) -> JSONBody:
    """Newest first; with `partnerId` the signals escalated to that partner, oldest escalation
    first (a catch-up feed). `ids` (and `references`, for Open311) is a batch read: without
    `first` it answers all of them."""
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
    wanted = parse_ids(ids, errors)
    by_reference = _references(references, errors)
    box = _bbox(bbox, errors)
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            errors.add(name, "must carry a time zone (RFC 3339)")
    errors.raise_if_any()
    clauses, params = permissions.visibility_clauses(principal)
    size = first if first is not None else max(50, min(len(wanted or []) + len(by_reference or []), 200))
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
        references=by_reference,
        bbox=box,
        visibility=clauses,
        params=params,
    )
    return await _list(runtime, principal, q, size, after)


MAP_LIMIT = 5000
FINAL = frozenset({SignalStatus.REJECTED.value, SignalStatus.MERGED.value, SignalStatus.CLOSED.value})


def _coarse(value: float, final: bool) -> float:
    """A final signal's position to about 50 m (CONTRACT.md rule 15)."""
    return round(value * 2000) / 2000 if final else value


@router.get(
    "/v1/signals.geojson",
    summary="The signals with a location in a bounding box, as GeoJSON (newest first, at most 5,000)",
    response_class=JSONBody,
    responses={200: {"content": {"application/geo+json": {}}}},
)
async def signals_geojson(
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    municipality: str = "",
    bbox: str = "",
    status: str | None = None,
) -> JSONBody:
    demand(principal, *permissions.roles_for("read"), municipality=municipality or None)
    errors = FieldErrors()
    if not municipality:
        errors.add("municipality", "must not be empty")
    statuses = _statuses(status, errors)
    if not bbox:
        errors.add("bbox", "must not be empty")
    box = _bbox(bbox or None, errors)
    errors.raise_if_any()
    clauses, params = permissions.visibility_clauses(principal)
    q = store.Query(municipalities=[municipality], statuses=statuses, bbox=box, visibility=clauses, params=params)
    async with runtime.uow() as uow:
        points, truncated = await store.map_points(uow.session, q, limit=MAP_LIMIT, now=runtime.clock.now())
    features = [
        {
            "type": "Feature",
            "id": str(p.id),
            "geometry": {
                "type": "Point",
                "coordinates": [_coarse(p.lon, p.status in FINAL), _coarse(p.lat, p.status in FINAL)],
            },
            "properties": {
                "id": str(p.id),
                "reference": p.reference,
                "area": p.area,
                "category": p.category,
                "urgency": p.urgency,
                "status": p.status,
                "reportedAt": rfc3339(p.reported_at),
            },
        }
        for p in points
    ]
    body: dict[str, object] = {"type": "FeatureCollection", "features": features}
    if truncated:
        body["truncated"] = True
    return JSONBody(body, media_type="application/geo+json")


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
        signal = await handlers.readable_signal(uow, _uuid(signal_id), principal)
        await privacy.audit_description_read(uow, signal, principal, runtime.clock)
    return JSONBody(signal_json(signal, principal, runtime.clock.now()))


# --- commands ------------------------------------------------------------------------------------

Command = TypeVar("Command")


async def _change(
    runtime: ServiceRuntime,
    principal: Principal,
    handler: Callable[[UnitOfWork, Command, Principal, Clock], Awaitable[Signal]],
    cmd: Command,
) -> JSONBody:
    async with runtime.uow() as uow:
        signal = await handler(uow, cmd, principal, runtime.clock)
    return JSONBody(signal_json(signal, principal, runtime.clock.now()))


@router.post("/v1/signals/{signal_id}/escalation", summary="Escalate (forward) to a partner")
async def escalate(signal_id: str, body: EscalationBody, principal: CurrentPrincipal, runtime: RuntimeDep) -> JSONBody:
    sid, errors = _uuid(signal_id), FieldErrors()
    reason = _text(errors, "reason", body.reason, required=False)
    partner_id: UUID | None = None
    if body.partner_id:
        try:
            partner_id = UUID(body.partner_id)
        except ValueError:
            errors.add("partnerId", "must be a partner id (uuid)")
    errors.raise_if_any()
    return await _change(runtime, principal, handlers.escalate, handlers.Escalate(sid, partner_id, reason))


@router.post("/v1/signals/{signal_id}/acknowledgement", summary="Acknowledge, with a message for the reporters")
async def acknowledge(
    signal_id: str, body: AcknowledgementBody, principal: CurrentPrincipal, runtime: RuntimeDep
) -> JSONBody:
    sid, errors = _uuid(signal_id), FieldErrors()
    message = _text(errors, "message", body.message, required=False)
    group_message = _text(errors, "groupMessage", body.group_message, required=False)
    errors.raise_if_any()
    return await _change(runtime, principal, handlers.acknowledge, handlers.Acknowledge(sid, message, group_message))


@router.post("/v1/signals/{signal_id}/resolution", summary="Resolve, with feedback for the reporters")
async def resolve(signal_id: str, body: ResolutionBody, principal: CurrentPrincipal, runtime: RuntimeDep) -> JSONBody:
    sid, errors = _uuid(signal_id), FieldErrors()
    feedback = _text(errors, "feedback", body.feedback, required=True)
    group_message = _text(errors, "groupMessage", body.group_message, required=False)
    errors.raise_if_any()
    assert feedback is not None
    return await _change(runtime, principal, handlers.resolve, handlers.Resolve(sid, feedback, group_message))


@router.post("/v1/signals/{signal_id}/rejection", summary="Reject (coordinator)")
async def reject(signal_id: str, body: ReasonBody, principal: CurrentPrincipal, runtime: RuntimeDep) -> JSONBody:
    sid = _uuid(signal_id)
    reason = _required_text("reason", body.reason)
    return await _change(runtime, principal, handlers.reject, handlers.Reject(sid, reason))


@router.post("/v1/signals/{signal_id}/merge", summary="Merge into another open signal (coordinator)")
async def merge(signal_id: str, body: MergeBody, principal: CurrentPrincipal, runtime: RuntimeDep) -> JSONBody:
    sid = _uuid(signal_id)
    try:
        into_id = UUID(body.into_id or "")
    except ValueError:
        raise ValidationFailed([FieldError("intoId", "must be a signal id (uuid)")]) from None
    return await _change(runtime, principal, handlers.merge, handlers.Merge(sid, into_id))


@router.post("/v1/signals/{signal_id}/reclassification", summary="Change category or area; routes again")
async def reclassify(
    signal_id: str, body: ReclassificationBody, principal: CurrentPrincipal, runtime: RuntimeDep
) -> JSONBody:
    sid, errors = _uuid(signal_id), FieldErrors()
    if body.category is None and body.area is None:
        errors.add("category", "give a category, an area, or both")
    if body.category is not None and body.category not in Category._value2member_map_:
        errors.add("category", f"unknown category {body.category!r}")
    errors.raise_if_any()
    category = Category(body.category) if body.category else None
    return await _change(runtime, principal, handlers.reclassify, handlers.Reclassify(sid, category, body.area))


@router.post("/v1/signals/{signal_id}/reopening", summary="Reopen within 14 days of resolution")
async def reopen(signal_id: str, body: ReasonBody, principal: CurrentPrincipal, runtime: RuntimeDep) -> JSONBody:
    sid = _uuid(signal_id)
    reason = _required_text("reason", body.reason)
    window = timedelta(seconds=float(getattr(runtime.settings, "reopen_window_seconds", 14 * 86400)))
    return await _change(runtime, principal, handlers.reopen, handlers.Reopen(sid, reason, window))


@router.post(
    "/v1/signals/{signal_id}/question",
    summary="Ask the reporters a question (the partner it is escalated to); the acknowledge-by clock pauses",
)
async def ask_reporter(
    signal_id: str, body: QuestionBody, principal: CurrentPrincipal, runtime: RuntimeDep
) -> JSONBody:
    cmd = handlers.AskReporter(_uuid(signal_id), body.question)
    return await _change(runtime, principal, handlers.ask_reporter, cmd)


@router.post("/v1/signals/{signal_id}/answer", summary="Answer the open question (a reporter of the signal)")
async def answer_question(
    signal_id: str, body: AnswerBody, principal: CurrentPrincipal, runtime: RuntimeDep
) -> JSONBody:
    cmd = handlers.AnswerQuestion(_uuid(signal_id), body.answer)
    return await _change(runtime, principal, handlers.answer_question, cmd)


@router.post(
    "/v1/signals/{signal_id}/transfer",
    summary="Transfer to another partner (the partner it is escalated to, or a coordinator)",
)
async def transfer(signal_id: str, body: TransferBody, principal: CurrentPrincipal, runtime: RuntimeDep) -> JSONBody:
    cmd = handlers.Transfer(_uuid(signal_id), body.partner_id, body.reason)
    return await _change(runtime, principal, handlers.transfer, cmd)


@router.post(
    "/v1/signals/{signal_id}/involvement",
    summary="Involve a co-handler (the partner it is escalated to, or a coordinator)",
)
async def involve(signal_id: str, body: InvolvementBody, principal: CurrentPrincipal, runtime: RuntimeDep) -> JSONBody:
    cmd = handlers.Involve(_uuid(signal_id), body.partner_id, body.reason)
    return await _change(runtime, principal, handlers.involve, cmd)


@router.post(
    "/v1/signals/{signal_id}/rating",
    summary="Rate the resolution (a reporter; within 14 days of it; rating again replaces)",
)
async def rate(signal_id: str, body: RatingBody, principal: CurrentPrincipal, runtime: RuntimeDep) -> JSONBody:
    cmd = handlers.Rate(_uuid(signal_id), body.satisfied, body.comment)
    return await _change(runtime, principal, handlers.rate, cmd)


@router.post(
    "/v1/signals/{signal_id}/feedback",
    summary="Add feedback for the reporters (the partner it is escalated to, or an involved one; while open)",
)
async def add_feedback(
    signal_id: str, body: FeedbackBody, principal: CurrentPrincipal, runtime: RuntimeDep
) -> JSONBody:
    cmd = handlers.AddFeedback(_uuid(signal_id), body.message)
    return await _change(runtime, principal, handlers.add_feedback, cmd)


@router.put(
    "/v1/signals/{signal_id}/external-reference",
    summary="Record the partner's own case number, e.g. a police case number (the partner it is escalated to)",
)
async def set_external_reference(
    signal_id: str, body: ExternalReferenceBody, principal: CurrentPrincipal, runtime: RuntimeDep
) -> JSONBody:
    cmd = handlers.SetExternalReference(_uuid(signal_id), body.reference)
    return await _change(runtime, principal, handlers.set_external_reference, cmd)


# --- chains --------------------------------------------------------------------------------------


def _steps_json(steps: list[ChainStep]) -> list[dict[str, object]]:
    return [
        {
            "category": s.category.value if s.category else None,
            "nextPartnerId": str(s.next_partner_id),
            "afterMinutes": s.after_minutes,
        }
        for s in steps
    ]


def _chain_command(partner_id: UUID | None, body: ChainBody, *, keep: bool) -> handlers.SetChain:
    return handlers.SetChain(
        partner_id,
        keep,
        tuple(body.municipalities or ()),
        tuple((s.category, s.next_partner_id, s.after_minutes) for s in body.steps or ()),
        body.kind,
    )


@router.put(
    "/v1/partners/{partner_id}/chain",
    summary="Replace a partner's chain (who may manage the partner); no steps removes it",
)
async def set_chain(partner_id: str, body: ChainBody, principal: CurrentPrincipal, runtime: RuntimeDep) -> JSONBody:
    demand(principal, *permissions.roles_for("chain"))
    pid = _uuid(partner_id)
    async with runtime.uow() as uow:
        steps = await handlers.set_chain(uow, _chain_command(pid, body, keep=True), principal, runtime.clock)
    return JSONBody({"partnerId": str(pid), "steps": _steps_json(steps)})


@router.post(
    "/v1/partner-chains/validation",
    summary="Check chain steps before a partner is registered or updated (its municipalities given); nothing is stored",
)
async def check_chain(body: ChainBody, principal: CurrentPrincipal, runtime: RuntimeDep) -> JSONBody:
    demand(principal, *permissions.roles_for("chain"))
    async with runtime.uow() as uow:
        pid = _optional_uuid(body.partner_id)
        steps = await handlers.set_chain(uow, _chain_command(pid, body, keep=False), principal, runtime.clock)
    return JSONBody({"partnerId": body.partner_id, "steps": _steps_json(steps)})


def _optional_uuid(value: str | None) -> UUID | None:
    if value is None:
        return None
    try:
        return UUID(value)
    except ValueError:
        raise ValidationFailed([FieldError("partnerId", "must be a partner id (uuid)")]) from None


@router.get(
    "/v1/partner-chains", summary="The chains of partners (?ids=a,b); none for partners the caller may not know"
)
async def read_chains(principal: CurrentPrincipal, runtime: RuntimeDep, ids: str = "") -> JSONBody:
    demand(principal, *permissions.roles_for("read"))
    errors = FieldErrors()
    wanted = parse_ids(ids, errors) or []
    errors.raise_if_any()
    async with runtime.uow() as uow:
        found = await handlers.read_chains(uow, wanted, principal)
    return JSONBody({"results": [{"partnerId": str(pid), "steps": _steps_json(steps)} for pid, steps in found.items()]})


# --- internal ------------------------------------------------------------------------------------


@router.get("/internal/v1/signals/{signal_id}/contacts", summary="Reporters' contacts (notifications only)")
async def contacts(signal_id: str, principal: CurrentPrincipal, runtime: RuntimeDep) -> JSONBody:
    box = _box(runtime) if runtime.settings.secrets_key else None
    async with runtime.uow() as uow:
        found = await handlers.read_contacts(uow, _uuid(signal_id), principal, box)
    return JSONBody({"contacts": found})
