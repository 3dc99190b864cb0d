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
    """Free texts of signals closed (or rejected, merged) before `before`: the description, group
    message, feedback messages, questions and answers, rating comments (they may name third
    parties); codes, times and who acted stay. History notes (reasons) are append-only: not yet."""
    result = await session.execute(
        text(
            "UPDATE signals SET description = NULL, group_message = NULL,"
            " feedback = (SELECT coalesce(jsonb_agg(f || '{\"message\": \"\"}'::jsonb), '[]'::jsonb)"
            "   FROM jsonb_array_elements(feedback) f),"
            ' questions = (SELECT coalesce(jsonb_agg(q || \'{"question": "", "answer": null}\'::jsonb),'
            "   '[]'::jsonb) FROM jsonb_array_elements(questions) q),"
            " ratings = coalesce((SELECT jsonb_object_agg(k, v || '{\"comment\": null}'::jsonb)"
            "   FROM jsonb_each(ratings) AS r(k, v)), '{}'::jsonb)"
            " WHERE status IN ('closed', 'rejected', 'merged') AND ended_at < :before"
            " AND (description IS NOT NULL OR group_message IS NOT NULL"
            "   OR feedback @? '$[*] ? (@.message != \"\")' OR questions @? '$[*] ? (@.question != \"\")'"
            "   OR ratings @? '$.* ? (@.comment != null)')"
        ),
        {"before": before},
    )
    return int(getattr(result, "rowcount", 0) or 0)


LOCATION_GRID_DEGREES = 0.0005  # about 55 m north-south, 35 m east-west in the Netherlands


async def coarsen_locations(session: AsyncSession) -> int:
    """A final signal's point to a grid of about 50 m: exact enough for statistics and maps, not
    for a front door."""
    result = await session.execute(
        text(
            "UPDATE signals SET lat = round(lat / :g) * :g, lon = round(lon / :g) * :g"
            " WHERE status IN ('closed', 'rejected', 'merged') AND lat IS NOT NULL"
            " AND (lat <> round(lat / :g) * :g OR lon <> round(lon / :g) * :g)"
        ),
        {"g": LOCATION_GRID_DEGREES},
    )
    return int(getattr(result, "rowcount", 0) or 0)
