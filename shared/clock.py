"""One "now" for every service, handler, consumer and periodic task.

Production runs on `SystemClock`; tests pin the hour with `FixedClock` and move it, so rules that
depend on the time of day, the weekday, the quarter or daylight saving are tested at the instants
that matter. Protocol timestamps checked by outside parties (JWT expiry, webhook signatures) stay on
the wall clock: they are about this machine's real time, not the domain's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Protocol
from zoneinfo import ZoneInfo

from fastapi import Depends, Request

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware, in UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class FixedClock:
    """A clock that stands still until a test moves it."""

    at: datetime

    def __post_init__(self) -> None:
        self.set(self.at)

    def now(self) -> datetime:
        return self.at

    def set(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("a pinned instant must carry its time zone")
        self.at = at.astimezone(UTC)

    def advance(self, delta: timedelta) -> datetime:
        self.at += delta
        return self.at


SYSTEM_CLOCK: Clock = SystemClock()


def get_clock(request: Request) -> Clock:
    """The clock of the app serving this request (set by the service's runtime)."""
    clock: Clock = getattr(request.app.state, "clock", SYSTEM_CLOCK)
    return clock


ClockDep = Annotated[Clock, Depends(get_clock)]


def rfc3339(at: datetime) -> str:
    """An instant as the APIs write it: UTC, RFC 3339, `Z` (2026-12-02T13:30:00.5Z)."""
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def rfc3339_or_none(at: datetime | None) -> str | None:
    return rfc3339(at) if at is not None else None
