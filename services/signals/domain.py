"""Signals: the state machine, routing, duplicates and intake rules. Pure Python, no I/O.

A `Signal` is the aggregate. Each command checks the design's allowed transitions, appends a
history entry and raises the event it causes (`signal.pending`), bumping the version that the
event carries as its `sequence`. Routing and duplicate detection are plain functions over the
partners and signals the store hands in.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

from shared import areas
from shared.areas import Level
from shared.errors import Conflict, FieldErrors, Forbidden
from shared.events.catalog import (
    EventData,
    SignalAcknowledged,
    SignalClosed,
    SignalEscalated,
    SignalMerged,
    SignalOverdue,
    SignalReceived,
    SignalReclassified,
    SignalRejected,
    SignalReopened,
    SignalResolved,
)
from shared.events.codes import Category, PartnerKind, SignalSource, Urgency
from shared.events.codes import SignalStatus as Status

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
OPEN: frozenset[Status] = frozenset({Status.RECEIVED, Status.ESCALATED, Status.ACKNOWLEDGED, Status.REOPENED})
DUPLICATE_WINDOW = timedelta(hours=2)
DUPLICATE_RADIUS_M = 250.0
REOPEN_WINDOW = timedelta(days=14)
DESCRIPTION_MAX = 2000
OBSERVED_CLOCK_SKEW = timedelta(minutes=1)
SYSTEM = "system"

ACUTE_ADVICE = (
    "Bel nu 112: bij direct gevaar of een misdrijf dat nu gebeurt is 112 de snelste weg naar hulp. "
    "Uw melding is doorgestuurd, maar dit is geen meldkamer."
)

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_BAG = re.compile(r"^\d{16}$")


class SignalRuleBroken(Conflict):
    """A command the design does not allow in the signal's current state (409)."""

    def __init__(self, status: Status, action: str) -> None:
        super().__init__(f"cannot {action} a signal that is {status.value}; the signal is {status.value}")
        self.current = status
        self.action = action


class NotResponsible(Forbidden):
    """The acting partner is not the one the signal is escalated to (403)."""


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
        if p.active
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


# --- duplicates ----------------------------------------------------------------------------------


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine) in metres."""
    r = 6_371_008.8
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(min(1.0, math.sqrt(h)))


@dataclass(frozen=True)
class OpenReport:
    """What duplicate detection needs to know of an existing signal."""

    id: UUID
    municipality: str
    area: str
    category: Category
    status: Status
    reported_at: datetime
    lat: float | None = None
    lon: float | None = None
    duplicate_of: UUID | None = None


def duplicate_of(
    existing: Iterable[OpenReport],
    *,
    municipality: str,
    area: str,
    category: Category,
    at: datetime,
    lat: float | None,
    lon: float | None,
) -> OpenReport | None:
    """The earliest open signal this report duplicates: same category and area, reported at most
    2 hours before, and within 250 m when both have a location."""
    matches = [
        s
        for s in existing
        if s.status in OPEN
        and s.duplicate_of is None
        and s.municipality == municipality
        and s.area == area
        and s.category == category
        and timedelta(0) <= at - s.reported_at <= DUPLICATE_WINDOW
        and (
            lat is None
            or lon is None
            or s.lat is None
            or s.lon is None
            or distance_m(lat, lon, s.lat, s.lon) <= DUPLICATE_RADIUS_M
        )
    ]
    return min(matches, key=lambda s: (s.reported_at, str(s.id))) if matches else None


# --- intake validation ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Report:
    """An intake request as it arrived (strings still unchecked)."""

    municipality: str
    area: str
    category: str
    urgency: str
    description: str
    source: str
    observed_at: datetime | None = None
    lat: float | None = None
    lon: float | None = None
    bag_id: str | None = None
    group_id: str | None = None
    contact_email: str | None = None


def check_report(report: Report, now: datetime, allowed_sources: frozenset[SignalSource]) -> FieldErrors:
    """Every field error of a report at once (the group is checked against partners by the caller)."""
    errors = FieldErrors()
    if not areas.is_municipality(report.municipality):
        errors.add("municipality", "must be a CBS GM code (GM + 4 digits)")
    problem = area_problem(report.area, report.municipality)
    if problem:
        errors.add("area", problem)
    if report.category not in Category._value2member_map_:
        errors.add("category", f"unknown category; one of {', '.join(c.value for c in Category)}")
    if report.urgency not in Urgency._value2member_map_:
        errors.add("urgency", f"unknown urgency; one of {', '.join(u.value for u in Urgency)}")
    text = report.description.strip()
    if not text:
        errors.add("description", "must not be empty")
    elif len(report.description) > DESCRIPTION_MAX:
        errors.add("description", f"must be at most {DESCRIPTION_MAX} characters")
    if report.source not in SignalSource._value2member_map_:
        errors.add("source", f"unknown source; one of {', '.join(s.value for s in SignalSource)}")
    elif SignalSource(report.source) not in allowed_sources:
        errors.add("source", "not a source you may report from")
    if report.observed_at is not None:
        if report.observed_at.tzinfo is None:
            errors.add("observedAt", "must carry a time zone (RFC 3339)")
        elif report.observed_at > now + OBSERVED_CLOCK_SKEW:
            errors.add("observedAt", "must not be in the future")
    if report.lat is not None and not -90 <= report.lat <= 90:
        errors.add("lat", "must be between -90 and 90")
    if report.lon is not None and not -180 <= report.lon <= 180:
        errors.add("lon", "must be between -180 and 180")
    if (report.lat is None) != (report.lon is None):
        errors.add("lat" if report.lat is None else "lon", "give both lat and lon, or neither")
    if report.bag_id is not None and not _BAG.match(report.bag_id):
        errors.add("bagId", "must be a BAG id of 16 digits")
    if report.contact_email is not None and (len(report.contact_email) > 254 or not _EMAIL.match(report.contact_email)):
        errors.add("contactEmail", "must be an e-mail address")
    if report.source == SignalSource.WHATSAPP_GROUP and not report.group_id:
        errors.add("groupId", "required for reports from a WhatsApp group")
    if report.group_id is not None:
        try:
            UUID(report.group_id)
        except ValueError:
            errors.add("groupId", "must be a partner id (uuid)")
    return errors


# --- the aggregate -------------------------------------------------------------------------------


@dataclass
class Escalation:
    partner_id: UUID
    at: datetime
    acknowledge_by: datetime
    reason: str | None = None
    automatic: bool = False
    acknowledged_at: datetime | None = None


@dataclass(frozen=True)
class Feedback:
    partner_id: UUID | None
    message: str
    at: datetime


@dataclass(frozen=True)
class HistoryEntry:
    action: str
    at: datetime
    actor: str | None
    from_status: Status | None
    to_status: Status | None
    note: str | None = None


@dataclass
class Signal:
    id: UUID
    reference: str
    municipality: str
    area: str
    category: Category
    urgency: Urgency
    description: str | None
    source: SignalSource
    reporter: str
    reported_at: datetime
    status: Status = Status.RECEIVED
    group_id: UUID | None = None
    observed_at: datetime | None = None
    lat: float | None = None
    lon: float | None = None
    bag_id: str | None = None
    has_contact: bool = False
    report_count: int = 1
    duplicate_of: UUID | None = None
    routed_partner_id: UUID | None = None
    escalations: list[Escalation] = field(default_factory=list)
    feedback: list[Feedback] = field(default_factory=list)
    history: list[HistoryEntry] = field(default_factory=list)
    resolved_at: datetime | None = None
    ended_at: datetime | None = None
    overdue_notified: bool = False
    version: int = 0
    original_feedback: list[Feedback] | None = None  # of the signal this one was merged into
    pending: list[tuple[int, EventData]] = field(default_factory=list)

    # --- reading -------------------------------------------------------------------------------

    @property
    def escalation(self) -> Escalation | None:
        """The current escalation (the latest)."""
        return self.escalations[-1] if self.escalations else None

    @property
    def acknowledge_by(self) -> datetime | None:
        e = self.escalation
        return e.acknowledge_by if e else None

    def is_overdue(self, now: datetime) -> bool:
        e = self.escalation
        return self.status == Status.ESCALATED and e is not None and e.acknowledge_by < now

    def escalated_to(self, partner_id: UUID | str | None) -> bool:
        return partner_id is not None and any(str(e.partner_id) == str(partner_id) for e in self.escalations)

    def facts(self) -> dict[str, object]:
        return {
            "signal_id": self.id,
            "reference": self.reference,
            "municipality": self.municipality,
            "area": self.area,
            "category": self.category,
            "urgency": self.urgency,
            "status": self.status,
        }

    # --- internals -----------------------------------------------------------------------------

    def _record(self, action: str, at: datetime, actor: str | None, to: Status | None, note: str | None = None) -> None:
        before = self.status
        if to is not None:
            self.status = to
        self.history.append(HistoryEntry(action, at, actor, before if to is not None else None, to, note))

    def _raise(self, event: EventData) -> None:
        self.version += 1
        self.pending.append((self.version, event))

    def _require(self, action: str, *allowed: Status) -> None:
        if self.status not in allowed:
            raise SignalRuleBroken(self.status, action)

    # --- commands ------------------------------------------------------------------------------

    @classmethod
    def report(
        cls,
        *,
        id: UUID,
        reference: str,
        report: Report,
        reporter: str,
        at: datetime,
        routed_partner_id: UUID | None,
    ) -> Signal:
        signal = cls(
            id=id,
            reference=reference,
            municipality=report.municipality,
            area=report.area,
            category=Category(report.category),
            urgency=Urgency(report.urgency),
            description=report.description,
            source=SignalSource(report.source),
            reporter=reporter,
            reported_at=at,
            group_id=UUID(report.group_id) if report.group_id else None,
            observed_at=report.observed_at,
            lat=report.lat,
            lon=report.lon,
            bag_id=report.bag_id,
            has_contact=report.contact_email is not None,
            routed_partner_id=routed_partner_id,
        )
        signal.history.append(HistoryEntry("reported", at, reporter, None, Status.RECEIVED))
        signal._raise(
            SignalReceived(
                **signal.facts(),
                source=signal.source,
                received_at=at,
                observed_at=signal.observed_at,
                routed_partner_id=routed_partner_id,
                group_id=signal.group_id,
                has_location=signal.lat is not None,
                has_contact=signal.has_contact,
            )
        )
        return signal

    def escalate(
        self, partner: Partner, *, at: datetime, actor: str | None, reason: str | None = None, automatic: bool = False
    ) -> None:
        self._require("escalate", Status.RECEIVED, Status.REOPENED)
        escalation = Escalation(partner.id, at, at + partner.acknowledge_within(self.urgency), reason, automatic)
        self.escalations.append(escalation)
        self.overdue_notified = False
        self._record("escalated", at, SYSTEM if automatic else actor, Status.ESCALATED, reason)
        self._raise(
            SignalEscalated(
                **self.facts(),
                partner_id=partner.id,
                escalated_at=at,
                acknowledge_by=escalation.acknowledge_by,
                automatic=automatic,
                group_id=self.group_id,
            )
        )

    def _responsible(self, partner_id: str | None) -> Escalation:
        e = self.escalation
        if e is None or partner_id is None or str(e.partner_id) != partner_id:
            raise NotResponsible("only the partner the signal is escalated to may do this")
        return e

    def acknowledge(self, partner_id: str | None, *, at: datetime, actor: str, message: str | None) -> bool:
        """False when this partner already acknowledged (the answer is the current state)."""
        if self.status in (Status.ACKNOWLEDGED, Status.RESOLVED, Status.CLOSED) and self.escalation is not None:
            self._responsible(partner_id)
            return False
        self._require("acknowledge", Status.ESCALATED)
        e = self._responsible(partner_id)
        e.acknowledged_at = at
        if message:
            self.feedback.append(Feedback(e.partner_id, message, at))
        self._record("acknowledged", at, actor, Status.ACKNOWLEDGED)
        self._raise(
            SignalAcknowledged(
                **self.facts(), partner_id=e.partner_id, acknowledged_at=at, escalated_at=e.at, group_id=self.group_id
            )
        )
        return True

    def resolve(self, partner_id: str | None, *, at: datetime, actor: str, feedback: str) -> bool:
        """False when this partner already resolved it (the answer is the current state)."""
        if self.status in (Status.RESOLVED, Status.CLOSED) and self.escalation is not None:
            self._responsible(partner_id)
            return False
        self._require("resolve", Status.ESCALATED, Status.ACKNOWLEDGED)
        e = self._responsible(partner_id)
        implied = e.acknowledged_at is None
        if implied:
            e.acknowledged_at = at
            self._record("acknowledged", at, actor, Status.ACKNOWLEDGED, "implied by the resolution")
        self.feedback.append(Feedback(e.partner_id, feedback, at))
        self.resolved_at = at
        self._record("resolved", at, actor, Status.RESOLVED)
        self._raise(
            SignalResolved(
                **self.facts(),
                partner_id=e.partner_id,
                resolved_at=at,
                escalated_at=e.at,
                acknowledged_at=e.acknowledged_at,
                acknowledgement_implied=implied,
                group_id=self.group_id,
            )
        )
        return True

    def reject(self, *, at: datetime, actor: str, reason: str) -> None:
        self._require("reject", Status.RECEIVED)
        self.ended_at = at
        self._record("rejected", at, actor, Status.REJECTED, reason)
        self._raise(SignalRejected(**self.facts(), rejected_at=at))

    def merge_into(self, original: Signal, *, at: datetime, actor: str | None, automatic: bool) -> None:
        self._require("merge", Status.RECEIVED)
        if original.id == self.id or original.status not in OPEN or original.duplicate_of is not None:
            raise SignalRuleBroken(original.status if original.id != self.id else self.status, "merge into")
        self.duplicate_of = original.id
        self.ended_at = at
        original.report_count += self.report_count
        self._record("merged", at, SYSTEM if automatic else actor, Status.MERGED, original.reference)
        self._raise(SignalMerged(**self.facts(), duplicate_of=original.id, merged_at=at, automatic=automatic))

    def merge_reported(self, original: OpenReport, *, at: datetime) -> None:
        """A new report that duplicates an open signal (detected at intake)."""
        self.duplicate_of = original.id
        self.ended_at = at
        self._record("merged", at, SYSTEM, Status.MERGED)
        self._raise(SignalMerged(**self.facts(), duplicate_of=original.id, merged_at=at, automatic=True))

    def reclassify(
        self,
        *,
        category: Category | None,
        area: str | None,
        routed_partner_id: UUID | None,
        at: datetime,
        actor: str,
    ) -> None:
        if self.status not in OPEN:
            raise SignalRuleBroken(self.status, "reclassify")
        previous_category, previous_area = self.category, self.area
        self.category = category or self.category
        self.area = area or self.area
        self.routed_partner_id = routed_partner_id
        note = f"{previous_category.value} {previous_area} -> {self.category.value} {self.area}"
        self._record("reclassified", at, actor, None, note)
        self._raise(
            SignalReclassified(
                **self.facts(),
                previous_category=previous_category,
                previous_area=previous_area,
                routed_partner_id=routed_partner_id,
                reclassified_at=at,
            )
        )

    def reopen(self, *, at: datetime, actor: str, reason: str, window: timedelta = REOPEN_WINDOW) -> None:
        self._require("reopen", Status.RESOLVED)
        if self.resolved_at is None or at - self.resolved_at > window:
            raise SignalRuleBroken(self.status, f"reopen more than {window.days} days after resolution: reopen")
        e = self.escalation
        self._record("reopened", at, actor, Status.REOPENED, reason)
        self._raise(SignalReopened(**self.facts(), reopened_at=at, partner_id=e.partner_id if e else None))

    def close(self, *, at: datetime) -> None:
        self._require("close", Status.RESOLVED)
        self.ended_at = at
        e = self.escalation
        self._record("closed", at, SYSTEM, Status.CLOSED)
        self._raise(SignalClosed(**self.facts(), closed_at=at, partner_id=e.partner_id if e else None))

    def mark_overdue(self, *, at: datetime) -> bool:
        """Once per missed deadline: False when not overdue or already reported."""
        e = self.escalation
        if self.overdue_notified or e is None or not self.is_overdue(at):
            return False
        self.overdue_notified = True
        self._record("overdue", at, SYSTEM, None)
        self._raise(
            SignalOverdue(**self.facts(), partner_id=e.partner_id, escalated_at=e.at, acknowledge_by=e.acknowledge_by)
        )
        return True


def intake_escalation(
    signal: Signal, routed: Partner | None, partners: Sequence[Partner], at: datetime
) -> tuple[Partner, str] | None:
    """Whom a new signal is escalated to at once, and why: acute ones to the police, and the
    categories the routed partner wants automatically."""
    if signal.urgency == Urgency.ACUTE:
        if routed is not None and routed.kind == PartnerKind.POLICE:
            return routed, "acute"
        police = police_for(partners, municipality=signal.municipality, area=signal.area, at=at)
        target = police or routed
        return (target, "acute") if target else None
    if routed is not None and signal.category in routed.auto_escalate:
        return routed, "automatic for this category"
    return None


def advice_for(urgency: Urgency) -> str | None:
    return ACUTE_ADVICE if urgency == Urgency.ACUTE else None
