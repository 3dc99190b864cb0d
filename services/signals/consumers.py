"""Partner events keep the local routing read model (routing never calls the partners service)."""

from __future__ import annotations

from services.signals import store
from shared.partner_facts import facts_handlers

HANDLERS = facts_handlers(store.apply_partner)
