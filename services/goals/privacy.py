"""AVG self-service for goals (CONTRACT.md Rule 16): a person's proposals and supports
(`me_data`), erasure (`erase_me`, `sweep_erased`).

Erasure: the caller's supports are removed at once; their proposals keep their decision and
counts under a random pseudonym; the texts (title, description) of decided proposals are
replaced at once, those of open proposals once decided (`sweep_erased`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from shared import privacy
from shared.auth import Principal
from shared.clock import Clock, rfc3339_or_none
from shared.db import UnitOfWork

ERASED_TITLE = "verwijderd op verzoek van de indiener"

_BLANK_DECIDED = (
    "UPDATE proposals SET title = :title, description = NULL WHERE erased AND status <> 'open'"
    " AND (title <> :title OR description IS NOT NULL)"
)


async def me_data(uow: UnitOfWork, principal: Principal, clock: Clock) -> dict[str, Any]:
    privacy.demand_person(principal)
    session, now = uow.session, clock.now()
    proposals = (
        await session.execute(
            text(
                "SELECT id, municipality, area, year, title, description, status, decline_reason, proposed_at,"
                " decided_at FROM proposals WHERE proposer = :s ORDER BY proposed_at, id"
            ),
            {"s": principal.sub},
        )
    ).all()
    supports = (
        await session.execute(
            text("SELECT proposal_id, supported_at FROM proposal_supports WHERE supporter = :s ORDER BY supported_at"),
            {"s": principal.sub},
        )
    ).all()
    for p in proposals:
        await privacy.record(
            session, object_id=str(p.id), data_subject=principal.sub, actor=privacy.DATA_SUBJECT,
            action="export", at=now,
        )  # fmt: skip
    audit = await privacy.entries_about(session, principal.sub)
    await uow.commit()
    return {
        "proposals": [
            {
                "id": str(p.id),
                "municipality": p.municipality,
                "area": p.area,
                "year": p.year,
                "title": p.title,
                "description": p.description,
                "status": p.status,
                "declineReason": p.decline_reason,
                "proposedAt": rfc3339_or_none(p.proposed_at),
                "decidedAt": rfc3339_or_none(p.decided_at),
            }
            for p in proposals
        ],
        "supports": [
            {"proposalId": str(s.proposal_id), "supportedAt": rfc3339_or_none(s.supported_at)} for s in supports
        ],
        "audit": audit,
    }


async def erase_me(uow: UnitOfWork, principal: Principal, clock: Clock) -> dict[str, Any]:
    privacy.demand_erasure(principal)
    session, now = uow.session, clock.now()
    pseudonym = privacy.new_pseudonym()
    supports = await session.execute(text("DELETE FROM proposal_supports WHERE supporter = :s"), {"s": principal.sub})
    ids = [
        r.id
        for r in await session.execute(
            text("UPDATE proposals SET proposer = :p, erased = true WHERE proposer = :s RETURNING id"),
            {"s": principal.sub, "p": pseudonym},
        )
    ]
    await session.execute(text(_BLANK_DECIDED), {"title": ERASED_TITLE})
    await privacy.finish_erasure(session, principal.sub, pseudonym, ids, now)
    await uow.commit()
    return {"proposals": len(ids), "supports": getattr(supports, "rowcount", 0)}


async def sweep_erased(uow: UnitOfWork, clock: Clock) -> None:
    """Texts of erased proposers' proposals decided since (periodic task)."""
    await uow.session.execute(text(_BLANK_DECIDED), {"title": ERASED_TITLE})
    await uow.commit()
