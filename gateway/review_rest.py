"""Goals at the REST edge, where the new goals events' `dataref` points: the printable quarterly
review `GET /v1/reviews/{area}/{quarter}` (Dutch HTML, `?format=csv` for the figures; rendered by
the goals service, with the readers of `areaReview`) and `GET /v1/goal-proposals/{id}`
(`goal.proposal_decided`). Relayed with the caller's token; the goals service authorises."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.types import Scope

from gateway.rest import PROBLEMS, Caller, _relay

router = APIRouter(prefix="/v1", tags=["reviews"], responses=PROBLEMS)
PREFIX = "/v1/reviews/"
# The page is self-contained: inline CSS and inline SVG (whose styles pygal writes inline), no script.
REPORT_CSP = b"default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'"


@router.get(
    "/reviews/{area}/{quarter}",
    summary="The printable review of an area and quarter (Dutch HTML with inline SVG charts), or its CSV",
    response_class=Response,
    responses={200: {"content": {"text/html": {}, "text/csv": {}}}},
)
async def review_report(
    area: str,
    quarter: str,
    request: Request,
    caller: Caller,
    format: Annotated[Literal["html", "csv"], Query(description="html (default) or csv")] = "html",
) -> Response:
    path = f"/v1/area-reviews/{area}/{quarter}/report"
    answer = await _relay(request, caller, "goals", "GET", path, params={"format": format})
    if format == "csv" and answer.status_code == 200:
        answer.headers["content-disposition"] = f'attachment; filename="kwartaaloverleg-{area}-{quarter}.csv"'
    return answer


@router.get("/goal-proposals/{proposal_id}", summary="A residents' proposal (where goal.proposal_decided points)")
async def goal_proposal(proposal_id: str, request: Request, caller: Caller) -> Response:
    return await _relay(request, caller, "goals", "GET", f"/v1/goal-proposals/{proposal_id}")


def is_report(scope: Scope) -> bool:
    """The printable review needs its inline styles: the CSP is relaxed for that page only."""
    return str(scope.get("path", "")).startswith(PREFIX)
