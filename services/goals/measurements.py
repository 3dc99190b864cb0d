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


async def measurements(session: AsyncSession, goal: Goal, quarter: Quarter) -> list[Measurement]:
    """Each indicator's value in `quarter`, the previous quarter's, and whether it is on track."""
    found = []
    for indicator in goal.indicators:
        stats = await _stats(session, goal, indicator, [quarter, quarter.previous()])
        found.append(measure(indicator, stats[quarter], stats[quarter.previous()]))
    return found


async def trend(session: AsyncSession, goal: Goal, now: datetime) -> list[tuple[Indicator, list[float | None]]]:
    """Each indicator per quarter of the goal's year; quarters that have not begun have no value."""
    current = Quarter.of(now)
    quarters = Quarter.of_year(goal.year)
    series = []
    for indicator in goal.indicators:
        stats = await _stats(session, goal, indicator, quarters)
        series.append((indicator, [indicator.value(stats[q]) if q <= current else None for q in quarters]))
    return series
