"""Who hears what, what a webhook says, when a failed delivery is tried again: pure, no I/O.

A delivery is one message about one event to one target (a partner, or the reporters of a
signal) over one channel (webhook or e-mail). Webhook bodies follow the public contract's
table exactly: information-poor CloudEvents whose `dataref` points at the resource.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from uuid import UUID

from shared import areas
from shared.clock import rfc3339
from shared.events import labels
from shared.events.codes import PartnerKind

REPORTER = "reporter"
PING = "ping"
TYPE_PREFIX = "nl.wijkaanpak."
SOURCE = "urn:nld:wijkaanpak:notifications"

# The default retry schedule: the wait after attempt n (1-based) is SCHEDULE[n-1], with jitter.
# 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, 2 h, 4 h, 8 h, 8 h: eleven attempts over about 23.7 hours.
DEFAULT_RETRY_SCHEDULE: tuple[float, ...] = (5, 30, 120, 600, 1800, 3600, 7200, 14400, 28800, 28800)
JITTER = 0.25


class Channel(StrEnum):
    WEBHOOK = "webhook"
    EMAIL = "email"


class Status(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    RETRYING = "retrying"
    FAILED = "failed"


OPEN_STATUSES = (Status.PENDING, Status.RETRYING)

SIGNAL_EVENTS_TO_PARTNER = ("signal.escalated", "signal.overdue", "signal.reopened", "signal.closed")
SIGNAL_FEEDBACK_EVENTS = ("signal.acknowledged", "signal.resolved")
GOAL_EVENTS = ("goal.review_due", "goal.reviewed")
HANDLED_EVENTS = (*SIGNAL_EVENTS_TO_PARTNER, *SIGNAL_FEEDBACK_EVENTS, *GOAL_EVENTS)

_WITH_DEADLINE = ("signal.escalated", "signal.overdue")
_SIGNAL_FIELDS = ("signalId", "reference", "municipality", "area", "category", "urgency")
_GOAL_FIELDS = ("goalId", "municipality", "area", "year", "quarter", "partnerIds")
GROUP_KINDS = (PartnerKind.RESIDENT_GROUP, PartnerKind.WHATSAPP_GROUP)


@dataclass(frozen=True)
class PartnerChannels:
    """The read model of one partner: where it is reached, and whether it may be."""

    partner_id: UUID
    kind: PartnerKind
    municipalities: tuple[str, ...]
    areas: tuple[str, ...]
    active: bool
    webhook_url: str | None
    email: str | None
    webhook_disabled: bool = False

    def channels(self) -> list[Channel]:
        if not self.active:
            return []
        found: list[Channel] = []
        if self.webhook_url and not self.webhook_disabled:
            found.append(Channel.WEBHOOK)
        if self.email:
            found.append(Channel.EMAIL)
        return found

    def covers_part_of(self, area: str) -> bool:
        return any(areas.overlap(own, area) for own in self.areas)


@dataclass(frozen=True, order=True)
class Target:
    """A partner id, or REPORTER (the reporters who left a contact), on one channel."""

    target: str
    channel: Channel
    partner_id: UUID | None


def channel_update_applies(current_version: int | None, incoming_version: int) -> bool:
    """Partner events carry the full state: only a newer version replaces the read model."""
    return current_version is None or incoming_version > current_version


def keeps_webhook_disabled(was_disabled: bool, old_url: str | None, new_url: str | None) -> bool:
    """A 410 disables the channel until the partner registers another url."""
    return was_disabled and old_url == new_url


def audience(event_type: str, data: Mapping[str, Any], partners: Iterable[PartnerChannels]) -> list[Target]:
    """Who must hear about this event, on which channels (data: the event's camelCase data)."""
    known = {p.partner_id: p for p in partners}
    wanted: list[UUID] = []
    reporters = False
    municipality = str(data.get("municipality", ""))

    def coordinators() -> list[UUID]:
        return [
            p.partner_id
            for p in known.values()
            if p.kind == PartnerKind.MUNICIPALITY and municipality in p.municipalities
        ]

    if event_type in SIGNAL_EVENTS_TO_PARTNER:
        wanted += _ids([data.get("partnerId")])
        if event_type == "signal.overdue":
            wanted += coordinators()
    elif event_type in SIGNAL_FEEDBACK_EVENTS:
        reporters = True
        wanted += _ids([data.get("groupId")])
    elif event_type == "goal.review_due":
        wanted += coordinators()
        wanted += _ids(data.get("partnerIds") or [])
    elif event_type == "goal.reviewed":
        wanted += _ids(data.get("partnerIds") or [])
        area = str(data.get("area", ""))
        wanted += [
            p.partner_id
            for p in known.values()
            if p.kind in GROUP_KINDS and municipality in p.municipalities and p.covers_part_of(area)
        ]
    targets: set[Target] = set()
    for partner_id in wanted:
        partner = known.get(partner_id)
        if partner is None:
            continue
        targets.update(Target(str(partner_id), channel, partner_id) for channel in partner.channels())
    ordered = sorted(targets)
    if reporters:
        ordered.append(Target(REPORTER, Channel.EMAIL, None))
    return ordered


def _ids(values: Iterable[object]) -> list[UUID]:
    return [UUID(str(v)) for v in values if v]


def subject_of(event_type: str, data: Mapping[str, Any]) -> str:
    if event_type.startswith("goal."):
        return str(data["goalId"])
    if event_type == PING:
        return str(data["partnerId"])
    return str(data["signalId"])


def dataref(public_base_url: str, event_type: str, subject: str) -> str | None:
    base = public_base_url.rstrip("/")
    if event_type.startswith("signal."):
        return f"{base}/v1/signals/{subject}"
    if event_type.startswith("goal."):
        return f"{base}/v1/goals/{subject}"
    return None


def webhook_data(event_type: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """Exactly the fields of the contract's table: no description, feedback or contact."""
    if event_type == PING:
        return {"partnerId": str(data["partnerId"])}
    if event_type.startswith("goal."):
        return {name: data.get(name) for name in _GOAL_FIELDS} | {"partnerIds": list(data.get("partnerIds") or [])}
    body = {name: data.get(name) for name in _SIGNAL_FIELDS}
    body["partnerId"] = data.get("partnerId")
    if event_type in _WITH_DEADLINE:
        body["acknowledgeBy"] = data.get("acknowledgeBy")
    return body


def cloud_event(
    *,
    event_id: UUID,
    source: str,
    event_type: str,
    time: datetime,
    subject: str,
    data: Mapping[str, Any],
    public_base_url: str,
) -> dict[str, Any]:
    """The webhook body: a CloudEvent 1.0 (structured mode) of the event."""
    body: dict[str, Any] = {
        "specversion": "1.0",
        "id": str(event_id),
        "source": source,
        "type": TYPE_PREFIX + event_type,
        "time": rfc3339(time),
        "subject": subject,
    }
    ref = dataref(public_base_url, event_type, subject)
    if ref is not None:
        body["dataref"] = ref
    body["datacontenttype"] = "application/json"
    body["data"] = webhook_data(event_type, data)
    return body


# --- attempts and retries ------------------------------------------------------------------------


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


@dataclass(frozen=True)
class NextState:
    status: Status
    next_attempt_at: datetime | None
    disable_webhook: bool = False


def after_attempt(
    outcome: Outcome,
    *,
    round_attempt: int,
    now: datetime,
    schedule: Sequence[float],
    rand: Callable[[], float] = random.random,
) -> NextState:
    """Where a delivery stands after its `round_attempt`-th attempt since it was (re)sent."""
    if outcome == Outcome.DELIVERED:
        return NextState(Status.DELIVERED, None)
    if outcome == Outcome.GONE:
        return NextState(Status.FAILED, None, disable_webhook=True)
    if outcome == Outcome.REFUSED:
        return NextState(Status.FAILED, None)
    delay = retry_delay(round_attempt, schedule, rand)
    if delay is None:
        return NextState(Status.FAILED, None)
    return NextState(Status.RETRYING, now + delay)


# --- e-mail --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mail:
    subject: str
    body: str


def _signal_line(data: Mapping[str, Any]) -> str:
    category = labels.in_sentence(str(data.get("category")))
    urgency = labels.in_sentence(str(data.get("urgency")))
    return f"Melding {data.get('reference')} ({category}, urgentie {urgency}) in {data.get('area')}."


_CLOSING = (
    "\n\nMet vriendelijke groet,\nWijkaanpak\n\nDit bericht is automatisch verstuurd; u kunt er niet op antwoorden.\n"
)


def partner_mail(event_type: str, data: Mapping[str, Any], link: str | None) -> Mail:
    """The e-mail to a partner's e-mail channel: what happened, and where to read it."""
    see = f"\n\nBekijk de details (na inloggen): {link}" if link else ""
    if event_type == "signal.escalated":
        subject = f"Nieuwe melding {data.get('reference')} voor uw organisatie"
        text = f"{_signal_line(data)}\nGraag bevestigen vóór {data.get('acknowledgeBy')}."
    elif event_type == "signal.overdue":
        subject = f"Melding {data.get('reference')} is niet op tijd bevestigd"
        text = f"{_signal_line(data)}\nDe termijn voor bevestiging ({data.get('acknowledgeBy')}) is verstreken."
    elif event_type == "signal.reopened":
        subject = f"Melding {data.get('reference')} is heropend"
        text = f"{_signal_line(data)}\nDe melding is heropend en vraagt opnieuw aandacht."
    elif event_type == "signal.closed":
        subject = f"Melding {data.get('reference')} is gesloten"
        text = f"{_signal_line(data)}\nDe melding is afgesloten."
    elif event_type == "signal.acknowledged":
        subject = f"Melding {data.get('reference')} is in behandeling genomen"
        text = f"{_signal_line(data)}\nEen partner heeft de melding bevestigd."
    elif event_type == "signal.resolved":
        subject = f"Melding {data.get('reference')} is afgehandeld"
        text = f"{_signal_line(data)}\nEen partner heeft de melding afgehandeld en teruggekoppeld."
    elif event_type == "goal.review_due":
        subject = f"Kwartaalevaluatie {data.get('quarter')}: wijkdoel in {data.get('area')}"
        text = (
            f"Het kwartaal {data.get('quarter')} is voorbij. Het wijkdoel voor {data.get('area')}"
            f" ({data.get('year')}) is toe aan de kwartaalevaluatie."
        )
    elif event_type == "goal.reviewed":
        subject = f"Wijkdoel in {data.get('area')} geëvalueerd ({data.get('quarter')})"
        text = f"De evaluatie van het wijkdoel voor {data.get('area')} over {data.get('quarter')} is vastgelegd."
    else:
        subject = "Testbericht van Wijkaanpak"
        text = "Dit is een testbericht: uw kanaal werkt."
    return Mail(subject, text + see + _CLOSING)


def reporter_mail(event_type: str, data: Mapping[str, Any], link: str | None) -> Mail:
    """Feedback to a reporter: information-poor; the answer itself is read in the app."""
    reference = data.get("reference")
    see = f"\n\nU leest het antwoord in de app: {link}" if link else "\n\nU leest het antwoord in de app."
    if event_type == "signal.acknowledged":
        subject = f"Uw melding {reference} is in behandeling"
        text = (
            f"Bedankt voor uw melding {reference}. Een partner in uw wijk heeft hem ontvangen"
            " en in behandeling genomen, met een bericht voor u."
        )
    else:
        subject = f"Uw melding {reference} is afgehandeld"
        text = f"Uw melding {reference} is afgehandeld. De partner die hem oppakte heeft u een terugkoppeling gestuurd."
    return Mail(subject, text + see + _CLOSING)


def pin_to_address(url: str, address: str) -> tuple[str, str, str]:
    """(url to connect to, Host header, TLS server name): connect to the address that was checked.

    The name is resolved once, checked, and that address is used; the certificate is still
    verified against the name (SNI), so a rebinding DNS answer cannot redirect the request.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    literal = f"[{address}]" if ":" in address else address
    netloc = f"{literal}:{parts.port}" if parts.port else literal
    host_header = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, "")), host_header, host
