"""Open311 GeoReport v2 at /open311/v2 (CONTRACT.md "More REST at the gateway", rule 14), for the
civic apps that speak it: discovery, services, service definitions, POST requests (form or JSON)
and request status.

A POST runs the GraphQL `reportSignal` mutation of this gateway in-process, so auth, idempotency
(`Idempotency-Key` becomes `clientRequestId`), routing, duplicates and escalation are exactly
those of `reportSignal`; reads go to the signals service with the caller's token, as the REST edge
does. Errors are Open311's `[{"code": 400, "description": "..."}]` with the HTTP status equal to
the code (an exception to problem+json, for /open311/ only).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from graphql import GraphQLError
from strawberry.schema.base import BaseSchema

from gateway.context import GatewayContext
from gateway.domain import BAD_USER_INPUT, CONFLICT, FORBIDDEN, NOT_FOUND, RATE_LIMITED, UNAUTHENTICATED
from gateway.settings import Settings
from gateway.upstream import UpstreamError
from shared import areas
from shared.auth import Principal
from shared.errors import DomainError
from shared.events import labels
from shared.events.codes import Category, Role, SignalStatus
from shared.pagination import MAX_PAGE

PREFIX = "/open311/v2"
SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-12-01T00:00:00Z"  # when the service list last changed: the nine categories
MAX_BODY = 1024 * 1024  # CONTRACT.md rule 13
# CONTRACT.md rule 4: what is not open. `open` is every other status (received ... reaction_requested).
NOT_OPEN = frozenset({"resolved", "closed", "rejected", "merged"})
_STATUS = {UNAUTHENTICATED: 401, FORBIDDEN: 403, NOT_FOUND: 404, BAD_USER_INPUT: 400, CONFLICT: 409, RATE_LIMITED: 429}
# reportSignal's field names as Open311 calls them
_FIELDS = {
    "municipality": "jurisdiction_id",
    "area": "attribute[area]",
    "category": "service_code",
    "lat": "lat",
    "lon": "long",
    "description": "description",
    "contactEmail": "email",
    "clientRequestId": "Idempotency-Key",
}
REPORT = """mutation Open311Report($input: ReportSignalInput!) {
  reportSignal(input: $input) { signal { id reference status } duplicate advice }
}"""
MERGED_NOTICE = "Deze melding is samengevoegd met een eerdere melding over hetzelfde; u hoort wat ermee gebeurt."


class Open311Error(Exception):
    """One or more errors of one status, as Open311 lists them."""

    def __init__(self, code: int, *descriptions: str) -> None:
        super().__init__(descriptions[0] if descriptions else "")
        self.code = code
        self.descriptions = descriptions or ("",)


def _json(body: object, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def error_response(error: Open311Error) -> Response:
    return _json([{"code": error.code, "description": d} for d in error.descriptions], error.code)


def _service(category: Category) -> dict[str, Any]:
    return {
        "service_code": category.value,
        "service_name": labels.label(category),
        "description": labels.label(category),
        "metadata": True,
        "type": "realtime",
        "keywords": "",
        "group": "veiligheid en leefbaarheid",
    }


def _definition(category: Category) -> dict[str, Any]:
    return {
        "service_code": category.value,
        "attributes": [
            {
                "variable": True,
                "code": "area",
                "datatype": "string",
                "required": False,
                "datatype_description": "CBS-code van de buurt (BU + 8 cijfers) of wijk (WK + 6 cijfers)",
                "order": 1,
                "description": "Buurt of wijk van de melding; verplicht waar geen buurtgrenzen geladen zijn",
            }
        ],
    }


def _category(code: str) -> Category | None:
    return Category._value2member_map_.get(code) if code == code.lower() else None  # type: ignore[return-value]


def _jurisdiction(value: str | None, principal: Principal | None = None) -> str:
    if not value:
        raise Open311Error(400, "jurisdiction_id is required (the CBS code of the municipality, GM + 4 digits)")
    if not areas.is_municipality(value):
        raise Open311Error(400, "jurisdiction_id must be the CBS code of a municipality (GM + 4 digits)")
    if principal is not None and not principal.acts_in(value):
        raise Open311Error(404, f"jurisdiction_id {value} not found")
    return value


def _forbid_key_in_url(request: Request) -> None:
    if "api_key" in request.query_params:
        raise Open311Error(400, "api_key belongs in the request body or an Authorization header, never in the URL")


def build_router(schema: BaseSchema) -> APIRouter:
    """The Open311 routes; POST requests.json runs `reportSignal` on `schema` (the gateway's own)."""
    router = APIRouter(prefix=PREFIX, tags=["Open311 GeoReport v2"])

    @router.get("/discovery.json", summary="Open311 service discovery")
    async def discovery(request: Request) -> Response:
        settings: Settings = request.app.state.settings
        return _json(
            {
                "changeset": CHANGESET,
                "contact": "De wijkcoördinator van uw gemeente",
                "key_service": "Een token (api_key) geeft uw gemeente; bewoners melden met het token van hun app",
                "endpoints": [
                    {
                        "specification": SPECIFICATION,
                        "url": f"{settings.public_base_url.rstrip('/')}{PREFIX}",
                        "changeset": CHANGESET,
                        "type": "production",
                        "formats": ["application/json"],
                    }
                ],
            }
        )

    @router.get("/services.json", summary="The nine categories as Open311 services")
    async def services(request: Request) -> Response:
        try:
            if "jurisdiction_id" in request.query_params:
                _jurisdiction(request.query_params["jurisdiction_id"])
        except Open311Error as exc:
            return error_response(exc)
        return _json([_service(c) for c in Category])

    @router.get("/services/{service_code}.json", summary="A service definition (its one attribute: area)")
    async def service_definition(service_code: str, request: Request) -> Response:
        category = _category(service_code)
        if category is None:
            return error_response(Open311Error(404, f"service_code {service_code[:40]!r} not found"))
        return _json(_definition(category))

    @router.post("/requests.json", status_code=201, summary="Report (form-encoded or JSON)")
    async def create_request(request: Request) -> Response:
        try:
            return await _report(request, schema)
        except Open311Error as exc:
            return error_response(exc)

    @router.get("/requests.json", summary="Requests by service_request_id (comma-separated), else the latest")
    async def list_requests(request: Request) -> Response:
        try:
            return _json(await _requests(request, request.query_params.get("service_request_id")))
        except Open311Error as exc:
            return error_response(exc)

    @router.get("/requests/{service_request_id}.json", summary="One request by reference or id")
    async def get_request(service_request_id: str, request: Request) -> Response:
        try:
            found = await _requests(request, service_request_id)
        except Open311Error as exc:
            return error_response(exc)
        if not found:
            return error_response(Open311Error(404, f"service_request_id {service_request_id[:40]!r} not found"))
        return _json(found[:1])

    return router


def _context(request: Request, token: str | None) -> GatewayContext:
    state = request.app.state
    authorization = request.headers.get("authorization")
    if token:
        authorization = f"Bearer {token}"
    return GatewayContext(
        settings=state.settings,
        upstream=state.upstream,
        authenticator=state.authenticator,
        authorization=authorization,
        feed=None,
    )


def _principal(context: GatewayContext) -> Principal:
    try:
        return context.principal
    except DomainError as exc:
        raise Open311Error(401, f"a valid token is required (api_key or Authorization: Bearer): {exc.detail}") from exc


async def _form(request: Request) -> dict[str, Any]:
    """The POST body as a flat mapping; `attribute: {"area": ..}` in JSON becomes `attribute[area]`."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
        raise Open311Error(413, "the request body is larger than 1 MiB")
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise Open311Error(413, "the request body is larger than 1 MiB")
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media == "application/json":
        try:
            body = orjson.loads(raw) if raw else {}
        except orjson.JSONDecodeError:
            raise Open311Error(400, "the body is not valid JSON") from None
        if not isinstance(body, dict):
            raise Open311Error(400, "the body must be a JSON object")
        attributes = body.pop("attribute", None)
        if isinstance(attributes, Mapping):
            body.update({f"attribute[{k}]": v for k, v in attributes.items()})
        return body
    if media in ("application/x-www-form-urlencoded", ""):
        try:
            return dict(parse_qsl(raw.decode(), keep_blank_values=True))
        except UnicodeDecodeError:
            raise Open311Error(400, "the body is not UTF-8") from None
    raise Open311Error(400, "send the request form-encoded or as JSON")


def _number(form: Mapping[str, Any], name: str, low: float, high: float, errors: list[str]) -> float | None:
    value = form.get(name)
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        errors.append(f"{name} must be a number")
        return None
    if not low <= number <= high:
        errors.append(f"{name} must lie between {low:g} and {high:g}")
    return number


def _report_input(form: Mapping[str, Any], principal: Principal, errors: list[str]) -> dict[str, Any]:
    """reportSignal's input: urgency NORMAL, source APP (a group admin's own group source)."""
    code = str(form.get("service_code") or "")
    category = _category(code)
    if not code:
        errors.append("service_code is required: one of " + ", ".join(c.value for c in Category))
    elif category is None:
        errors.append(f"service_code {code[:40]!r} is not a service of this jurisdiction")
    given = {
        "municipality": form.get("jurisdiction_id"),
        "area": form.get("attribute[area]") or None,
        "category": category.name if category else None,
        "urgency": "NORMAL",
        "description": form.get("description") or "",
        "lat": _number(form, "lat", -90, 90, errors),
        "lon": _number(form, "long", -180, 180, errors),
        "contactEmail": form.get("email") or None,
        "source": None if principal.has(Role.GROUP_ADMIN) else "APP",
    }
    return {k: v for k, v in given.items() if v is not None}


async def _report(request: Request, schema: BaseSchema) -> Response:
    _forbid_key_in_url(request)
    form = await _form(request)
    context = _context(request, str(form.get("api_key") or "") or None)
    principal = _principal(context)
    _jurisdiction(str(form.get("jurisdiction_id") or ""), principal)
    errors: list[str] = []
    report = _report_input(form, principal, errors)
    if errors:
        raise Open311Error(400, *errors)
    key = request.headers.get("idempotency-key")
    if key is not None:
        report["clientRequestId"] = key
    result = await schema.execute(REPORT, variable_values={"input": report}, context_value=context)
    if result.errors:
        raise _from_graphql(result.errors)
    assert result.data is not None
    answer = result.data["reportSignal"]
    notices = [MERGED_NOTICE] if answer["duplicate"] else []
    notices += [answer["advice"]] if answer.get("advice") else []
    body = {
        "service_request_id": answer["signal"]["reference"],
        "service_notice": " ".join(notices) or None,
        "account_id": None,
    }
    return _json([body], 201)


def _from_graphql(errors: list[GraphQLError]) -> Open311Error:
    """reportSignal's coded errors as Open311's; invalid fields by their Open311 names, all at once."""
    first = errors[0]
    code = str((first.extensions or {}).get("code", ""))
    status = _STATUS.get(code, 500)
    if status == 500:
        return Open311Error(500, "internal error")
    descriptions: list[str] = []
    for error in errors:
        fields = (error.extensions or {}).get("fields") or []
        if fields:
            descriptions += [f"{_FIELDS.get(f['field'], f['field'])}: {f['message']}" for f in fields]
        elif "'area'" in error.message:
            descriptions.append("attribute[area] is required where no neighbourhood boundaries are loaded")
        else:
            descriptions.append(error.message)
    return Open311Error(status, *descriptions)


def _requested_ids(value: str | None) -> list[str] | None:
    if value is None:
        return None
    found = [v.strip() for v in value.split(",") if v.strip()]
    if not found:
        raise Open311Error(400, "service_request_id must list at least one id")
    if len(found) > MAX_PAGE:
        raise Open311Error(400, f"service_request_id lists at most {MAX_PAGE} ids")
    return found


def _is_uuid(value: str) -> bool:
    return len(value) == 36 and value.count("-") == 4


async def _requests(request: Request, wanted: str | None) -> list[dict[str, Any]]:
    _forbid_key_in_url(request)
    context = _context(request, None)
    principal = _principal(context)
    query = request.query_params
    jurisdiction = _jurisdiction(query.get("jurisdiction_id"), principal)
    asked = _requested_ids(wanted)
    params: dict[str, Any] = {"municipality": jurisdiction, "first": MAX_PAGE}
    if asked is not None:
        params["ids"] = ",".join(a for a in asked if _is_uuid(a)) or None
        params["references"] = ",".join(a for a in asked if not _is_uuid(a)) or None
    else:
        params.update(_filters(query))
    try:
        body = await context.get("signals", "/v1/signals", **params)
        rows: list[dict[str, Any]] = list(body.get("results") or [])
        partners = await context.partners.load_many([p for r in rows if (p := _agency(r))])
    except UpstreamError as exc:
        raise Open311Error(exc.problem.status if exc.problem.status < 500 else 503, exc.problem.message) from exc
    names = {str(p["id"]): str(p.get("name")) for p in partners if p}
    if asked is not None:  # in the order asked
        position = {a: i for i, a in enumerate(asked)}
        rows.sort(key=lambda r: min(position.get(str(r["id"]), MAX_PAGE), position.get(r["reference"], MAX_PAGE)))
    return [_request_json(r, names) for r in rows]


def _filters(query: Mapping[str, str]) -> dict[str, Any]:
    """GeoReport's optional filters of GET requests: service_code, status, start_date, end_date."""
    errors: list[str] = []
    found: dict[str, Any] = {}
    if code := query.get("service_code"):
        category = _category(code)
        if category is None:
            errors.append(f"service_code {code[:40]!r} is not a service of this jurisdiction")
        else:
            found["category"] = category.value
    if status := query.get("status"):
        wanted = {s.strip() for s in status.split(",") if s.strip()}
        if not wanted <= {"open", "closed"}:
            errors.append("status must be open, closed or both")
        elif wanted == {"closed"}:
            found["status"] = ",".join(sorted(NOT_OPEN))
        elif wanted == {"open"}:
            found["status"] = ",".join(s.value for s in SignalStatus if s.value not in NOT_OPEN)
    for name, param in (("start_date", "since"), ("end_date", "until")):
        if value := query.get(name):
            try:
                moment = datetime.fromisoformat(value)
            except ValueError:
                moment = None
            if moment is None or moment.tzinfo is None:
                errors.append(f"{name} must be a time with a time zone (ISO 8601)")
            else:
                found[param] = moment.isoformat()
    if errors:
        raise Open311Error(400, *errors)
    return found


def _agency(row: Mapping[str, Any]) -> str | None:
    """The partner responsible: the one it is escalated to (the latest escalation), else the routed one."""
    escalations = row.get("escalations") or []
    if escalations:
        return str(escalations[-1]["partnerId"])
    routed = row.get("routedPartnerId")
    return str(routed) if routed else None


def _request_json(row: Mapping[str, Any], names: Mapping[str, str]) -> dict[str, Any]:
    feedback = row.get("feedback") or []  # the signals service shows feedback only to who may read it
    history = [h["at"] for h in row.get("history") or [] if h.get("at")]
    category = Category(row["category"])
    agency = _agency(row)
    return {
        "service_request_id": row["reference"],
        "status": "closed" if row["status"] in NOT_OPEN else "open",
        "status_notes": feedback[-1]["message"] if feedback else None,
        "service_name": labels.label(category),
        "service_code": category.value,
        "description": row.get("description"),
        "agency_responsible": names.get(agency) if agency else None,
        "service_notice": None,
        "requested_datetime": row.get("reportedAt"),
        "updated_datetime": max(history, key=datetime.fromisoformat) if history else row.get("reportedAt"),
        "expected_datetime": row.get("acknowledgeBy"),
        "address": None,
        "address_id": None,
        "zipcode": None,
        "lat": row.get("lat"),
        "long": row.get("lon"),
        "media_url": None,
    }
