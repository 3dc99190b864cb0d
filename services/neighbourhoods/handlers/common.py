"""What the use cases share: acting for a partner (creating once is `shared.idempotency.create_once`)."""

from __future__ import annotations

from uuid import UUID

from services.neighbourhoods import permissions
from services.neighbourhoods.domain.coverage import covers
from services.neighbourhoods.store import partners
from shared.auth import Principal
from shared.db import UnitOfWork
from shared.errors import FieldError, Forbidden, ValidationFailed


async def partner_acting_in(
    uow: UnitOfWork, principal: Principal, municipality: str, area: str, asked: UUID | None, *, required: bool
) -> UUID | None:
    """The partner a post or pledge is made for, and that it may be (CONTRACT.md rule 9).

    Partner staff act for their own partner (another one is 403), which must be active and cover
    the area (403). A coordinator names an active partner of their municipality that covers the
    area (otherwise 400 on partnerId), or none where `required` is False.
    """
    if permissions.is_coordinator_of(principal, municipality):
        if asked is None:
            if required:
                raise ValidationFailed([FieldError("partnerId", "name the partner the coordinator acts for")])
            return None
        known = await partners.get(uow.session, asked)
        if known is None or not known.active or municipality not in known.municipalities:
            raise ValidationFailed([FieldError("partnerId", f"must be an active partner of {municipality}")])
        if not covers(known.areas, area):
            raise ValidationFailed([FieldError("partnerId", f"the partner does not work in {area}")])
        return asked
    own = permissions.acting_partner(principal)
    if own is None:
        raise Forbidden("partner staff act for the partner in their token")
    if asked is not None and asked != own:
        raise Forbidden("partner staff act for their own partner only")
    known = await partners.get(uow.session, own)
    if known is None or not known.active or municipality not in known.municipalities or not covers(known.areas, area):
        raise Forbidden(f"your partner does not work in {area}")
    return own
