"""The loop back and partners connecting to each other (CONTRACT.md "Additions of December 2026"):
`addFeedback`, `setExternalReference` and partners' chains.

A chain is kept by the signals service (the one that passes signals on); a partner is registered
and updated in the partners service. `registerPartner`/`updatePartner` with `chain` check the
steps in signals first, so bad steps change nothing, then write the partner, then the chain.
"""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from gateway.context import Row
from gateway.enums import SignalCategory
from gateway.types import Partner, Signal, ctx, load_partner

UNSET: Any = strawberry.UNSET


@strawberry.type
class ChainStep:
    category: SignalCategory | None = strawberry.field(description="null: any category; the step for a category wins")
    after_minutes: int
    next_partner_id: strawberry.Private[str]

    @strawberry.field
    async def next_partner(self, info: Info) -> Partner:
        partner = await load_partner(info, self.next_partner_id)
        if partner is None:
            raise LookupError("the chain's next partner could not be read")
        return partner

    @classmethod
    def from_rest(cls, row: Row) -> ChainStep:
        return cls(
            category=SignalCategory(row["category"]) if row.get("category") else None,
            after_minutes=int(row["afterMinutes"]),
            next_partner_id=str(row["nextPartnerId"]),
        )


async def chain_of(info: Info, partner_id: str) -> list[ChainStep]:
    """A partner's chain (no steps for one the caller may not know of)."""
    rows = await ctx(info).chains.load(partner_id)
    steps = [ChainStep.from_rest(r) for r in rows]
    visible = await ctx(info).partners.load_many([s.next_partner_id for s in steps])
    return [s for s, seen in zip(steps, visible, strict=True) if seen]


def _steps(chain: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"category": s.get("category"), "nextPartnerId": s["nextPartnerId"], "afterMinutes": s["afterMinutes"]}
        for s in chain
    ]


async def _check_chain(
    info: Info, chain: list[dict[str, Any]], municipalities: list[str], partner_id: str | None, kind: str | None
) -> None:
    body = {"partnerId": partner_id, "municipalities": municipalities, "steps": _steps(chain), "kind": kind}
    await ctx(info).post("signals", "/v1/partner-chains/validation", body)


async def _put_chain(info: Info, partner_id: str, chain: list[dict[str, Any]], municipalities: list[str]) -> None:
    c = ctx(info)
    body = {"municipalities": municipalities, "steps": _steps(chain)}
    await c.upstream.call("signals", "PUT", f"/v1/partners/{partner_id}/chain", token=c.token, json=body)
    c.chains.clear_all()  # read afresh after the change


async def register_partner(info: Info, body: dict[str, Any]) -> Row:
    """POST the partner to the partners service; its chain (if given) to signals."""
    chain = body.pop("chain", None)
    municipalities = list(body.get("municipalities") or [])
    if chain:
        await _check_chain(info, chain, municipalities, None, body.get("kind"))
    row: Row = await ctx(info).post("partners", "/v1/partners", body)
    if chain:
        partner = row.get("partner", row)
        await _put_chain(info, str(partner["id"]), chain, list(partner.get("municipalities") or municipalities))
    return row


async def update_partner(info: Info, partner_id: str, body: dict[str, Any]) -> Row:
    """PATCH the partner; `chain` (if given; empty removes it) replaces its chain in signals."""
    c = ctx(info)
    chain = body.pop("chain", UNSET)
    if chain is UNSET or chain is None:
        row: Row = await c.patch("partners", f"/v1/partners/{partner_id}", body)
        return row
    known = await c.get("partners", f"/v1/partners/{partner_id}")
    municipalities = list(known.get("municipalities") or [])
    if chain:
        await _check_chain(info, chain, municipalities, partner_id, known.get("kind"))
    row = await c.patch("partners", f"/v1/partners/{partner_id}", body) if body else known
    await _put_chain(info, partner_id, chain, municipalities)
    return row


async def add_feedback(info: Info, id: strawberry.ID, message: str) -> Signal:
    """The partner it is escalated to, or an involved partner, while the signal is open: feedback the
    reporters read."""
    return Signal.from_rest(await ctx(info).post("signals", f"/v1/signals/{id}/feedback", {"message": message}))


async def set_external_reference(info: Info, id: strawberry.ID, reference: str) -> Signal:
    """The partner it is escalated to records its own case number (e.g. a police case number)."""
    c = ctx(info)
    row = await c.upstream.call(
        "signals", "PUT", f"/v1/signals/{id}/external-reference", token=c.token, json={"reference": reference}
    )
    return Signal.from_rest(row)
