"""When a failed delivery is tried again: the retry schedule, its jitter, and what an answer means."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from datetime import timedelta
from enum import StrEnum

# The default retry schedule: the wait after attempt n (1-based) is SCHEDULE[n-1], with jitter.
# 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, 2 h, 4 h, 8 h, 8 h: eleven attempts over about 23.7 hours.
DEFAULT_RETRY_SCHEDULE: tuple[float, ...] = (5, 30, 120, 600, 1800, 3600, 7200, 14400, 28800, 28800)
JITTER = 0.25


class Outcome(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"
    GONE = "gone"  # 410: the channel is disabled, no more attempts
    REFUSED = "refused"  # the target may not be reached (unsafe url, channel disabled): no more attempts


def classify_response(status_code: int) -> Outcome:
    if 200 <= status_code < 300:
        return Outcome.DELIVERED
    if status_code == 410:
        return Outcome.GONE
    return Outcome.RETRY


def parse_schedule(text: str) -> tuple[float, ...]:
    """`"5,30,120"` -> (5.0, 30.0, 120.0); every wait must be positive."""
    values = tuple(float(part) for part in text.split(",") if part.strip())
    if not values or any(v <= 0 for v in values):
        raise ValueError("a retry schedule is a comma-separated list of positive seconds")
    return values


def retry_delay(attempt: int, schedule: Sequence[float], rand: Callable[[], float] = random.random) -> timedelta | None:
    """The wait after failed attempt `attempt` (1-based) of a round, or None: that was the last.

    Jitter spreads the retries of many deliveries that failed together (a receiver that was down)
    over +-25 % of the wait, so they do not hit the receiver again all at once.
    """
    if attempt < 1 or attempt > len(schedule):
        return None
    base = schedule[attempt - 1]
    return timedelta(seconds=base * (1 - JITTER + 2 * JITTER * rand()))
