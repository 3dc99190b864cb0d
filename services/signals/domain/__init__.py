"""Signals: the aggregate and its state machine, routing, and the intake rules. Pure Python, no I/O.

Split by concept: `signal` (the aggregate, its events and rule errors), `routing` (who is
responsible, when), `intake` (what a report must hold, duplicates, advice).
"""

from services.signals.domain.intake import (
    ACUTE_ADVICE,
    DESCRIPTION_MAX,
    DUPLICATE_RADIUS_M,
    DUPLICATE_WINDOW,
    OpenReport,
    Report,
    advice_for,
    check_report,
    distance_m,
    duplicate_of,
)
from services.signals.domain.routing import (
    AMSTERDAM,
    Partner,
    Window,
    area_problem,
    enclosing_areas,
    intake_escalation,
    police_for,
    route,
)
from services.signals.domain.signal import (
    COORDINATOR,
    OPEN,
    REOPEN_WINDOW,
    REPORTER,
    SYSTEM,
    Escalation,
    Feedback,
    HistoryEntry,
    NotResponsible,
    Original,
    Signal,
    SignalRuleBroken,
    actor_partner,
    partner_actor,
)

__all__ = [
    "ACUTE_ADVICE",
    "AMSTERDAM",
    "COORDINATOR",
    "DESCRIPTION_MAX",
    "DUPLICATE_RADIUS_M",
    "DUPLICATE_WINDOW",
    "OPEN",
    "REOPEN_WINDOW",
    "REPORTER",
    "SYSTEM",
    "Escalation",
    "Feedback",
    "HistoryEntry",
    "NotResponsible",
    "OpenReport",
    "Original",
    "Partner",
    "Report",
    "Signal",
    "SignalRuleBroken",
    "Window",
    "actor_partner",
    "advice_for",
    "area_problem",
    "check_report",
    "distance_m",
    "duplicate_of",
    "enclosing_areas",
    "intake_escalation",
    "partner_actor",
    "police_for",
    "route",
]
