"""A signal as JSON (camelCase), with the fields the caller may see."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.signals import permissions
from services.signals.domain import Signal
from shared.auth import Principal
from shared.clock import rfc3339_or_none


def signal_json(signal: Signal, viewer: Principal, now: datetime) -> dict[str, Any]:
    """The contact e-mail is never here; the description only for those who may read it; the group
    message (a merged duplicate shows its original's, as with feedback) to them and the groups' admins."""
    feedback = (
        signal.original_feedback
        if signal.duplicate_of is not None and signal.original_feedback is not None
        else signal.feedback
    )
    group_message = signal.original_group_message if signal.duplicate_of is not None else signal.group_message
    return {
        "id": str(signal.id),
        "reference": signal.reference,
        "municipality": signal.municipality,
        "area": signal.area,
        "category": signal.category.value,
        "urgency": signal.urgency.value,
        "description": signal.description if permissions.may_read_description(viewer, signal) else None,
        "status": signal.status.value,
        "source": signal.source.value,
        "reportedAt": rfc3339_or_none(signal.reported_at),
        "observedAt": rfc3339_or_none(signal.observed_at),
        "lat": signal.lat,
        "lon": signal.lon,
        "bagId": signal.bag_id,
        "reportCount": signal.report_count,
        "duplicateOf": str(signal.duplicate_of) if signal.duplicate_of else None,
        "routedPartnerId": str(signal.routed_partner_id) if signal.routed_partner_id else None,
        "groupId": str(signal.group_id) if signal.group_id else None,
        "groupMessage": group_message if permissions.may_read_group_message(viewer, signal) else None,
        "acknowledgeBy": rfc3339_or_none(signal.acknowledge_by),
        "overdue": signal.is_overdue(now),
        "escalations": [
            {
                "partnerId": str(e.partner_id),
                "reason": e.reason,
                "at": rfc3339_or_none(e.at),
                "acknowledgeBy": rfc3339_or_none(e.acknowledge_by),
                "acknowledgedAt": rfc3339_or_none(e.acknowledged_at),
                "automatic": e.automatic,
            }
            for e in signal.escalations
        ],
        "feedback": [
            {
                "partnerId": str(f.partner_id) if f.partner_id else None,
                "message": f.message,
                "at": rfc3339_or_none(f.at),
            }
            for f in feedback
        ],
        "history": [
            {
                "action": h.action,
                "at": rfc3339_or_none(h.at),
                "actor": h.actor,
                "fromStatus": h.from_status.value if h.from_status else None,
                "toStatus": h.to_status.value if h.to_status else None,
            }
            for h in signal.history
        ],
    }
