"""The signals seen reported: the read model of `signal.received` (reference and reporting group)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(frozen=True)
class SeenSignal:
    signal_id: UUID
    reference: str
    group_id: UUID | None


async def remember(
    session: AsyncSession, signal_id: UUID, reference: str, group_id: UUID | None, received_at: datetime
) -> None:
    """Idempotent: a replayed `signal.received` changes nothing."""
    await session.execute(
        text(
            "INSERT INTO signals_seen (signal_id, reference, group_id, received_at)"
            " VALUES (:id, :reference, :group_id, :at) ON CONFLICT (signal_id) DO NOTHING"
        ),
        {"id": signal_id, "reference": reference, "group_id": group_id, "at": received_at},
    )


async def seen(session: AsyncSession, signal_ids: Sequence[UUID]) -> dict[UUID, SeenSignal]:
    if not signal_ids:
        return {}
    rows = await session.execute(
        text("SELECT signal_id, reference, group_id FROM signals_seen WHERE signal_id = ANY(:ids)"),
        {"ids": sorted(set(signal_ids))},
    )
    return {r.signal_id: SeenSignal(r.signal_id, r.reference, r.group_id) for r in rows}
