"""How the service's objects are shown (camelCase JSON, times in RFC 3339)."""

from __future__ import annotations

from typing import Any

from services.neighbourhoods.domain.areas import AreaInfo
from services.neighbourhoods.domain.initiatives import Initiative
from services.neighbourhoods.domain.messages import Message
from shared.clock import rfc3339, rfc3339_or_none


def area_json(area: AreaInfo) -> dict[str, Any]:
    return {
        "code": area.code,
        "level": area.level.value,
        "name": area.name,
        "municipality": area.municipality,
        "parent": area.parent,
        "year": area.year,
    }


def message_json(m: Message) -> dict[str, Any]:
    return {
        "id": str(m.id),
        "municipality": m.municipality,
        "area": m.area,
        "kind": m.kind.value,
        "title": m.title,
        "body": m.body,
        "partnerId": str(m.partner_id) if m.partner_id else None,
        "postedAt": rfc3339(m.posted_at),
        "validUntil": rfc3339_or_none(m.valid_until),
        "withdrawnAt": rfc3339_or_none(m.withdrawn_at),
    }


def initiative_json(i: Initiative, *, me: str, joined_by_me: bool) -> dict[str, Any]:
    """Participants are counted, never named; the leader's contact is never shown."""
    return {
        "id": str(i.id),
        "municipality": i.municipality,
        "area": i.area,
        "title": i.title,
        "description": i.description,
        "kind": i.kind.value,
        "status": i.status.value,
        "startsAt": rfc3339_or_none(i.starts_at),
        "endsAt": rfc3339_or_none(i.ends_at),
        "place": i.place,
        "participantCount": i.participant_count,
        "joinedByMe": joined_by_me,
        "ledByMe": i.leader == me,
        "asks": [a.as_json() for a in i.asks],
        "pledges": [
            {"id": str(p.id), "partnerId": str(p.partner_id), "kind": p.kind.value, "note": p.note, "at": rfc3339(p.at)}
            for p in i.pledges
        ],
        "goalId": str(i.goal_id) if i.goal_id else None,
        "outcome": i.outcome,
        "createdAt": rfc3339(i.created_at),
    }
