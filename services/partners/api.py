"""REST API of the partner directory: parse, authorise, call the directory, answer.

Errors in order: 401 (token), 404 (another municipality's partner) / 403 (role), 400 (all
invalid fields at once), 409 (state: a duplicate name).
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import Response
from fastapi.security import HTTPBearer

from services.partners import permissions
from services.partners.domain import Partner
from services.partners.permissions import View
from services.partners.registry import Authorise, Directory, IdempotencyClaim
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
    show_contact,
    show_partner,
)
from services.partners.store import PartnerFilter, PartnerStore
from shared.areas import FORM_RULE, is_municipality, parse_or_none
from shared.auth import CurrentPrincipal, Principal, ServicePrincipal
from shared.errors import FieldError, FieldErrors, NotFound, ValidationFailed
from shared.events.codes import Category, PartnerKind
from shared.http import JSONBody
from shared.idempotency import request_hash
from shared.observability import get_logger
from shared.pagination import MAX_PAGE, decode_keyset, encode_keyset, page_size, parse_ids

log = get_logger(__name__)
bearer = HTTPBearer(auto_error=False, description="a JWT (audience wijkaanpak) from the platform's issuer")
router = APIRouter(prefix="/v1/partners", tags=["partners"], dependencies=[Depends(bearer)])
internal = APIRouter(prefix="/internal/v1/partners", tags=["internal"], dependencies=[Depends(bearer)])
PROBLEMS: dict[int | str, dict[str, Any]] = {
    400: {"description": "invalid input, every invalid field in `invalidParams` (problem+json)"},
    401: {"description": "no or an invalid token"},
    403: {"description": "the caller's role may not do this"},
    404: {"description": "no such partner, or another municipality's (its existence is not revealed)"},
}
IDEMPOTENCY_KEY_MAX = 200


def get_directory(request: Request) -> Directory:
    directory: Directory = request.app.state.directory
    return directory


DirectoryDep = Annotated[Directory, Depends(get_directory)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="a retry with the same key and body answers the first result; another body is 422",
    ),
]


def partner_uuid(value: str) -> UUID:
    """An id that is no UUID names no partner."""
    try:
        return UUID(value)
    except ValueError as exc:
        raise NotFound("no such partner") from exc


def claim_for(principal: Principal, operation: str, key: str | None, body: Any) -> IdempotencyClaim | None:
    if key is None:
        return None
    if not key or len(key) > IDEMPOTENCY_KEY_MAX:
        raise ValidationFailed([FieldError("Idempotency-Key", f"must be 1 to {IDEMPOTENCY_KEY_MAX} characters")])
    return IdempotencyClaim(f"{operation}:{principal.sub}", key, request_hash(body))


def manager(principal: Principal) -> Authorise:
    def authorise(partner: Partner) -> None:
        permissions.demand_visible(principal, str(partner.id), partner.municipalities)
        permissions.demand_manage(principal, partner.municipalities)

    return authorise


def reader(principal: Principal) -> Authorise:
    def authorise(partner: Partner) -> None:
        permissions.demand_visible(principal, str(partner.id), partner.municipalities)

    return authorise


def contact_reader(principal: Principal) -> Authorise:
    def authorise(partner: Partner) -> None:
        permissions.demand_contacts_visible(principal, str(partner.id), partner.municipalities)

    return authorise


def full(partner: Partner) -> dict[str, Any]:
    return show_partner(partner, View.FULL)


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
    directory: DirectoryDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONBody:
    municipalities = [m for m in body.municipalities if isinstance(m, str)]
    permissions.demand_manage(principal, municipalities)
    claim = claim_for(principal, "register", idempotency_key, body.model_dump(mode="json", by_alias=True))
    status, answer = await directory.register(body.registration(), answer=lambda p: {"partner": full(p)}, claim=claim)
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
    directory: DirectoryDep,
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
    place = municipality or (parsed.municipality if parsed else None)
    visible = principal.is_service or place is None or principal.acts_in(place)
    if not visible and is_municipality(place):
        raise NotFound("no such municipality")
    category_code: Category | None = None
    kind_code: PartnerKind | None = None
    if category is not None:
        try:
            category_code = Category(category)
        except ValueError:
            errors.add("category", f"unknown category {category!r}")
    if kind is not None:
        try:
            kind_code = PartnerKind(kind)
        except ValueError:
            errors.add("kind", f"unknown kind {kind!r}")
    id_list = parse_ids(ids, errors)
    try:
        size = page_size(first)
        if id_list:  # a batch read answers all its ids on one page
            size = min(MAX_PAGE, max(size, len(id_list)))
    except ValidationFailed as exc:
        errors.items.extend(exc.fields)
        size = 1
    try:
        cursor = decode_keyset(after)
    except ValidationFailed as exc:
        errors.items.extend(exc.fields)
        cursor = None
    errors.raise_if_any()
    selection = PartnerFilter(
        visible_in=None if principal.is_service else sorted(principal.municipalities),
        municipality=place,
        covering=covering,
        category=category_code,
        kind=kind_code,
        active=active,
        ids=id_list,
    )
    async with directory.uow() as uow:
        found, total, more = await PartnerStore(uow.session).page(selection, first=size, after=cursor)
    results = [show_partner(p, permissions.view_of(principal, str(p.id), p.municipalities)) for p in found]
    last = found[-1] if found else None
    next_cursor = encode_keyset((last.registered_at, last.id)) if more and last else None
    return JSONBody({"results": results, "totalCount": total, "next": next_cursor})


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
async def read_partner(partner_id: str, principal: CurrentPrincipal, directory: DirectoryDep) -> JSONBody:
    partner = await directory.get(partner_uuid(partner_id), reader(principal))
    return JSONBody(show_partner(partner, permissions.view_of(principal, str(partner.id), partner.municipalities)))


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
    partner_id: str, body: UpdatePartnerBody, principal: CurrentPrincipal, directory: DirectoryDep
) -> JSONBody:
    partner = await directory.update(partner_uuid(partner_id), body.changes(), manager(principal))
    return JSONBody(full(partner))


@router.post(
    "/{partner_id}/deactivation",
    response_model=PartnerOut,
    responses=PROBLEMS,
    summary="Deactivate a partner",
    description="No more routing or deliveries. Emits `partner.deactivated`; an inactive partner stays as it is.",
)
async def deactivate_partner(partner_id: str, principal: CurrentPrincipal, directory: DirectoryDep) -> JSONBody:
    partner = await directory.deactivate(partner_uuid(partner_id), manager(principal))
    return JSONBody(full(partner))


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
async def rotate_webhook_secret(partner_id: str, principal: CurrentPrincipal, directory: DirectoryDep) -> JSONBody:
    partner, secret = await directory.rotate_secret(partner_uuid(partner_id), manager(principal))
    return JSONBody({"partner": full(partner), "webhookSecret": secret})


@router.get(
    "/{partner_id}/contacts",
    response_model=ContactList,
    responses=PROBLEMS,
    summary="List a partner's contacts",
    description="Visible to coordinators and region admins of its municipalities and to the partner's own staff.",
)
async def list_contacts(
    partner_id: str, principal: CurrentPrincipal, directory: DirectoryDep, first: int = 50, after: str | None = None
) -> JSONBody:
    pid = partner_uuid(partner_id)
    await directory.get(pid, contact_reader(principal))  # 404/403 before 400
    found, total, more = await directory.contacts(
        pid, contact_reader(principal), first=page_size(first), after=decode_keyset(after)
    )
    last = found[-1] if found else None
    next_cursor = encode_keyset((last.created_at, last.id)) if more and last else None
    return JSONBody({"results": [show_contact(c) for c in found], "totalCount": total, "next": next_cursor})


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
    directory: DirectoryDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONBody:
    fields = body.model_dump(mode="json", by_alias=True)
    pid = partner_uuid(partner_id)
    claim = claim_for(principal, f"contact:{pid}", idempotency_key, fields)
    status, answer = await directory.add_contact(pid, fields, manager(principal), answer=show_contact, claim=claim)
    return JSONBody(answer, status_code=status)


@router.delete(
    "/{partner_id}/contacts/{contact_id}",
    status_code=204,
    responses=PROBLEMS,
    summary="Remove a contact",
    description="By the partner's managers.",
)
async def remove_contact(
    partner_id: str, contact_id: str, principal: CurrentPrincipal, directory: DirectoryDep
) -> Response:
    try:
        contact = UUID(contact_id)
    except ValueError:
        contact = None
    pid = partner_uuid(partner_id)
    if contact is None:
        await directory.get(pid, manager(principal))
        raise NotFound("no such contact")
    await directory.remove_contact(pid, contact, manager(principal))
    return Response(status_code=204)


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
async def webhook_secrets(partner_id: str, principal: ServicePrincipal, directory: DirectoryDep) -> JSONBody:
    permissions.demand_secrets_reader(principal)
    pid = partner_uuid(partner_id)
    found = await directory.valid_secrets(pid)
    log.info(
        "webhook_secrets_read",
        action="read webhook secrets",
        object=str(pid),
        caller=principal.sub,
        count=len(found),
        result="ok",
    )
    return JSONBody({"secrets": found})
