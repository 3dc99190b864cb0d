"""The partners read model: routing facts kept from `partner.*` events."""

from __future__ import annotations

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.signals.store.signals import text_array
from shared.events.catalog import PartnerFacts

_UPSERT_PARTNER = (
    "INSERT INTO partners (partner_id, version, name, kind, municipalities, areas, categories, auto_escalate,"
    " acknowledge_within_minutes, acknowledge_by_urgency, availability, priority, active, registered_at)"
    " VALUES (:id, :version, :name, :kind, CAST(:municipalities AS text[]), CAST(:areas AS text[]),"
    " CAST(:categories AS text[]), CAST(:auto_escalate AS text[]), :minutes, CAST(:by_urgency AS jsonb),"
    " CAST(:availability AS jsonb), :priority, :active, :registered_at)"
    " ON CONFLICT (partner_id) DO UPDATE SET version = EXCLUDED.version, name = EXCLUDED.name,"
    " kind = EXCLUDED.kind, municipalities = EXCLUDED.municipalities, areas = EXCLUDED.areas,"
    " categories = EXCLUDED.categories, auto_escalate = EXCLUDED.auto_escalate,"
    " acknowledge_within_minutes = EXCLUDED.acknowledge_within_minutes,"
    " acknowledge_by_urgency = EXCLUDED.acknowledge_by_urgency, availability = EXCLUDED.availability,"
    " priority = EXCLUDED.priority, active = EXCLUDED.active, registered_at = EXCLUDED.registered_at,"
    " applied_at = now()"
    " WHERE partners.version < EXCLUDED.version"
)


async def apply_partner(session: AsyncSession, facts: PartnerFacts, *, active: bool) -> bool:
    """Keep the newest version of a partner's facts; an older or repeated one changes nothing."""
    result = await session.execute(
        text(_UPSERT_PARTNER + " RETURNING 1"),
        {
            "id": facts.partner_id,
            "version": facts.version,
            "name": facts.name,
            "kind": facts.kind.value,
            "municipalities": text_array(facts.municipalities),
            "areas": text_array(facts.areas),
            "categories": text_array(c.value for c in facts.categories),
            "auto_escalate": text_array(c.value for c in facts.auto_escalate),
            "minutes": facts.acknowledge_within_minutes,
            "by_urgency": orjson.dumps(
                {k.value: v for k, v in facts.acknowledge_within_minutes_by_urgency.items()}
            ).decode(),
            "availability": orjson.dumps(
                [{"weekday": w.weekday, "from": w.from_, "until": w.until} for w in facts.availability]
            ).decode(),
            "priority": facts.priority,
            "active": active,
            "registered_at": facts.registered_at,
        },
    )
    return result.scalar() is not None
