"""Intake rules: what a report must hold, when it duplicates an open signal, the advice given. Pure."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from services.signals.domain.routing import area_problem
from services.signals.domain.signal import OPEN, Signal
from shared import areas
from shared.errors import FieldErrors
from shared.events.codes import Category, SignalSource, Urgency
from shared.events.codes import SignalStatus as Status

DUPLICATE_WINDOW = timedelta(hours=2)
DUPLICATE_RADIUS_M = 250.0
DESCRIPTION_MAX = 2000
OBSERVED_CLOCK_SKEW = timedelta(minutes=1)

# --- advice (Dutch): what to call, and whether the report went on -------------------------------

EMERGENCY = "112"
POLICE_NO_EMERGENCY = "0900-8844"
ANONYMOUS = "0800-7000"  # Meld Misdaad Anoniem
POLICE_CATEGORIES = frozenset({Category.SUSPICIOUS_SITUATION, Category.BURGLARY, Category.DRUGS_NUISANCE})

ACUTE_ADVICE = (
    "Bel nu 112: bij direct gevaar of een misdrijf dat nu gebeurt is 112 de snelste weg naar hulp. "
    "Dit platform is geen meldkamer."
)
SAAR_ADVICE = (
    "Bel eerst zelf 112. Vertel daarna in de groep dat 112 gebeld is, zodat niet iedereen belt. "
    "Onderneem zelf niets: ga er niet op af en spreek niemand aan."
)
POLICE_ADVICE = "Geen spoed, wel politie: bel 0900-8844."
ANONYMOUS_ADVICE = "Wilt u anoniem iets melden over drugs? Bel Meld Misdaad Anoniem: 0800-7000."
NO_CALL_ADVICE = "Geen spoed: uw melding gaat naar de partner die erover gaat."
FORWARDED = "Uw melding is doorgestuurd naar de partner die erover gaat."
JOINED_FORWARDED = "Uw melding is toegevoegd aan een eerdere melding, die al is doorgestuurd."

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_BAG = re.compile(r"^\d{16}$")


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


@dataclass(frozen=True)
class Advice:
    """What to call (`112`, `0900-8844`, `0800-7000` or nothing) and what to do, in Dutch."""

    call: str | None
    text: str


def advice_for(category: Category, urgency: Urgency, source: SignalSource | None = None) -> Advice:
    """The advice for a report, before it is written: acute is 112 now (from a WhatsApp group: SAAR,
    first 112, then tell the group, do not act yourself); high in a police category is the police's
    non-emergency number; drugs nuisance also Meld Misdaad Anoniem."""
    call: str | None = None
    parts: list[str] = []
    if urgency == Urgency.ACUTE:
        call = EMERGENCY
        parts.append(SAAR_ADVICE if source == SignalSource.WHATSAPP_GROUP else ACUTE_ADVICE)
    elif urgency == Urgency.HIGH and category in POLICE_CATEGORIES:
        call = POLICE_NO_EMERGENCY
        parts.append(POLICE_ADVICE)
    if category == Category.DRUGS_NUISANCE:
        call = call or ANONYMOUS
        parts.append(ANONYMOUS_ADVICE)
    return Advice(call, " ".join(parts) or NO_CALL_ADVICE)


def report_advice(signal: Signal) -> str | None:
    """The `advice` of an intake answer: the advice when there is a number to call, and that the
    report was forwarded only when it (or the signal it joined) was escalated; null when neither."""
    advice = advice_for(signal.category, signal.urgency, signal.source)
    forwarded: str | None = None
    if signal.status == Status.ESCALATED:
        forwarded = FORWARDED
    elif signal.original is not None and signal.original.status in (Status.ESCALATED, Status.ACKNOWLEDGED):
        forwarded = JOINED_FORWARDED
    parts = ([advice.text] if advice.call else []) + ([forwarded] if forwarded else [])
    return " ".join(parts) or None
