"""A goal's indicators measured from the area's signal statistics, per quarter."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.goals import read_models
from services.goals.domain import Goal, Indicator, Measurement, Quarter, QuarterStats, measure


async def _stats(
    session: AsyncSession, goal: Goal, indicator: Indicator, quarters: list[Quarter]
) -> dict[Quarter, QuarterStats]:
    return await read_models.quarter_stats(session, goal.area, indicator.categories(goal.categories), quarters)


async def measurements(session: AsyncSession, goal: Goal, quarter: Quarter, now: datetime) -> list[Measurement]:
    """Each indicator's value in `quarter`, the previous quarter's, whether it is on track, and
    whether the quarter is still running (`partial`)."""
    found = []
    partial = not quarter.has_ended(now)
    for indicator in goal.indicators:
        stats = await _stats(session, goal, indicator, [quarter, quarter.previous()])
        found.append(measure(indicator, stats[quarter], stats[quarter.previous()], partial=partial))
    return found


async def last_values(session: AsyncSession, goal: Goal, now: datetime) -> list[float | None]:
    """Each indicator's latest measured value in the goal's year (None where nothing was measured)."""
    return [next((v for v in reversed(values) if v is not None), None) for _, values in await trend(session, goal, now)]


async def trend(session: AsyncSession, goal: Goal, now: datetime) -> list[tuple[Indicator, list[float | None]]]:
    """Each indicator per quarter of the goal's year; quarters that have not begun have no value."""
    current = Quarter.of(now)
    quarters = Quarter.of_year(goal.year)
    series = []
    for indicator in goal.indicators:
        stats = await _stats(session, goal, indicator, quarters)
        series.append((indicator, [indicator.value(stats[q]) if q <= current else None for q in quarters]))
    return series
