"""Goals that continue, measured values recorded by hand, and the quarterly review of an area
(CONTRACT.md "Goals: ... more than complaints measured" and "The quarterly review, held together").

Resolvers here are plain functions that `gateway.schema` hangs on Query and Mutation; like every
resolver they call the goals service with the caller's token, and it authorises and validates.
"""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from gateway.types import Goal, ctx


async def continue_goal(info: Info, id: strawberry.ID, year: int) -> Goal:
    """Coordinator: the goal again in the next year, each indicator's baseline the last measured
    value; it counts towards that year's three."""
    return Goal.from_rest(await ctx(info).post("goals", f"/v1/goals/{id}/continuation", {"year": year}))


async def record_measurement(
    info: Info, goal_id: strawberry.ID, indicator: int, quarter: str, value: float, source: str
) -> Goal:
    """Coordinator: the value of a `MANUAL` indicator (`indicator` = its position in `indicators`) in a
    quarter, e.g. from the CBS Veiligheidsmonitor or a buurtpeiling; recording again replaces it."""
    body = {"indicator": indicator, "quarter": quarter, "value": value, "source": source}
    return Goal.from_rest(await ctx(info).post("goals", f"/v1/goals/{goal_id}/measurements", body))
