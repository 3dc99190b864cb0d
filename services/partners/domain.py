"""Partners: who does what, where and when. Pure Python, no I/O.

A partner covers areas (CBS `GM`/`WK`/`BU` codes inside its municipalities), handles
categories, answers within agreed minutes, is available in weekly windows, and is reached
through its channels. Registration and every change are checked here, all errors at once.
"""

from __future__ import annotations

import base64
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from shared.areas import FORM_RULE, Level, is_municipality, parse_or_none
from shared.errors import Conflict, FieldErrors, NotFound
from shared.events.catalog import (
    Availability,
    EventData,
    PartnerDeactivated,
    PartnerFacts,
    PartnerRegistered,
    PartnerUpdated,
)
from shared.events.codes import GROUP_KINDS, Category, PartnerKind, Urgency
from shared.ssrf import UnsafeUrl, parse_target

CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
NAME_MAX = 200
EMAIL_MAX = 254
URL_MAX = 2000
SECRET_PREFIX = "whsec_"
IMMUTABLE = ("kind", "municipalities")  # a partner's identity: a different one is a new partner
# A group (WhatsApp or resident group) reports and hears back; it is never routed or escalated to,
# so it need not handle categories nor agree an acknowledgement time. Left out, it gets this one
# (events and `Partner.acknowledgeWithinMinutes` always carry a number; nothing uses it for a group).
GROUP_ACKNOWLEDGE_MINUTES = 1440


# --- rules broken (rendered to problem+json by shared.http) ----------------------------------


class NoSuchPartner(NotFound):
    """No partner has this id, or it is another municipality's (its existence is not revealed)."""

    def __init__(self) -> None:
        super().__init__("no such partner")


class NoSuchContact(NotFound):
    def __init__(self) -> None:
        super().__init__("no such contact")


class NameTaken(Conflict):
    """Names are unique per municipality regardless of case and spacing, inactive partners included."""

    def __init__(self, *, registering: bool) -> None:
        which = "these" if registering else "its"
        super().__init__(f"a partner with this name exists in one of {which} municipalities")


def parse_partner_id(value: str) -> UUID:
    """An id that is no UUID names no partner."""
    try:
        return UUID(value)
    except ValueError as exc:
        raise NoSuchPartner() from exc


# --- areas -----------------------------------------------------------------------------------


def area_problem(area: str, municipalities: Iterable[str]) -> str | None:
    """Why `area` is not a coverage area of a partner in `municipalities`, or None when it is."""
    parsed = parse_or_none(area)
    if parsed is None:
        return FORM_RULE
    if parsed.municipality in set(municipalities):
        return None
    if parsed.level is Level.MUNICIPALITY:
        return "municipality is not one of the partner's municipalities"
    return "must start with the digits of one of the partner's municipalities"


def enclosing_areas(area: str) -> list[str]:
    """The area and every area that contains it: a BU lies in its WK, which lies in its GM."""
    parsed = parse_or_none(area)
    return [a.code for a in parsed.enclosing()] if parsed else [area]


# --- availability ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """A weekly availability window; `until` before `from` crosses midnight (20:00-02:00)."""

    weekday: int
    start: str
    until: str

    @property
    def crosses_midnight(self) -> bool:
        return self.until < self.start


def window_problems(weekday: Any, start: Any, until: Any) -> dict[str, str]:
    """Problems per field name (`weekday`, `from`, `until`) of one window."""
    problems: dict[str, str] = {}
    if not isinstance(weekday, int) or isinstance(weekday, bool) or not 1 <= weekday <= 7:
        problems["weekday"] = "must be 1 (Monday) to 7 (Sunday)"
    for name, value in (("from", start), ("until", until)):
        if not isinstance(value, str) or not CLOCK.match(value):
            problems[name] = "must be a time HH:MM (00:00 to 23:59)"
    if "from" not in problems and "until" not in problems and start == until:
        problems["until"] = "must differ from `from` (an until before from crosses midnight)"
    return problems


# --- the partner -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Partner:
    id: UUID
    name: str
    kind: PartnerKind
    municipalities: tuple[str, ...]
    areas: tuple[str, ...]
    categories: tuple[Category, ...]
    auto_escalate: tuple[Category, ...]
    acknowledge_within_minutes: int
    acknowledge_within_minutes_by_urgency: Mapping[Urgency, int]
    availability: tuple[Window, ...]
    priority: int
    active: bool
    webhook_url: str | None
    email: str | None
    registered_at: datetime
    version: int

    @property
    def home_municipality(self) -> str:
        """The municipality events carry in their `municipality` attribute."""
        return self.municipalities[0]

    def covers(self, area: str) -> bool:
        return bool(set(self.areas).intersection(enclosing_areas(area)))


@dataclass(frozen=True)
class Registration:
    """What a registrar asks for, unchecked (values as received)."""

    name: Any
    kind: Any
    municipalities: Sequence[Any]
    areas: Sequence[Any]
    categories: Sequence[Any]
    auto_escalate: Sequence[Any] = ()
    acknowledge_within_minutes: Any = None
    acknowledge_within_minutes_by_urgency: Mapping[Any, Any] = field(default_factory=dict)
    availability: Sequence[tuple[Any, Any, Any]] = ()
    priority: Any = 0
    webhook_url: Any = None
    email: Any = None


@dataclass(frozen=True)
class Changes:
    """A partial update: only the fields present are changed (None clears url and e-mail)."""

    fields: Mapping[str, Any]

    def has(self, name: str) -> bool:
        return name in self.fields


@dataclass(frozen=True)
class UrlRules:
    allowed_hosts: tuple[str, ...] = ()
    allow_http_on_allowed: bool = False


def _unique(values: Iterable[Any]) -> list[Any]:
    return list(dict.fromkeys(values))


def _check_name(errors: FieldErrors, name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        errors.add("name", "must not be empty")
        return ""
    if len(name.strip()) > NAME_MAX:
        errors.add("name", f"must be at most {NAME_MAX} characters")
    return name.strip()


def _check_codes(errors: FieldErrors, name: str, values: Sequence[Any], *, required: bool) -> list[Category]:
    if required and not values:
        errors.add(name, "must name at least one category")
    codes: list[Category] = []
    for i, value in enumerate(values):
        try:
            codes.append(Category(value))
        except ValueError:
            errors.add(f"{name}.{i}", f"unknown category {value!r}")
    return _unique(codes)


def _check_minutes(errors: FieldErrors, name: str, value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        errors.add(name, "must be a whole number of minutes greater than 0")
        return 0
    return value


def _check_by_urgency(errors: FieldErrors, values: Mapping[Any, Any]) -> dict[Urgency, int]:
    result: dict[Urgency, int] = {}
    for key, minutes in values.items():
        try:
            urgency = Urgency(key)
        except ValueError:
            errors.add(f"acknowledgeWithinMinutesByUrgency.{key}", "unknown urgency")
            continue
        result[urgency] = _check_minutes(errors, f"acknowledgeWithinMinutesByUrgency.{key}", minutes)
    return result


def _check_areas(errors: FieldErrors, areas: Sequence[Any], municipalities: Sequence[str]) -> list[str]:
    if not areas:
        errors.add("areas", "must name at least one area")
    for i, area in enumerate(areas):
        problem = area_problem(area, municipalities) if isinstance(area, str) else "must be a CBS area code"
        if problem:
            errors.add(f"areas.{i}", problem)
    return _unique(a for a in areas if isinstance(a, str))


def _check_windows(errors: FieldErrors, windows: Sequence[tuple[Any, Any, Any]]) -> list[Window]:
    checked: list[Window] = []
    for i, (weekday, start, until) in enumerate(windows):
        problems = window_problems(weekday, start, until)
        for name, message in problems.items():
            errors.add(f"availability.{i}.{name}", message)
        if not problems:
            checked.append(Window(weekday, start, until))
    return _unique(checked)


def _check_priority(errors: FieldErrors, value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or abs(value) > 1_000_000:
        errors.add("priority", "must be a whole number between -1000000 and 1000000")
        return 0
    return value


def _check_email(errors: FieldErrors, name: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > EMAIL_MAX or not EMAIL.match(value):
        errors.add(name, "must be an e-mail address")
        return None
    return value


def check_url_form(errors: FieldErrors, value: Any, rules: UrlRules) -> str | None:
    """The url's form (https, no credentials, allow-list); where it resolves is checked at the edge."""
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > URL_MAX:
        errors.add("webhookUrl", "must be a url")
        return None
    try:
        parse_target(value, allowed_hosts=rules.allowed_hosts, allow_http_on_allowed=rules.allow_http_on_allowed)
    except (UnsafeUrl, ValueError) as exc:
        errors.add("webhookUrl", str(exc))
        return None
    return value


def _check_auto_escalate(errors: FieldErrors, auto: list[Category], categories: list[Category]) -> None:
    for code in auto:
        if code not in categories:
            errors.add("autoEscalate", f"{code.value!r} is not one of the partner's categories")


def check_registration(
    draft: Registration, *, partner_id: UUID, at: datetime, rules: UrlRules, errors: FieldErrors | None = None
) -> Partner:
    """A partner at version 1, or ValidationFailed naming every invalid field."""
    errors = errors if errors is not None else FieldErrors()
    name = _check_name(errors, draft.name)
    try:
        kind = PartnerKind(draft.kind)
    except ValueError:
        errors.add("kind", f"unknown kind {draft.kind!r}")
        kind = PartnerKind.OTHER
    municipalities = _unique(draft.municipalities)
    if not municipalities:
        errors.add("municipalities", "must name at least one municipality")
    for i, m in enumerate(municipalities):
        if not is_municipality(m):
            errors.add(f"municipalities.{i}", "must be a CBS municipality code: GM + 4 digits")
    municipalities = [m for m in municipalities if isinstance(m, str)]
    areas = _check_areas(errors, draft.areas, municipalities)
    group = kind in GROUP_KINDS
    categories = _check_codes(errors, "categories", draft.categories, required=not group)
    auto = _check_codes(errors, "autoEscalate", draft.auto_escalate, required=False)
    _check_auto_escalate(errors, auto, categories)
    if draft.acknowledge_within_minutes is None and group:
        minutes = GROUP_ACKNOWLEDGE_MINUTES
    elif draft.acknowledge_within_minutes is None:
        errors.add("acknowledgeWithinMinutes", "required, except for groups (whatsapp_group, resident_group)")
        minutes = 0
    else:
        minutes = _check_minutes(errors, "acknowledgeWithinMinutes", draft.acknowledge_within_minutes)
    by_urgency = _check_by_urgency(errors, draft.acknowledge_within_minutes_by_urgency)
    windows = _check_windows(errors, draft.availability)
    priority = _check_priority(errors, draft.priority)
    webhook_url = check_url_form(errors, draft.webhook_url, rules)
    email = _check_email(errors, "email", draft.email)
    errors.raise_if_any()
    return Partner(
        id=partner_id,
        name=name,
        kind=kind,
        municipalities=tuple(municipalities),
        areas=tuple(areas),
        categories=tuple(categories),
        auto_escalate=tuple(auto),
        acknowledge_within_minutes=minutes,
        acknowledge_within_minutes_by_urgency=by_urgency,
        availability=tuple(windows),
        priority=priority,
        active=True,
        webhook_url=webhook_url,
        email=email,
        registered_at=at,
        version=1,
    )


def apply_changes(partner: Partner, changes: Changes, *, rules: UrlRules, errors: FieldErrors | None = None) -> Partner:
    """The partner after `changes`, at the next version; or the same partner when nothing changes."""
    errors = errors if errors is not None else FieldErrors()
    f = changes.fields
    for name in IMMUTABLE:
        if changes.has(name):
            errors.add(name, "cannot be changed: register a new partner and deactivate this one")
    name = _check_name(errors, f["name"]) if changes.has("name") else partner.name
    areas = _check_areas(errors, f["areas"] or [], partner.municipalities) if changes.has("areas") else partner.areas
    categories = (
        _check_codes(errors, "categories", f["categories"] or [], required=partner.kind not in GROUP_KINDS)
        if changes.has("categories")
        else list(partner.categories)
    )
    auto = (
        _check_codes(errors, "autoEscalate", f["autoEscalate"] or [], required=False)
        if changes.has("autoEscalate")
        else list(partner.auto_escalate)
    )
    if changes.has("categories") and not changes.has("autoEscalate"):
        auto = [c for c in auto if c in categories]  # narrowing the categories narrows auto-escalation
    _check_auto_escalate(errors, auto, categories)
    minutes = (
        _check_minutes(errors, "acknowledgeWithinMinutes", f["acknowledgeWithinMinutes"])
        if changes.has("acknowledgeWithinMinutes")
        else partner.acknowledge_within_minutes
    )
    by_urgency = (
        _check_by_urgency(errors, f["acknowledgeWithinMinutesByUrgency"] or {})
        if changes.has("acknowledgeWithinMinutesByUrgency")
        else partner.acknowledge_within_minutes_by_urgency
    )
    windows = _check_windows(errors, f["availability"] or []) if changes.has("availability") else partner.availability
    priority = _check_priority(errors, f["priority"]) if changes.has("priority") else partner.priority
    webhook_url = check_url_form(errors, f["webhookUrl"], rules) if changes.has("webhookUrl") else partner.webhook_url
    email = _check_email(errors, "email", f["email"]) if changes.has("email") else partner.email
    active = partner.active
    if changes.has("active"):
        if not isinstance(f["active"], bool):
            errors.add("active", "must be true or false")
        else:
            active = f["active"]
    errors.raise_if_any()
    changed = replace(
        partner,
        name=name,
        areas=tuple(areas),
        categories=tuple(categories),
        auto_escalate=tuple(auto),
        acknowledge_within_minutes=minutes,
        acknowledge_within_minutes_by_urgency=dict(by_urgency),
        availability=tuple(windows),
        priority=priority,
        webhook_url=webhook_url,
        email=email,
        active=active,
    )
    if _facts(changed) == _facts(partner):
        return partner
    return replace(changed, version=partner.version + 1)


def deactivate(partner: Partner) -> Partner:
    """Inactive at the next version; an inactive partner stays as it is."""
    return partner if not partner.active else replace(partner, active=False, version=partner.version + 1)


def name_key(name: str) -> str:
    """Names are unique per municipality regardless of case and spacing."""
    return " ".join(name.split()).casefold()


# --- contacts --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Contact:
    """A person at a partner (for a WhatsApp group: its admins); never in events or logs."""

    id: UUID
    partner_id: UUID
    name: str
    role: str
    email: str
    created_at: datetime


def check_contact(partner_id: UUID, fields: Mapping[str, Any], *, contact_id: UUID, at: datetime) -> Contact:
    errors = FieldErrors()
    values: dict[str, str] = {}
    for name, limit in (("name", NAME_MAX), ("role", 100)):
        value = fields.get(name)
        if not isinstance(value, str) or not value.strip():
            errors.add(name, "must not be empty")
        elif len(value.strip()) > limit:
            errors.add(name, f"must be at most {limit} characters")
        else:
            values[name] = value.strip()
    email = _check_email(errors, "email", fields.get("email") or "")
    errors.raise_if_any()
    return Contact(contact_id, partner_id, values["name"], values["role"], str(email), at)


# --- webhook secrets -------------------------------------------------------------------------


def new_webhook_secret() -> str:
    """`whsec_` + base64 of 32 random bytes (Standard Webhooks)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


# --- events ----------------------------------------------------------------------------------


def _facts(partner: Partner) -> dict[str, Any]:
    data = facts(partner, PartnerUpdated).model_dump(mode="json")
    data.pop("version")
    return data


def facts(partner: Partner, event: type[PartnerFacts]) -> PartnerFacts:
    return event(
        partner_id=partner.id,
        name=partner.name,
        kind=partner.kind,
        municipalities=list(partner.municipalities),
        areas=list(partner.areas),
        categories=list(partner.categories),
        auto_escalate=list(partner.auto_escalate),
        acknowledge_within_minutes=partner.acknowledge_within_minutes,
        acknowledge_within_minutes_by_urgency=dict(partner.acknowledge_within_minutes_by_urgency),
        availability=[Availability(weekday=w.weekday, from_=w.start, until=w.until) for w in partner.availability],
        priority=partner.priority,
        active=partner.active,
        registered_at=partner.registered_at,
        version=partner.version,
        webhook_url=partner.webhook_url,
        email=partner.email,
    )


def event_for_change(before: Partner | None, after: Partner) -> PartnerFacts:
    """registered for a new partner, deactivated when it stops being active, else updated."""
    if before is None:
        return facts(after, PartnerRegistered)
    if before.active and not after.active:
        return facts(after, PartnerDeactivated)
    return facts(after, PartnerUpdated)


@dataclass
class Raised:
    """The event a stored change raised, as the unit of work collects it (`shared.db.Aggregate`).

    A partner is an immutable value, so the change carries `pending`, not the partner.
    """

    municipality: str
    pending: list[tuple[int, EventData]]


def raised(before: Partner | None, after: Partner) -> Raised:
    """`event_for_change` at the partner's version, with its home municipality."""
    return Raised(after.home_municipality, [(after.version, event_for_change(before, after))])
