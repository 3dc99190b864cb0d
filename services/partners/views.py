"""How a partner and a contact are shown (camelCase JSON), to whom: limited readers see names,
kinds, areas and the public service information (categories, availability, acknowledgement
time) only (`permissions.view_of`)."""

from __future__ import annotations

from typing import Any

from services.partners import permissions
from services.partners.domain import Contact, Partner
from services.partners.permissions import View
from shared.auth import Principal
from shared.clock import rfc3339
from shared.events.codes import Urgency


def show_partner(partner: Partner, view: View) -> dict[str, Any]:
    """The partner as `view` may see it: limited readers get names, kinds, areas and the public
    service information only."""
    shown: dict[str, Any] = {
        "id": str(partner.id),
        "name": partner.name,
        "kind": partner.kind.value,
        "municipalities": list(partner.municipalities),
        "areas": list(partner.areas),
        "active": partner.active,
    }
    full = view is View.FULL
    # public service information: residents may know what a partner handles, when it is there and
    # how soon it answers (e.g. when the youth workers are on the street)
    shown.update(
        {
            "categories": [c.value for c in partner.categories],
            "acknowledgeWithinMinutes": partner.acknowledge_within_minutes,
            "availability": [{"weekday": w.weekday, "from": w.start, "until": w.until} for w in partner.availability],
        }
    )
    shown.update(
        {
            "autoEscalate": [c.value for c in partner.auto_escalate] if full else None,
            "acknowledgeWithinMinutesByUrgency": (
                {
                    u.value: partner.acknowledge_within_minutes_by_urgency[u]
                    for u in Urgency
                    if u in partner.acknowledge_within_minutes_by_urgency
                }
                if full
                else None
            ),
            "priority": partner.priority if full else None,
            "webhookUrl": partner.webhook_url if full else None,
            "email": partner.email if full else None,
            "registeredAt": rfc3339(partner.registered_at) if full else None,
            "version": partner.version if full else None,
        }
    )
    return shown


def show_contact(contact: Contact) -> dict[str, Any]:
    return {
        "id": str(contact.id),
        "partnerId": str(contact.partner_id),
        "name": contact.name,
        "role": contact.role,
        "email": contact.email,
        "createdAt": rfc3339(contact.created_at),
    }


def full(partner: Partner) -> dict[str, Any]:
    return show_partner(partner, View.FULL)


def shown_to(principal: Principal, partner: Partner) -> dict[str, Any]:
    return show_partner(partner, permissions.view_of(principal, str(partner.id), partner.municipalities))
