"""What a webhook says: information-poor CloudEvents, exactly the public contract's table, whose
`dataref` points at the resource; and where the request goes once its url was checked."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from uuid import UUID

from shared.clock import rfc3339

PING = "ping"
TYPE_PREFIX = "nl.wijkaanpak."
SOURCE = "urn:nld:wijkaanpak:notifications"

_WITH_DEADLINE = ("signal.escalated", "signal.overdue", "signal.transferred", "signal.reaction_received")
_SIGNAL_FIELDS = ("signalId", "reference", "municipality", "area", "category", "urgency")
# the signal events of December 2026 also say the status they left the signal in
_WITH_STATUS = (
    "signal.transferred",
    "signal.partner_involved",
    "signal.reaction_requested",
    "signal.reaction_received",
    "signal.rejected",
    "signal.merged",
)
_GOAL_FIELDS = ("goalId", "municipality", "area", "year", "quarter", "partnerIds")
_MESSAGE_FIELDS = ("messageId", "municipality", "area", "kind", "partnerId")
_INITIATIVE_FIELDS = ("initiativeId", "municipality", "area", "kind", "status", "goalId")
_PROPOSAL_FIELDS = ("proposalId", "goalId", "municipality", "area", "year", "decision")
_REVIEW_FIELDS = ("reviewId", "municipality", "area", "quarter")


def dataref(public_base_url: str, event_type: str, subject: str) -> str | None:
    base = public_base_url.rstrip("/")
    if event_type == "goal.proposal_decided":
        return f"{base}/v1/goal-proposals/{subject}"
    if event_type == "area.reviewed":
        return f"{base}/v1/reviews/{subject}"  # the subject is `<area>/<quarter>`: the printable report
    if event_type.startswith("signal."):
        return f"{base}/v1/signals/{subject}"
    if event_type.startswith("goal."):
        return f"{base}/v1/goals/{subject}"
    if event_type.startswith("neighbourhood.message_"):
        return f"{base}/v1/messages/{subject}"
    if event_type.startswith("initiative."):
        return f"{base}/v1/initiatives/{subject}"
    return None


def webhook_data(event_type: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """Exactly the fields of the contract's table: ids, codes and times; no description, title,
    body, note, feedback or contact."""
    if event_type == PING:
        return {"partnerId": str(data["partnerId"])}
    if event_type == "goal.proposal_decided":
        return {name: data.get(name) for name in _PROPOSAL_FIELDS}
    if event_type == "area.reviewed":
        return {name: data.get(name) for name in _REVIEW_FIELDS} | {"partnerIds": list(data.get("partnerIds") or [])}
    if event_type.startswith("goal."):
        return {name: data.get(name) for name in _GOAL_FIELDS} | {"partnerIds": list(data.get("partnerIds") or [])}
    if event_type.startswith("neighbourhood.message_"):
        return {name: data.get(name) for name in _MESSAGE_FIELDS}
    if event_type.startswith("initiative."):
        body = {name: data.get(name) for name in _INITIATIVE_FIELDS}
        if event_type == "initiative.started":
            body["asks"] = list(data.get("asks") or [])
        if event_type == "initiative.support_pledged":
            body["partnerId"] = data.get("partnerId")  # the partner that pledged
            body["supportKind"] = data.get("supportKind")
        return body
    body = {name: data.get(name) for name in _SIGNAL_FIELDS}
    body["partnerId"] = data.get("partnerId")
    if event_type in _WITH_DEADLINE:
        body["acknowledgeBy"] = data.get("acknowledgeBy")
    if event_type in _WITH_STATUS:
        body["status"] = data.get("status")
    if event_type == "signal.merged":
        body["duplicateOf"] = data.get("duplicateOf")
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
