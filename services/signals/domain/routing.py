"""Routing: which partner is responsible for a signal, from the partners read model. Pure.

The responsible partner is the active one whose coverage is most specific (BU over WK over GM),
that handles the category and is available at that hour in Amsterdam; then the highest
priority, then the earliest registered. Groups (WhatsApp and resident groups) report and hear
back: they are never routed or escalated to, whatever categories they name.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING
from uuid import UUID
from zoneinfo import ZoneInfo

from shared import areas
from shared.areas import Level
from shared.events.codes import GROUP_KINDS, Category, PartnerKind, Urgency

if TYPE_CHECKING:
    from services.signals.domain.signal import Signal

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


# --- areas -------------------------------------------------------------------------------------


def area_problem(area: str, municipality: str) -> str | None:
    """Why `area` is not a WK or BU code of `municipality`, or None when it is."""
    parsed = areas.parse_or_none(area)
    if parsed is None or parsed.level is Level.MUNICIPALITY:
        return "must be a CBS WK code (WK + 6 characters) or BU code (BU + 8 characters)"
    if areas.is_municipality(municipality) and not parsed.lies_in(municipality):
        return f"is not an area of {municipality}"
    return None


def enclosing_areas(area: str) -> dict[str, int]:
    """The codes that cover `area`, with their specificity (BU 3 over WK 2 over GM 1)."""
    return {a.code: int(a.level) for a in areas.parse(area).enclosing()}


# --- partners as routing sees them ---------------------------------------------------------------


def _clock(value: str) -> time | None:
    """'HH:MM' as a time; '24:00' is the end of the day (None)."""
    if value == "24:00":
        return None
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


@dataclass(frozen=True)
class Window:
    """Available on `weekday` (1 = Monday) from `start` until `end`, local time; `end` <= `start` crosses midnight."""

    weekday: int
    start: str
    end: str

    def covers(self, local: datetime) -> bool:
        start = _clock(self.start) or time(0)
        end = _clock(self.end)
        now, day = local.time(), local.isoweekday()
        if end is not None and end <= start:  # crosses midnight into the next day
            return (day == self.weekday and now >= start) or (day == self.weekday % 7 + 1 and now < end)
        return day == self.weekday and start <= now and (end is None or now < end)


@dataclass(frozen=True)
class Partner:
    """The routing facts of a partner, from its events (the local read model)."""

    id: UUID
    kind: PartnerKind
    municipalities: frozenset[str]
    areas: frozenset[str]
    categories: frozenset[Category]
    acknowledge_within_minutes: int
    registered_at: datetime
    auto_escalate: frozenset[Category] = frozenset()
    acknowledge_within_by_urgency: dict[Urgency, int] = field(default_factory=dict)
    availability: tuple[Window, ...] = ()
    priority: int = 0
    active: bool = True
    name: str = ""

    @property
    def is_group(self) -> bool:
        """A WhatsApp or resident group: it reports and hears back, it never handles a signal."""
        return self.kind in GROUP_KINDS

    @property
    def takes_signals(self) -> bool:
        """May be routed or escalated to: active and not a group."""
        return self.active and not self.is_group

    def acknowledge_within(self, urgency: Urgency) -> timedelta:
        return timedelta(minutes=self.acknowledge_within_by_urgency.get(urgency, self.acknowledge_within_minutes))

    def available_at(self, at: datetime) -> bool:
        if not self.availability:
            return True
        local = at.astimezone(AMSTERDAM)
        return any(w.covers(local) for w in self.availability)

    def specificity(self, municipality: str, area: str) -> int:
        """How specifically this partner covers `area` (0: not at all)."""
        if municipality not in self.municipalities:
            return 0
        covering = enclosing_areas(area)
        return max((covering.get(code, 0) for code in self.areas), default=0)


def _best(candidates: Iterable[tuple[int, Partner]]) -> Partner | None:
    ranked = sorted(candidates, key=lambda c: (-c[0], -c[1].priority, c[1].registered_at, str(c[1].id)))
    return ranked[0][1] if ranked else None


def route(
    partners: Iterable[Partner], *, municipality: str, area: str, category: Category, at: datetime
) -> Partner | None:
    """The responsible partner: most specific coverage, handles the category, available at `at`,
    then highest priority, then earliest registered. None: the signal stays unrouted."""
    return _best(
        (level, p)
        for p in partners
        if p.takes_signals
        and category in p.categories
        and p.available_at(at)
        and (level := p.specificity(municipality, area)) > 0
    )


def police_for(partners: Iterable[Partner], *, municipality: str, area: str, at: datetime) -> Partner | None:
    """For an acute signal not routed to the police: the most specific police partner covering the
    area (available ones first, whatever categories it handles)."""
    police = [
        (level, p)
        for p in partners
        if p.active and p.kind == PartnerKind.POLICE and (level := p.specificity(municipality, area)) > 0
    ]
    return _best(c for c in police if c[1].available_at(at)) or _best(police)


def intake_escalation(
    signal: Signal, routed: Partner | None, partners: Sequence[Partner], at: datetime
) -> tuple[Partner, str] | None:
    """Whom a new signal is escalated to at once, and why: acute ones to the police, and the
    categories the routed partner wants automatically."""
    if routed is not None and not routed.takes_signals:
        routed = None
    if signal.urgency == Urgency.ACUTE:
        if routed is not None and routed.kind == PartnerKind.POLICE:
            return routed, "acute"
        police = police_for(partners, municipality=signal.municipality, area=signal.area, at=at)
        target = police or routed
        return (target, "acute") if target else None
    if routed is not None and signal.category in routed.auto_escalate:
        return routed, "automatic for this category"
    return None
