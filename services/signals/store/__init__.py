"""Signals' tables: plain SQL on the service's own schema, few round trips on the intake path.

Split by concept: `signals` (the repository of the aggregate), `intake` (the intake's one-query
context), `partners` (the routing read model), `lists`, `retention`.
"""

from services.signals.store.intake import IntakeContext, intake_context, partner, partner_from_json, partners_for
from services.signals.store.lists import MapPoint, Query, list_signals, map_points
from services.signals.store.partners import apply_partner
from services.signals.store.retention import coarsen_locations, erase_contacts, remove_descriptions
from services.signals.store.signals import SELECT_SIGNALS, Loaded, SignalStore, feedback_json, signal_from_row

__all__ = [
    "SELECT_SIGNALS",
    "IntakeContext",
    "Loaded",
    "MapPoint",
    "Query",
    "SignalStore",
    "apply_partner",
    "coarsen_locations",
    "erase_contacts",
    "feedback_json",
    "intake_context",
    "list_signals",
    "map_points",
    "partner",
    "partner_from_json",
    "partners_for",
    "remove_descriptions",
    "signal_from_row",
]
