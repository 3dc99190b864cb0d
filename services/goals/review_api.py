"""REST for the quarterly review of an area: read it, rate cooperation, agree, hold it."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Header, Query, Response
from pydantic import Field

from services.goals import review_handlers as handlers
from services.goals.report import render_csv, render_html
from shared.auth import CurrentPrincipal
from shared.bodies import CamelBody
from shared.clock import ClockDep
from shared.http import JSONBody
from shared.idempotency import Once, request_hash
from shared.runtime import RuntimeDep

router = APIRouter(prefix="/v1", tags=["area reviews"])
REVIEW = "/area-reviews/{area}/{quarter}"
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]


class ScoreIn(CamelBody):
    to_partner_id: str
    score: int = Field(description="1..5")
    comment: str | None = None
    from_partner_id: str | None = Field(
        default=None, description="coordinators: the municipality partner they rate for; others: their own or none"
    )


class AgreementIn(CamelBody):
    text: str
    owner_partner_id: str
    due_quarter: str = Field(description="YYYY-Qn, not before the review's quarter, at most 8 quarters later")


class AgreementPatch(CamelBody):
    status: str = Field(description="open, done or dropped")


class HoldIn(CamelBody):
    notes: str | None = None


@router.get(REVIEW, summary="The area's review of a quarter: live until held, then frozen")
async def get_review(
    area: str, quarter: str, principal: CurrentPrincipal, runtime: RuntimeDep, clock: ClockDep
) -> JSONBody:
    async with runtime.uow() as uow:
        return JSONBody(await handlers.area_review(uow, area, quarter, principal, clock))


@router.post(REVIEW + "/cooperation", summary="Rate another participant's cooperation (1..5; again replaces)")
async def rate(
    area: str, quarter: str, body: ScoreIn, principal: CurrentPrincipal, runtime: RuntimeDep, clock: ClockDep
) -> JSONBody:
    cmd = handlers.RateCooperation(area, quarter, body.to_partner_id, body.score, body.comment, body.from_partner_id)
    async with runtime.uow() as uow:
        return JSONBody(await handlers.rate_cooperation(uow, cmd, principal, clock))


@router.post(REVIEW + "/agreements", status_code=201, summary="Make an agreement with an owner and a due quarter")
async def add_agreement(
    area: str,
    quarter: str,
    body: AgreementIn,
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    clock: ClockDep,
    key: IdempotencyKey = None,
) -> JSONBody:
    cmd = handlers.AddAgreement(area, quarter, body.text, body.owner_partner_id, body.due_quarter)
    once = Once(key, request_hash(body.model_dump(mode="json")))
    async with runtime.uow() as uow:
        created = await handlers.add_agreement(uow, cmd, principal, clock, once)
    return JSONBody(created.body, status_code=created.status)


@router.patch("/agreements/{agreement_id}", summary="Mark an agreement done, dropped or open")
async def update_agreement(
    agreement_id: UUID, body: AgreementPatch, principal: CurrentPrincipal, runtime: RuntimeDep, clock: ClockDep
) -> JSONBody:
    async with runtime.uow() as uow:
        return JSONBody(await handlers.update_agreement(uow, agreement_id, body.status, principal, clock))


@router.post(REVIEW + "/hold", summary="Hold the review: the figures are frozen and the participants told")
async def hold(
    area: str, quarter: str, body: HoldIn, principal: CurrentPrincipal, runtime: RuntimeDep, clock: ClockDep
) -> JSONBody:
    async with runtime.uow() as uow:
        return JSONBody(
            await handlers.hold_area_review(uow, handlers.HoldReview(area, quarter, body.notes), principal, clock)
        )


@router.get(
    REVIEW + "/report",
    summary="The printable review (Dutch HTML with inline SVG charts), or its figures as CSV",
    response_class=Response,
    responses={200: {"content": {"text/html": {}, "text/csv": {}}}},
)
async def get_report(
    area: str,
    quarter: str,
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    clock: ClockDep,
    format: Annotated[Literal["html", "csv"], Query(description="html (default) or csv")] = "html",
) -> Response:
    async with runtime.uow() as uow:
        found = await handlers.report(uow, area, quarter, principal, clock)
    if format == "csv":
        filename = f"kwartaaloverleg-{area}-{quarter}.csv"
        return Response(
            render_csv(found),
            media_type="text/csv; charset=utf-8",
            headers={"content-disposition": f'attachment; filename="{filename}"'},
        )
    return Response(render_html(found), media_type="text/html; charset=utf-8")
