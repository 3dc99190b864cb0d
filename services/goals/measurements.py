"""A goal's indicators measured per quarter: from the area's statistics (signals, ratings,
initiatives), or for a `manual` indicator the value a coordinator recorded."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.goals import read_models
from services.goals.domain import Goal, Indicator, Measurement, Quarter
from shared.events.codes import IndicatorKind


async def _values(
    session: AsyncSession, goal: Goal, position: int, indicator: Indicator, quarters: list[Quarter]
) -> dict[Quarter, float | None]:
    if indicator.kind is IndicatorKind.MANUAL:
        return await read_models.manual_values(session, goal.id, position, quarters)
    categories = indicator.categories(goal.categories)
    stats = await read_models.quarter_stats(
        session,
        goal.area,
        categories,
        quarters,
        ratings=indicator.kind is IndicatorKind.SATISFIED_SHARE,
        initiatives=indicator.kind in (IndicatorKind.INITIATIVES, IndicatorKind.PARTICIPANTS),
    )
    return {q: indicator.value(stats[q]) for q in quarters}


async def measurements(session: AsyncSession, goal: Goal, quarter: Quarter, now: datetime) -> list[Measurement]:
    """Each indicator's value in `quarter`, the previous quarter's, whether it is on track, and
    whether the quarter is still running (`partial`)."""
    found = []
    partial = not quarter.has_ended(now)
    for position, indicator in enumerate(goal.indicators):
        values = await _values(session, goal, position, indicator, [quarter, quarter.previous()])
        found.append(Measurement(indicator, values[quarter], values[quarter.previous()], partial))
    return found


async def trend(session: AsyncSession, goal: Goal, now: datetime) -> list[tuple[Indicator, list[float | None]]]:
    """Each indicator per quarter of the goal's year; quarters that have not begun have no value."""
    current = Quarter.of(now)
    quarters = Quarter.of_year(goal.year)
    series = []
    for position, indicator in enumerate(goal.indicators):
        values = await _values(session, goal, position, indicator, quarters)
        series.append((indicator, [values[q] if q <= current else None for q in quarters]))
    return series


async def last_values(session: AsyncSession, goal: Goal, now: datetime) -> list[float | None]:
    """Each indicator's latest measured value in the goal's year (None where nothing was measured)."""
    return [next((v for v in reversed(values) if v is not None), None) for _, values in await trend(session, goal, now)]
