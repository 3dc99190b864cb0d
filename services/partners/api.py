"""REST API of the partner directory: parse, call a handler, shape the answer.

Errors in order: 401 (token), 404 (another municipality's partner) / 403 (role), 400 (all
invalid fields at once), 409 (state: a duplicate name).
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from typing import Annotated, Any, TypeVar
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import Response
from fastapi.security import HTTPBearer

from services.partners import handlers, permissions
from services.partners.domain import parse_partner_id
from services.partners.handlers import Page
from services.partners.schemas import (
    ContactBody,
    ContactList,
    ContactOut,
    PartnerList,
    PartnerOut,
    PartnerWithSecret,
    RegisterPartnerBody,
    UpdatePartnerBody,
    WebhookSecrets,
)
from services.partners.store import PartnerFilter
from services.partners.views import full, show_contact, shown_to
from shared.areas import FORM_RULE, is_municipality, parse_or_none
from shared.auth import CurrentPrincipal, ServicePrincipal
from shared.errors import FieldErrors, ValidationFailed
from shared.events.codes import Category, PartnerKind
from shared.http import JSONBody
from shared.idempotency import request_hash
from shared.pagination import MAX_PAGE, Keyset, decode_keyset, listing, page_size, parse_ids
from shared.runtime import RuntimeDep

bearer = HTTPBearer(auto_error=False, description="a JWT (audience wijkaanpak) from the platform's issuer")
router = APIRouter(prefix="/v1/partners", tags=["partners"], dependencies=[Depends(bearer)])
internal = APIRouter(prefix="/internal/v1/partners", tags=["internal"], dependencies=[Depends(bearer)])
PROBLEMS: dict[int | str, dict[str, Any]] = {
    400: {"description": "invalid input, every invalid field in `invalidParams` (problem+json)"},
    401: {"description": "no or an invalid token"},
    403: {"description": "the caller's role may not do this"},
    404: {"description": "no such partner, or another municipality's (its existence is not revealed)"},
}
Code = TypeVar("Code", bound=Enum)


def get_config(request: Request) -> handlers.Config:
    config: handlers.Config = request.app.state.partners
    return config


ConfigDep = Annotated[handlers.Config, Depends(get_config)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="a retry with the same key and body answers the first result; another body is 422",
    ),
]


def _listing(results: list[dict[str, Any]], page: Page[Any]) -> JSONBody:
    return JSONBody(listing(results, page.total, page.last))


# --- partners ------------------------------------------------------------------------------------


@router.post(
    "",
    status_code=201,
    response_model=PartnerWithSecret,
    responses={
        **PROBLEMS,
        409: {"description": "a partner of that name exists in one of its municipalities"},
        422: {"description": "Idempotency-Key reused with another body"},
    },
    summary="Register a partner",
    description=(
        "A coordinator of every municipality listed, or a region admin for a partner spanning several of its"
        " municipalities. Answers the partner and its webhook secret, which is shown only here. Emits"
        " `partner.registered`."
    ),
)
async def register_partner(
    body: RegisterPartnerBody,
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    config: ConfigDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONBody:
    fields = body.model_dump(mode="json", by_alias=True)
    cmd = handlers.Register(body.registration(), idempotency_key, request_hash(fields))
    async with runtime.uow() as uow:
        status, answer = await handlers.register(uow, cmd, principal, runtime.clock, config=config)
    return JSONBody(answer, status_code=status)


@router.get(
    "",
    response_model=PartnerList,
    responses=PROBLEMS,
    summary="List partners",
    description=(
        "Partners of the caller's municipalities in registration order. `area`: partners whose coverage"
        " contains it (a BU is covered by its WK and its GM); `category`: partners handling it; `ids`:"
        " a comma-separated batch. Each partner is shown as its reader may see it (names, kinds and areas"
        " only for users who do not manage partners and do not work for it)."
    ),
)
async def list_partners(
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    municipality: Annotated[str | None, Query(description="GM code")] = None,
    area: Annotated[str | None, Query(description="GM, WK or BU code")] = None,
    category: Annotated[str | None, Query(description="category code")] = None,
    kind: Annotated[str | None, Query(description="partner kind code")] = None,
    active: bool | None = None,
    ids: Annotated[
        str | None, Query(description=f"comma-separated partner ids (up to {MAX_PAGE}, answered on one page)")
    ] = None,
    first: int = 50,
    after: str | None = None,
) -> JSONBody:
    errors = FieldErrors()
    place, covering = _place(municipality, area, errors)
    permissions.demand_listed(principal, place)
    selection = PartnerFilter(
        municipality=place,
        covering=covering,
        category=_code(Category, "category", category, errors),
        kind=_code(PartnerKind, "kind", kind, errors),
        active=active,
        ids=parse_ids(ids, errors),
    )
    size, cursor = _page(first, after, selection.ids, errors)
    errors.raise_if_any()
    async with runtime.uow() as uow:
        page = await handlers.list_partners(uow, handlers.ListPartners(selection, size, cursor), principal)
    return _listing([shown_to(principal, p) for p in page.items], page)


def _place(municipality: str | None, area: str | None, errors: FieldErrors) -> tuple[str | None, list[str]]:
    """The municipality the list keeps to (the one given, or the area's) and, for an area, the
    areas whose partners cover it (a BU is covered by its WK and its GM)."""
    if municipality is not None and not is_municipality(municipality):
        errors.add("municipality", "must be a CBS municipality code: GM + 4 digits")
    covering: list[str] = []
    parsed = parse_or_none(area) if area is not None else None
    if area is not None:
        if parsed is None:
            errors.add("area", FORM_RULE)
        elif municipality is not None and not parsed.lies_in(municipality):
            errors.add("area", "does not lie in the municipality")
        else:
            covering = [a.code for a in parsed.enclosing()]
    return municipality or (parsed.municipality if parsed else None), covering


def _code(codes: type[Code], field: str, value: str | None, errors: FieldErrors) -> Code | None:
    if value is None:
        return None
    try:
        return codes(value)
    except ValueError:
        errors.add(field, f"unknown {field} {value!r}")
        return None


def _page(first: int, after: str | None, ids: Sequence[UUID] | None, errors: FieldErrors) -> tuple[int, Keyset | None]:
    """The page size (a batch read answers all its ids on one page) and the cursor, their
    problems reported with the other fields'."""
    size, cursor = 1, None
    try:
        size = page_size(first)
        if ids:
            size = min(MAX_PAGE, max(size, len(ids)))
    except ValidationFailed as exc:
        errors.items.extend(exc.fields)
    try:
        cursor = decode_keyset(after)
    except ValidationFailed as exc:
        errors.items.extend(exc.fields)
    return size, cursor


@router.get(
    "/{partner_id}",
    response_model=PartnerOut,
    responses=PROBLEMS,
    summary="Read a partner",
    description=(
        "Managers of its municipalities and the partner's own staff see everything; other users of its"
        " municipalities see id, name, kind, municipalities, areas and active (the rest null)."
    ),
)
async def read_partner(partner_id: str, principal: CurrentPrincipal, runtime: RuntimeDep) -> JSONBody:
    async with runtime.uow() as uow:
        partner = await handlers.read_partner(uow, parse_partner_id(partner_id), principal)
    return JSONBody(shown_to(principal, partner))


@router.patch(
    "/{partner_id}",
    response_model=PartnerOut,
    responses={**PROBLEMS, 409: {"description": "the new name is taken in one of its municipalities"}},
    summary="Change a partner",
    description=(
        "Only the fields present change. Emits `partner.updated` at the next version, or"
        " `partner.deactivated` when `active` turns false; a change that changes nothing emits nothing."
    ),
)
async def update_partner(
    partner_id: str, body: UpdatePartnerBody, principal: CurrentPrincipal, runtime: RuntimeDep, config: ConfigDep
) -> JSONBody:
    cmd = handlers.Update(parse_partner_id(partner_id), body.changes())
    async with runtime.uow() as uow:
        partner = await handlers.update(uow, cmd, principal, runtime.clock, config=config)
    return JSONBody(full(partner))


@router.post(
    "/{partner_id}/deactivation",
    response_model=PartnerOut,
    responses=PROBLEMS,
    summary="Deactivate a partner",
    description="No more routing or deliveries. Emits `partner.deactivated`; an inactive partner stays as it is.",
)
async def deactivate_partner(partner_id: str, principal: CurrentPrincipal, runtime: RuntimeDep) -> JSONBody:
    async with runtime.uow() as uow:
        partner = await handlers.deactivate(uow, parse_partner_id(partner_id), principal, runtime.clock)
    return JSONBody(full(partner))


# --- webhook secrets -----------------------------------------------------------------------------


@router.post(
    "/{partner_id}/webhook-secret",
    response_model=PartnerWithSecret,
    responses=PROBLEMS,
    summary="Rotate the webhook secret",
    description=(
        "A new secret, shown only in this answer. The previous ones stay valid for the configured overlap"
        " (default 24 hours), during which webhooks carry one signature per valid secret."
    ),
)
async def rotate_webhook_secret(
    partner_id: str, principal: CurrentPrincipal, runtime: RuntimeDep, config: ConfigDep
) -> JSONBody:
    async with runtime.uow() as uow:
        partner, secret = await handlers.rotate_secret(
            uow, parse_partner_id(partner_id), principal, runtime.clock, config=config
        )
    return JSONBody({"partner": full(partner), "webhookSecret": secret})


@internal.get(
    "/{partner_id}/webhook-secrets",
    response_model=WebhookSecrets,
    responses=PROBLEMS,
    summary="Webhook secrets to sign with (notifications only)",
    description=(
        "Every currently valid secret of the partner, newest first. Only for the notifications service's"
        " own credentials (role `service`, sub `notifications`); every read is audited."
    ),
)
async def webhook_secrets(
    partner_id: str, principal: ServicePrincipal, runtime: RuntimeDep, config: ConfigDep
) -> JSONBody:
    async with runtime.uow() as uow:
        found = await handlers.valid_secrets(uow, partner_id, principal, runtime.clock, config=config)
    return JSONBody({"secrets": found})


# --- contacts ------------------------------------------------------------------------------------


@router.get(
    "/{partner_id}/contacts",
    response_model=ContactList,
    responses=PROBLEMS,
    summary="List a partner's contacts",
    description="Visible to coordinators and region admins of its municipalities and to the partner's own staff.",
)
async def list_contacts(
    partner_id: str, principal: CurrentPrincipal, runtime: RuntimeDep, first: int = 50, after: str | None = None
) -> JSONBody:
    cmd = handlers.ListContacts(parse_partner_id(partner_id), first, after)
    async with runtime.uow() as uow:
        page = await handlers.list_contacts(uow, cmd, principal)
    return _listing([show_contact(c) for c in page.items], page)


@router.post(
    "/{partner_id}/contacts",
    status_code=201,
    response_model=ContactOut,
    responses={**PROBLEMS, 422: {"description": "Idempotency-Key reused with another body"}},
    summary="Add a contact",
    description="A person at the partner (name, role, e-mail); for a WhatsApp group its admins. By its managers.",
)
async def add_contact(
    partner_id: str,
    body: ContactBody,
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    config: ConfigDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONBody:
    fields = body.model_dump(mode="json", by_alias=True)
    cmd = handlers.AddContact(parse_partner_id(partner_id), fields, idempotency_key, request_hash(fields))
    async with runtime.uow() as uow:
        status, answer = await handlers.add_contact(uow, cmd, principal, runtime.clock, config=config)
    return JSONBody(answer, status_code=status)


@router.delete(
    "/{partner_id}/contacts/{contact_id}",
    status_code=204,
    responses=PROBLEMS,
    summary="Remove a contact",
    description="By the partner's managers.",
)
async def remove_contact(
    partner_id: str, contact_id: str, principal: CurrentPrincipal, runtime: RuntimeDep
) -> Response:
    try:
        contact: UUID | None = UUID(contact_id)
    except ValueError:
        contact = None
    async with runtime.uow() as uow:
        await handlers.remove_contact(uow, handlers.RemoveContact(parse_partner_id(partner_id), contact), principal)
    return Response(status_code=204)
