"""A signal as JSON (camelCase), with the fields the caller may see."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from services.signals import permissions
from services.signals.domain import (
    COORDINATOR,
    REPORTER,
    SYSTEM,
    Feedback,
    HistoryEntry,
    Original,
    Signal,
    actor_partner,
)
from shared.auth import Principal
from shared.clock import rfc3339_or_none


def signal_json(signal: Signal, viewer: Principal, now: datetime) -> dict[str, Any]:
    """The contact e-mail is never here; the description only for those who may read it; the group
    message (a merged duplicate shows its original's, as with feedback) to them and the groups' admins."""
    notes = permissions.may_read_notes(viewer, signal)
    questions = permissions.may_read_questions(viewer, signal)
    question = signal.open_question
    ratings = signal.original_ratings if signal.duplicate_of is not None else signal.ratings
    mine = ratings.get(viewer.sub) if permissions.is_reporter(viewer, signal) else None
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
        "rejectionReason": signal.rejection_reason if notes else None,
        "duplicateOf": str(signal.duplicate_of) if signal.duplicate_of else None,
        "original": original_json(signal.original, signal)
        if signal.original is not None and permissions.reads_as_reporter(viewer, signal)
        else None,
        "routedPartnerId": str(signal.routed_partner_id) if signal.routed_partner_id else None,
        "involvedPartnerIds": [str(p) for p in signal.involved],
        "externalReference": signal.external_reference
        if permissions.may_read_external_reference(viewer, signal)
        else None,
        "groupId": str(signal.group_id) if signal.group_id else None,
        "groupMessage": group_message if permissions.may_read_group_message(viewer, signal) else None,
        "question": question.question if question is not None and questions else None,
        "questions": [
            {
                "question": q.question,
                "askedAt": rfc3339_or_none(q.asked_at),
                "answer": q.answer,
                "answeredAt": rfc3339_or_none(q.answered_at),
            }
            for q in signal.questions
        ]
        if questions
        else [],
        "myRating": {"satisfied": mine.satisfied, "comment": mine.comment, "at": rfc3339_or_none(mine.at)}
        if mine is not None
        else None,
        "acknowledgeBy": rfc3339_or_none(signal.acknowledge_by),
        "overdue": signal.is_overdue(now),
        "escalations": [
            {
                "partnerId": str(e.partner_id),
                "reason": e.reason if notes or not e.transfer else None,  # a transfer's reason is a note
                "at": rfc3339_or_none(e.at),
                "acknowledgeBy": rfc3339_or_none(e.acknowledge_by),
                "acknowledgedAt": rfc3339_or_none(e.acknowledged_at),
                "automatic": e.automatic,
            }
            for e in signal.escalations
        ],
        "feedback": feedback_json(feedback),
        "history": [
            {
                "action": h.action,
                "at": rfc3339_or_none(h.at),
                "actor": shown_actor(h, signal),
                "fromStatus": h.from_status.value if h.from_status else None,
                "toStatus": h.to_status.value if h.to_status else None,
                "note": h.note if notes else None,
            }
            for h in signal.history
        ],
    }


_NAMED = frozenset({REPORTER, COORDINATOR, SYSTEM})
_ONLY_COORDINATORS = frozenset({"rejected", "merged", "reclassified", "reopened"})


def shown_actor(entry: HistoryEntry, signal: Signal) -> str | None:
    """A role or a partner's name, never a subject. Entries written before actors were recorded
    as roles hold a subject: the reporter's is shown as "reporter", partner staff by the partner
    the signal was then escalated to, coordinators' actions as "coordinator"; anything else null."""
    actor = entry.actor
    if actor is None or actor in _NAMED:
        return actor
    if (partner := actor_partner(actor)) is not None:
        return signal.partner_names.get(partner)
    if actor == signal.reporter:
        return REPORTER
    if entry.action in ("acknowledged", "resolved"):
        then = [e for e in signal.escalations if e.at <= entry.at]
        return signal.partner_names.get(then[-1].partner_id) if then else None
    return COORDINATOR if entry.action in _ONLY_COORDINATORS else None


def feedback_json(feedback: Iterable[Feedback]) -> list[dict[str, Any]]:
    return [
        {"partnerId": str(f.partner_id) if f.partner_id else None, "message": f.message, "at": rfc3339_or_none(f.at)}
        for f in feedback
    ]


def original_json(original: Original, duplicate: Signal) -> dict[str, Any]:
    """The signal a duplicate was merged into, as the duplicate's reporters read it (Rules 1-2): its
    id, reference, status, report count and the feedback written since their report. Fields the
    schema cannot leave null repeat the duplicate's own values, which its reporter already knows,
    so a merge tells nothing of the neighbour's report (when, how urgent, through which channel)
    beyond that it exists."""
    return {
        "id": str(original.id),
        "reference": original.reference,
        "municipality": duplicate.municipality,
        "area": duplicate.area,
        "category": duplicate.category.value,
        "urgency": duplicate.urgency.value,
        "source": duplicate.source.value,
        "reportedAt": rfc3339_or_none(duplicate.reported_at),
        "status": original.status.value,
        "reportCount": original.report_count,
        "description": None,
        "feedback": feedback_json(f for f in original.feedback if f.at >= duplicate.reported_at),
    }
