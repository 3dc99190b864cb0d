"""Partners' chains: the steps a region agreed, kept by the service that passes signals on."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.signals.domain.chain import ChainStep
from shared.events.codes import Category


@dataclass(frozen=True)
class Chain:
    partner_id: UUID
    municipalities: tuple[str, ...]
    steps: tuple[ChainStep, ...]


def _steps(raw: str) -> tuple[ChainStep, ...]:
    return tuple(
        ChainStep(Category(s["category"]) if s.get("category") else None, UUID(s["next"]), int(s["after"]))
        for s in orjson.loads(raw)
    )


async def chains(session: AsyncSession, partner_ids: Sequence[UUID]) -> dict[UUID, Chain]:
    rows = await session.execute(
        text(
            "SELECT partner_id, municipalities, steps::text AS steps FROM partner_chains"
            " WHERE partner_id = ANY(CAST(:ids AS uuid[]))"
        ),
        {"ids": list(partner_ids)},
    )
    return {r.partner_id: Chain(r.partner_id, tuple(r.municipalities), _steps(r.steps)) for r in rows}


async def put_chain(
    session: AsyncSession, partner_id: UUID, municipalities: Sequence[str], steps: Sequence[ChainStep], at: datetime
) -> None:
    """Replace the partner's chain; no steps removes it."""
    if not steps:
        await session.execute(text("DELETE FROM partner_chains WHERE partner_id = :id"), {"id": partner_id})
        return
    raw = orjson.dumps(
        [
            {
                "category": s.category.value if s.category else None,
                "next": str(s.next_partner_id),
                "after": s.after_minutes,
            }
            for s in steps
        ]
    ).decode()
    await session.execute(
        text(
            "INSERT INTO partner_chains"
            " (partner_id, municipalities, steps, min_after_minutes, next_partners, updated_at)"
            " VALUES (:id, CAST(:municipalities AS text[]), CAST(:steps AS jsonb), :min_after,"
            " CAST(:next AS uuid[]), :at)"
            " ON CONFLICT (partner_id) DO UPDATE SET municipalities = EXCLUDED.municipalities, steps = EXCLUDED.steps,"
            " min_after_minutes = EXCLUDED.min_after_minutes, next_partners = EXCLUDED.next_partners,"
            " updated_at = EXCLUDED.updated_at"
        ),
        {
            "id": partner_id,
            "municipalities": list(municipalities),
            "steps": raw,
            "min_after": min(s.after_minutes for s in steps),
            "next": list(dict.fromkeys(s.next_partner_id for s in steps)),
            "at": at,
        },
    )


# Escalated, not acknowledged, the current partner has a chain whose shortest step has passed and
# whose next partners did not all have the signal before. Driven from the (few) chains through the
# escalations' partner index, so it costs nothing where no chain is agreed. The exact step
# (category, pauses) is the domain's to decide.
CHAIN_DUE = (
    "s.status = 'escalated' AND s.id IN (SELECT e.signal_id FROM partner_chains c"
    " JOIN signal_escalations e ON e.partner_id = c.partner_id"
    " AND e.at <= CAST(:now AS timestamptz) - make_interval(mins => c.min_after_minutes)"
    " WHERE e.acknowledged_at IS NULL"
    " AND e.seq = (SELECT max(x.seq) FROM signal_escalations x WHERE x.signal_id = e.signal_id))"
    " AND EXISTS (SELECT 1 FROM partner_chains c WHERE s.municipality = ANY(c.municipalities)"
    " AND c.partner_id = (SELECT x.partner_id FROM signal_escalations x WHERE x.signal_id = s.id"
    " ORDER BY x.seq DESC LIMIT 1) AND NOT (c.next_partners <@ s.escalated_to))"
)
