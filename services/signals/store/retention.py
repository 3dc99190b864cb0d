"""Retention of personal data: contacts and descriptions of signals closed long enough ago."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


async def erase_contacts(session: AsyncSession, before: datetime) -> int:
    """Contacts of signals ended before `before`; a merged report's contact lives as long as its original's."""
    result = await session.execute(
        text(
            "UPDATE signals s SET contact = NULL WHERE s.contact IS NOT NULL AND ("
            " (s.duplicate_of IS NULL AND s.ended_at < :before AND s.status IN ('closed', 'rejected'))"
            " OR (s.duplicate_of IS NOT NULL AND EXISTS (SELECT 1 FROM signals o WHERE o.id = s.duplicate_of"
            " AND o.ended_at < :before AND o.status IN ('closed', 'rejected'))))"
        ),
        {"before": before},
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def remove_descriptions(session: AsyncSession, before: datetime) -> int:
    """Descriptions (and group messages) of signals closed (or rejected, merged) before `before`;
    codes and times stay."""
    result = await session.execute(
        text(
            "UPDATE signals SET description = NULL, group_message = NULL"
            " WHERE (description IS NOT NULL OR group_message IS NOT NULL)"
            " AND status IN ('closed', 'rejected', 'merged') AND ended_at < :before"
        ),
        {"before": before},
    )
    return int(getattr(result, "rowcount", 0) or 0)
