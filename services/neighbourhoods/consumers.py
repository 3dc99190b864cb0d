"""Partner events keep the local read model of who covers which areas (never a call to partners)."""

from __future__ import annotations

from services.neighbourhoods.store import partners
from shared.partner_facts import facts_handlers

HANDLERS = facts_handlers(partners.apply)
