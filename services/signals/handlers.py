"""The signals service's use cases, one plain async function each: `(uow, command, principal, clock)`.

The API, the consumers and the periodic tasks call these; none of them knows HTTP. Signals raise
their events and the unit of work writes them to the outbox when it commits. Rules broken are
domain errors (`shared.errors`), rendered to problem+json in one place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from services.signals import permissions, store
from services.signals.domain import (
    DESCRIPTION_MAX,
    EXTERNAL_REFERENCE_MAX,
    OPEN,
    REPORTER,
    Original,
    Partner,
    Report,
    Signal,
    actor_partner,
    area_problem,
    duplicate_of,
    intake_escalation,
    report_advice,
    route,
)
from services.signals.domain.chain import ChainStep, chain_problems, due_step
from services.signals.store import chains as chain_store
from services.signals.views import signal_json
from shared import idempotency
from shared.auth import Principal
from shared.clock import Clock
from shared.crypto import SecretBox
from shared.db import UnitOfWork
from shared.errors import FieldError, Forbidden, NotFound, ValidationFailed
from shared.events.codes import GROUP_KINDS, Category, Urgency
from shared.observability import get_logger

log = get_logger(__name__)
DUPLICATE_WINDOW = timedelta(hours=2)
FORWARDED = "forwarded with the report"
GROUP_NO_TARGET = "a WhatsApp or resident group reports and hears back: it is never escalated to"
Relation = Callable[[Principal, Signal], bool]


# --- intake --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportSignal:
    """A checked report and the keys that make repeating it answer the first answer."""

    report: Report
    scope: str
    keys: tuple[str, ...]
    body_hash: str
    forward: bool = False  # escalate to the routed partner in the same step (a group admin or coordinator)


@dataclass(frozen=True)
class Reported:
    answer: dict[str, Any]
    status: int = 201


async def report_signal(
    uow: UnitOfWork, cmd: ReportSignal, principal: Principal, clock: Clock, *, box: SecretBox | None
) -> Reported:
    """Route, detect a duplicate, escalate at once where the design says so (acute, automatic
    categories, or forwarded by the reporter), store and publish."""
    report, now = cmd.report, clock.now()
    group_id = UUID(report.group_id) if report.group_id else None
    ctx = await store.intake_context(
        uow.session,
        municipality=report.municipality,
        area=report.area,
        category=report.category,
        at=now,
        since=now - DUPLICATE_WINDOW,
        group_id=group_id,
        claim=(cmd.scope, cmd.keys[0], cmd.body_hash) if cmd.keys else None,
    )
    now = clock.now()  # under the intake lock: read earlier, a simultaneous duplicate looks "from the future"
    replay = await _replay(uow, cmd, principal, now, first_claimed=ctx.claimed)
    if replay is not None:
        return replay
    if group_id and not _is_group(ctx.group, report.municipality):
        raise ValidationFailed([FieldError("groupId", f"not a WhatsApp or resident group of {report.municipality}")])
    category = Category(report.category)
    routed = route(ctx.partners, municipality=report.municipality, area=report.area, category=category, at=now)
    signal = Signal.report(
        id=uuid4(),
        reference=ctx.reference,
        report=report,
        reporter=principal.sub,
        at=now,
        routed_partner_id=routed.id if routed else None,
        actor=permissions.actor(principal),
    )
    await _name_reporting_partner(uow, signal, ctx.partners)
    signals = store.SignalStore(uow)
    match = duplicate_of(
        ctx.open_reports,
        municipality=signal.municipality,
        area=signal.area,
        category=signal.category,
        at=now,
        lat=signal.lat,
        lon=signal.lon,
    )
    original = await _still_open(signals, match.id) if match is not None else None
    if original is not None:
        signal.merge_reported(original, at=now)
        if signal.urgency == Urgency.ACUTE:
            original.join_acute(_acute_target(original, ctx.partners, now), at=now)
            signal.original = Original.of(original)  # the answer shows it escalated
    elif (target := intake_escalation(signal, routed, ctx.partners, now)) is not None:
        signal.escalate(target[0], at=now, actor=None, reason=target[1], automatic=True)
    elif cmd.forward and routed is not None:
        signal.escalate(routed, at=now, actor=permissions.actor(principal), reason=FORWARDED)
    answer = {
        "signal": signal_json(signal, principal, now),
        "duplicate": original is not None,
        "advice": report_advice(signal),
    }
    contact = box.seal(report.contact_email, str(signal.id)) if box and report.contact_email else None
    await signals.add(
        signal, contact, answer=stored_answer(signal, duplicate=original is not None), scope=cmd.scope, keys=cmd.keys
    )
    if original is not None:
        await signals.save(original)
    await uow.commit()
    log.info("signal_reported", signal_id=str(signal.id), duplicate=original is not None, routed=routed is not None)
    return Reported(answer)


def _acute_target(original: Signal, partners: list[Partner], now: datetime) -> Partner | None:
    """Whom an open signal turning acute is escalated to: as any acute report (the police first)."""
    routed = next((p for p in partners if p.id == original.routed_partner_id), None)
    target = intake_escalation(replace(original, urgency=Urgency.ACUTE, pending=[]), routed, partners, now)
    return target[0] if target else None


async def _still_open(signals: store.SignalStore, signal_id: UUID) -> Signal | None:
    """The open signal a report duplicates, locked; None when it stopped being open meanwhile."""
    original = await signals.get(signal_id, for_update=True)
    if original is None or original.status not in OPEN or original.duplicate_of is not None:
        return None
    return original


async def _name_reporting_partner(uow: UnitOfWork, signal: Signal, known: list[Partner]) -> None:
    """A report by partner staff is named by the partner's name in the answer's history."""
    partner_id = actor_partner(signal.history[0].actor)
    if partner_id is None:
        return
    found = next((p for p in known if p.id == partner_id), None) or await store.partner(uow.session, partner_id)
    if found is not None:
        signal.partner_names[partner_id] = found.name


def stored_answer(signal: Signal, *, duplicate: bool) -> dict[str, Any]:
    """What an Idempotency-Key keeps: ids only, never the description, location or reporter (a
    replay shows the signal as it is now, to whom may see it)."""
    return {"signalId": str(signal.id), "duplicate": duplicate}


async def _replay(
    uow: UnitOfWork, cmd: ReportSignal, principal: Principal, now: datetime, *, first_claimed: bool
) -> Reported | None:
    """The answer again when one of the report's keys was used before (the first key was claimed
    by the intake query itself)."""
    for i, key in enumerate(cmd.keys):
        if i == 0 and first_claimed:
            continue
        stored = await idempotency.claim(uow.session, cmd.scope, key, cmd.body_hash)
        if stored is None:
            continue
        signal = await store.SignalStore(uow).get(UUID(str(stored.body["signalId"])))
        if signal is None or not permissions.can_see(principal, signal):
            raise NotFound()
        answer = {
            "signal": signal_json(signal, principal, now),
            "duplicate": bool(stored.body.get("duplicate")),
            "advice": report_advice(signal),
        }
        return Reported(answer, stored.status_code)
    return None


def _is_group(group: Partner | None, municipality: str) -> bool:
    return group is not None and group.active and group.is_group and municipality in group.municipalities


# --- reads ---------------------------------------------------------------------------------------


async def readable_signal(uow: UnitOfWork, signal_id: UUID, principal: Principal) -> Signal:
    signal = await store.SignalStore(uow).get(signal_id)
    if signal is None or not permissions.can_see(principal, signal):
        raise NotFound()
    return signal


# --- changes to one signal -----------------------------------------------------------------------


async def _load_for(
    uow: UnitOfWork, signal_id: UUID, principal: Principal, action: str, relation: Relation | None = None
) -> tuple[store.SignalStore, Signal]:
    """The signal, locked for this transaction, if the caller may `action` it (404, 403)."""
    signals = store.SignalStore(uow)
    signal = await signals.get(signal_id, for_update=True)
    if signal is None or not permissions.can_see(principal, signal):
        raise NotFound()
    if not principal.has(*permissions.roles_for(action)):
        raise Forbidden(f"requires role {' or '.join(permissions.roles_for(action))}")
    if relation is not None and not relation(principal, signal):
        raise Forbidden(f"you may not {action} this signal")
    return signals, signal


async def _store(uow: UnitOfWork, signals: store.SignalStore, signal: Signal, action: str, changed: bool) -> Signal:
    """Save a changed signal and commit (its events go with it); a repeated command changes nothing."""
    if changed:
        await signals.save(signal)
        await uow.commit()
        log.info("signal_changed", signal_id=str(signal.id), action=action, status=signal.status.value)
    return signal


@dataclass(frozen=True)
class Escalate:
    signal_id: UUID
    partner_id: UUID | None
    reason: str | None


async def escalate(uow: UnitOfWork, cmd: Escalate, principal: Principal, clock: Clock) -> Signal:
    """Forward to the named partner, or to the routed one."""
    signals, signal = await _load_for(uow, cmd.signal_id, principal, "escalate", permissions.may_escalate)
    target = await _escalation_target(uow, signal, cmd.partner_id)
    if cmd.partner_id is not None and not permissions.may_escalate_to(principal, target, signal):
        raise ValidationFailed([FieldError("partnerId", "this partner does not take this category in this area")])
    signal.escalate(target, at=clock.now(), actor=permissions.actor(principal, signal), reason=cmd.reason)
    return await _store(uow, signals, signal, "escalate", True)


async def _escalation_target(uow: UnitOfWork, signal: Signal, partner_id: UUID | None) -> Partner:
    if partner_id is not None:
        target = await store.partner(uow.session, partner_id)
        if target is None or not target.active or signal.municipality not in target.municipalities:
            raise ValidationFailed([FieldError("partnerId", f"not an active partner in {signal.municipality}")])
        if target.is_group:
            raise ValidationFailed([FieldError("partnerId", GROUP_NO_TARGET)])
        return target
    if signal.routed_partner_id is None:
        raise ValidationFailed([FieldError("partnerId", "the signal is unrouted: name the partner to escalate to")])
    routed = await store.partner(uow.session, signal.routed_partner_id)
    if routed is None or not routed.takes_signals:
        raise ValidationFailed(
            [FieldError("partnerId", "the routed partner no longer takes signals: name another partner")]
        )
    return routed


@dataclass(frozen=True)
class Acknowledge:
    signal_id: UUID
    message: str | None
    group_message: str | None = None


async def acknowledge(uow: UnitOfWork, cmd: Acknowledge, principal: Principal, clock: Clock) -> Signal:
    signals, signal = await _load_for(uow, cmd.signal_id, principal, "acknowledge")
    partner = permissions.acting_partner(principal)
    changed = signal.acknowledge(
        partner,
        at=clock.now(),
        actor=permissions.actor(principal, signal),
        message=cmd.message,
        group_message=cmd.group_message,
    )
    return await _store(uow, signals, signal, "acknowledge", changed)


@dataclass(frozen=True)
class Resolve:
    signal_id: UUID
    feedback: str
    group_message: str | None = None


async def resolve(uow: UnitOfWork, cmd: Resolve, principal: Principal, clock: Clock) -> Signal:
    signals, signal = await _load_for(uow, cmd.signal_id, principal, "resolve")
    partner = permissions.acting_partner(principal)
    changed = signal.resolve(
        partner,
        at=clock.now(),
        actor=permissions.actor(principal, signal),
        feedback=cmd.feedback,
        group_message=cmd.group_message,
    )
    return await _store(uow, signals, signal, "resolve", changed)


@dataclass(frozen=True)
class Reject:
    signal_id: UUID
    reason: str


async def reject(uow: UnitOfWork, cmd: Reject, principal: Principal, clock: Clock) -> Signal:
    signals, signal = await _load_for(uow, cmd.signal_id, principal, "reject")
    signal.reject(at=clock.now(), actor=permissions.actor(principal, signal), reason=cmd.reason)
    return await _store(uow, signals, signal, "reject", True)


@dataclass(frozen=True)
class Merge:
    signal_id: UUID
    into_id: UUID


async def merge(uow: UnitOfWork, cmd: Merge, principal: Principal, clock: Clock) -> Signal:
    """A coordinator merges a duplicate into an open signal of the same municipality."""
    signals, signal = await _load_for(uow, cmd.signal_id, principal, "merge")
    into = await signals.get(cmd.into_id, for_update=True) if cmd.into_id != signal.id else None
    if into is None or not permissions.can_see(principal, into) or into.municipality != signal.municipality:
        raise ValidationFailed([FieldError("intoId", "not a signal of this municipality")])
    signal.merge_into(into, at=clock.now(), actor=permissions.actor(principal, signal), automatic=False)
    await signals.save(into)
    await signals.repoint_duplicates(signal.id, into.id)
    return await _store(uow, signals, signal, "merge", True)


@dataclass(frozen=True)
class Reclassify:
    signal_id: UUID
    category: Category | None
    area: str | None


async def reclassify(uow: UnitOfWork, cmd: Reclassify, principal: Principal, clock: Clock) -> Signal:
    """Change category or area (checked against the signal's municipality) and route again."""
    signals, signal = await _load_for(uow, cmd.signal_id, principal, "reclassify")
    if cmd.area is not None and (problem := area_problem(cmd.area, signal.municipality)):
        raise ValidationFailed([FieldError("area", problem)])
    category, area, now = cmd.category or signal.category, cmd.area or signal.area, clock.now()
    partners = await store.partners_for(uow.session, signal.municipality, area)
    routed = route(partners, municipality=signal.municipality, area=area, category=category, at=now)
    signal.reclassify(
        category=category,
        area=area,
        routed_partner_id=routed.id if routed else None,
        at=now,
        actor=permissions.actor(principal, signal),
    )
    return await _store(uow, signals, signal, "reclassify", True)


@dataclass(frozen=True)
class Reopen:
    signal_id: UUID
    reason: str
    window: timedelta


async def reopen(uow: UnitOfWork, cmd: Reopen, principal: Principal, clock: Clock) -> Signal:
    """Within the window of the latest resolution; a reporter's reopening goes straight back to the
    partner it was last escalated to (a coordinator's waits for their escalation)."""
    signals, signal = await _load_for(uow, cmd.signal_id, principal, "reopen", permissions.may_reopen)
    actor, now = permissions.actor(principal, signal), clock.now()
    signal.reopen(at=now, actor=actor, reason=cmd.reason, window=cmd.window)
    last = signal.escalation
    if actor == REPORTER and last is not None:
        signal.escalate_again(await store.partner(uow.session, last.partner_id), at=now)
    return await _store(uow, signals, signal, "reopen", True)


def text_problems(*texts: tuple[str, str | None, bool]) -> tuple[list[FieldError], list[str | None]]:
    """Free texts (field, value, required) of 1..2000 characters: the problems, and the texts (a
    blank optional text is none)."""
    errors: list[FieldError] = []
    for name, value, required in texts:
        if value is None or not value.strip():
            if required:
                errors.append(FieldError(name, "must not be empty"))
        elif len(value) > DESCRIPTION_MAX:
            errors.append(FieldError(name, f"must be at most {DESCRIPTION_MAX} characters"))
    return errors, [value if value is not None and value.strip() else None for _, value, _ in texts]


def checked_text(*texts: tuple[str, str | None, bool]) -> list[str | None]:
    """`text_problems`, every problem at once as BAD_USER_INPUT. Checked after authorisation, as
    the contract orders errors."""
    errors, values = text_problems(*texts)
    if errors:
        raise ValidationFailed(errors)
    return values


@dataclass(frozen=True)
class AskReporter:
    signal_id: UUID
    question: str | None


async def ask_reporter(uow: UnitOfWork, cmd: AskReporter, principal: Principal, clock: Clock) -> Signal:
    """The partner it is escalated to asks the reporters; the acknowledge-by clock pauses."""
    signals, signal = await _load_for(uow, cmd.signal_id, principal, "ask")
    (question,) = checked_text(("question", cmd.question, True))
    assert question is not None
    actor = permissions.actor(principal, signal)
    signal.ask(permissions.acting_partner(principal), at=clock.now(), actor=actor, question=question)
    return await _store(uow, signals, signal, "ask", True)


@dataclass(frozen=True)
class AnswerQuestion:
    signal_id: UUID
    answer: str | None


async def answer_question(uow: UnitOfWork, cmd: AnswerQuestion, principal: Principal, clock: Clock) -> Signal:
    """A reporter of the signal answers the open question (the reporters of its merged duplicates
    do not: CONTRACT.md rule 1); back to the status it had."""
    signals, signal = await _load_for(uow, cmd.signal_id, principal, "answer", permissions.is_reporter)
    (answer,) = checked_text(("answer", cmd.answer, True))
    assert answer is not None
    signal.answer(at=clock.now(), actor=permissions.actor(principal, signal), answer=answer)
    return await _store(uow, signals, signal, "answer", True)


@dataclass(frozen=True)
class Transfer:
    signal_id: UUID
    partner_id: str | None
    reason: str | None


async def transfer(uow: UnitOfWork, cmd: Transfer, principal: Principal, clock: Clock) -> Signal:
    """To another partner (the partner it is escalated to, or a coordinator), with a new
    acknowledge-by; never to a group, nor to the current partner."""
    signals, signal = await _load_for(uow, cmd.signal_id, principal, "transfer", permissions.may_redirect)
    errors, (reason,) = text_problems(("reason", cmd.reason, True))
    target, problem = await _other_partner(uow, signal, cmd.partner_id)
    if problem is not None:
        errors.insert(0, problem)
    if errors:
        raise ValidationFailed(errors)
    assert target is not None and reason is not None
    signal.transfer(target, at=clock.now(), actor=permissions.actor(principal, signal), reason=reason)
    return await _store(uow, signals, signal, "transfer", True)


@dataclass(frozen=True)
class Involve:
    signal_id: UUID
    partner_id: str | None
    reason: str | None


async def involve(uow: UnitOfWork, cmd: Involve, principal: Principal, clock: Clock) -> Signal:
    """A co-handler (by the partner it is escalated to, or a coordinator); involving twice
    answers the current state."""
    signals, signal = await _load_for(uow, cmd.signal_id, principal, "involve", permissions.may_redirect)
    errors, (reason,) = text_problems(("reason", cmd.reason, False))
    target, problem = await _other_partner(uow, signal, cmd.partner_id)
    if problem is not None:
        errors.insert(0, problem)
    if errors:
        raise ValidationFailed(errors)
    assert target is not None
    changed = signal.involve(target, at=clock.now(), actor=permissions.actor(principal, signal), reason=reason)
    if changed:
        signal.partner_names.setdefault(target.id, target.name)
    return await _store(uow, signals, signal, "involve", changed)


async def _other_partner(
    uow: UnitOfWork, signal: Signal, partner_id: str | None
) -> tuple[Partner | None, FieldError | None]:
    """The partner named to transfer to or involve: an active partner of the signal's municipality,
    not a group and not the one it is escalated to (CONTRACT.md rule 6); else the problem."""
    try:
        wanted = UUID(partner_id or "")
    except ValueError:
        return None, FieldError("partnerId", "must be a partner id (uuid)")
    target = await store.partner(uow.session, wanted)
    if target is None or not target.active or signal.municipality not in target.municipalities:
        return None, FieldError("partnerId", f"not an active partner in {signal.municipality}")
    if target.is_group:
        return None, FieldError("partnerId", GROUP_NO_TARGET)
    current = signal.escalation
    if current is not None and current.partner_id == target.id:
        return None, FieldError("partnerId", "the signal is escalated to this partner already")
    return target, None


@dataclass(frozen=True)
class Rate:
    signal_id: UUID
    satisfied: bool | None
    comment: str | None


async def rate(uow: UnitOfWork, cmd: Rate, principal: Principal, clock: Clock) -> Signal:
    """A reporter rates the resolution (rating again replaces). The reporters of a merged duplicate
    rate through their own report: the rating is the original's. Answers the signal asked about."""
    signals, signal = await _load_for(uow, cmd.signal_id, principal, "rate", permissions.is_reporter)
    errors, (comment,) = text_problems(("comment", cmd.comment, False))
    if cmd.satisfied is None:
        errors.insert(0, FieldError("satisfied", "must be true or false"))
    if errors:
        raise ValidationFailed(errors)
    assert cmd.satisfied is not None
    rated = signal
    if signal.duplicate_of is not None:
        original = await signals.get(signal.duplicate_of, for_update=True)
        if original is None:
            raise NotFound()
        rated = original
    rated.rate(principal.sub, at=clock.now(), satisfied=cmd.satisfied, comment=comment)
    await signals.save(rated)
    await uow.commit()
    log.info("signal_rated", signal_id=str(rated.id), via=str(signal.id))
    if rated is not signal:
        signal.original_ratings = dict(rated.ratings)
    return signal


# --- reporters' contacts (notifications only) ----------------------------------------------------


async def read_contacts(
    uow: UnitOfWork, signal_id: UUID, principal: Principal, box: SecretBox | None
) -> list[dict[str, str | bool]]:
    """The contacts the reporters left (the signal's own and its merged duplicates', each saying
    which), opened for the notifications service; every read audited."""
    if not principal.has(*permissions.roles_for("contacts")) or principal.sub not in permissions.CONTACT_READERS:
        raise Forbidden("only the notifications service reads contacts")
    signals = store.SignalStore(uow)
    if await signals.get(signal_id) is None:
        raise NotFound()
    sealed = await signals.contacts(signal_id)
    if sealed and box is None:
        raise RuntimeError("contacts are sealed but no SECRETS_KEY is configured")
    # `duplicate`: the contact reported a merged duplicate, not the signal itself (the contract's
    # "Reporters" rule: they hear its steps but are not asked its questions)
    found: list[dict[str, str | bool]] = [
        {"reporter": reporter, "email": box.open(contact, str(owner)), "duplicate": owner != signal_id}
        for owner, reporter, contact in sealed
        if box
    ]
    await signals.audit_contact_read(signal_id, principal.sub, len(found))
    await uow.commit()
    log.info("contacts_read", signal_id=str(signal_id), reader=principal.sub, contacts=len(found))
    return found


# --- periodic work -------------------------------------------------------------------------------

BATCH = 200


async def report_overdue(uow: UnitOfWork, clock: Clock) -> int:
    """`signal.overdue` once per missed acknowledgement deadline."""
    now = clock.now()
    signals = store.SignalStore(uow)
    due = await signals.claim_due(
        "s.status = 'escalated' AND NOT s.overdue_notified AND s.acknowledge_by < :now", {"now": now}, BATCH
    )
    marked = [s for s in due if s.mark_overdue(at=now)]
    await _save_all(uow, signals, marked)
    if marked:
        log.info("signals_overdue", count=len(marked))
    return len(marked)


async def close_resolved(uow: UnitOfWork, clock: Clock, after: timedelta) -> int:
    """Resolved signals close automatically `after` their resolution (14 days)."""
    now = clock.now()
    signals = store.SignalStore(uow)
    due = await signals.claim_due("s.status = 'resolved' AND s.resolved_at < :before", {"before": now - after}, BATCH)
    for signal in due:
        signal.close(at=now)
    await _save_all(uow, signals, due)
    if due:
        log.info("signals_closed", count=len(due))
    return len(due)


async def expire_questions(uow: UnitOfWork, clock: Clock, after: timedelta) -> int:
    """A question nobody answered `after` it was asked (7 days) ends: the signal returns to its
    previous status (actor system, note "vraag verlopen")."""
    now = clock.now()
    signals = store.SignalStore(uow)
    due = await signals.claim_due(
        "s.status = 'reaction_requested' AND s.question_asked_at <= :before", {"before": now - after}, BATCH
    )
    expired = [s for s in due if s.expire_question(at=now)]
    await _save_all(uow, signals, expired)
    if expired:
        log.info("questions_expired", count=len(expired))
    return len(expired)


async def _save_all(uow: UnitOfWork, signals: store.SignalStore, changed: list[Signal]) -> None:
    for signal in changed:
        await signals.save(signal)
    await uow.commit()


async def apply_retention(uow: UnitOfWork, clock: Clock, contact_after: timedelta, description_after: timedelta) -> int:
    """Erase contacts `contact_after` close (30 days) and free texts `description_after` (a year);
    coarsen final signals' points to about 50 m."""
    now = clock.now()
    contacts = await store.erase_contacts(uow.session, now - contact_after)
    descriptions = await store.remove_descriptions(uow.session, now - description_after)
    await store.coarsen_locations(uow.session)
    await uow.commit()
    if contacts or descriptions:
        log.info("retention_applied", contacts_erased=contacts, descriptions_removed=descriptions)
    return contacts + descriptions


# --- feedback and the partner's own reference -------------------------------------------------------


@dataclass(frozen=True)
class AddFeedback:
    signal_id: UUID
    message: str | None


async def add_feedback(uow: UnitOfWork, cmd: AddFeedback, principal: Principal, clock: Clock) -> Signal:
    """The partner it is escalated to, or an involved partner, tells the reporters something while
    the signal is open (oldest first with the rest of the feedback)."""
    signals, signal = await _load_for(uow, cmd.signal_id, principal, "feedback", permissions.may_add_feedback)
    (message,) = checked_text(("message", cmd.message, True))
    assert message is not None
    partner = permissions.acting_partner(principal)
    signal.add_feedback(partner, at=clock.now(), actor=permissions.actor(principal, signal), message=message)
    return await _store(uow, signals, signal, "feedback", True)


@dataclass(frozen=True)
class SetExternalReference:
    signal_id: UUID
    reference: str | None


async def set_external_reference(
    uow: UnitOfWork, cmd: SetExternalReference, principal: Principal, clock: Clock
) -> Signal:
    """The partner it is escalated to records its own case number (e.g. the police's)."""
    signals, signal = await _load_for(uow, cmd.signal_id, principal, "reference", permissions.is_escalated_partner)
    reference = (cmd.reference or "").strip()
    if not reference or len(reference) > EXTERNAL_REFERENCE_MAX:
        raise ValidationFailed([FieldError("reference", f"must be 1..{EXTERNAL_REFERENCE_MAX} characters")])
    partner = permissions.acting_partner(principal)
    changed = signal.set_external_reference(
        partner, at=clock.now(), actor=permissions.actor(principal, signal), reference=reference
    )
    return await _store(uow, signals, signal, "reference", changed)


# --- chains --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SetChain:
    partner_id: UUID | None  # None: before the partner is registered
    keep: bool  # False: only check the steps
    municipalities: tuple[str, ...]  # the partner's, as the partners service answered them
    steps: tuple[tuple[str | None, str | None, int | None], ...]
    kind: str | None = None  # the partner's kind, as the partners service answered it


async def set_chain(uow: UnitOfWork, cmd: SetChain, principal: Principal, clock: Clock) -> list[ChainStep]:
    """Replace a partner's chain (who may manage the partner: a coordinator of every municipality
    of it, a region admin when it spans several); every problem with the steps at once."""
    known = await store.partner(uow.session, cmd.partner_id) if cmd.partner_id is not None else None
    municipalities = tuple(sorted(known.municipalities)) if known is not None else cmd.municipalities
    permissions.demand_manage_partner(principal, municipalities)
    wanted: set[UUID] = set()
    for _, raw, _ in cmd.steps:
        try:
            wanted.add(UUID(raw or ""))
        except ValueError:
            continue
    found = {pid: p for pid in wanted if (p := await store.partner(uow.session, pid)) is not None}
    group = known.is_group if known is not None else cmd.kind in {k.value for k in GROUP_KINDS}
    errors, steps = chain_problems(
        cmd.steps, partner_id=cmd.partner_id, municipalities=municipalities, known=found, group=group
    )
    if errors:
        raise ValidationFailed(errors)
    if cmd.keep and cmd.partner_id is not None:
        await chain_store.put_chain(uow.session, cmd.partner_id, municipalities, steps, clock.now())
        await uow.commit()
        log.info("chain_set", partner_id=str(cmd.partner_id), steps=len(steps))
    return steps


async def read_chains(uow: UnitOfWork, partner_ids: list[UUID], principal: Principal) -> dict[UUID, list[ChainStep]]:
    """The chains of the partners the caller may know of (acting in one of the chain's
    municipalities); the others answer no steps."""
    found = await chain_store.chains(uow.session, partner_ids)
    return {
        pid: list(found[pid].steps) if pid in found and permissions.may_read_chain(principal, found[pid]) else []
        for pid in partner_ids
    }


async def pass_on_chains(uow: UnitOfWork, clock: Clock) -> int:
    """Signals not acknowledged in time by a partner with a chain go to the step's next partner
    (actor system, note "keten"); an inactive, group or other-municipality next partner stops it."""
    now = clock.now()
    signals = store.SignalStore(uow)
    due = await signals.claim_due(chain_store.CHAIN_DUE, {"now": now}, BATCH)
    current = {s.escalation.partner_id for s in due if s.escalation is not None}
    found = await chain_store.chains(uow.session, list(current))
    passed: list[Signal] = []
    for signal in due:
        e = signal.escalation
        chain = found.get(e.partner_id) if e is not None else None
        step = due_step(signal, chain.steps, now) if chain is not None else None
        if step is None:
            continue
        target = await store.partner(uow.session, step.next_partner_id)
        if target is None or not target.takes_signals or signal.municipality not in target.municipalities:
            continue
        if signal.pass_on(target, at=now):
            signal.partner_names.setdefault(target.id, target.name)
            passed.append(signal)
    await _save_all(uow, signals, passed)
    if passed:
        log.info("chains_passed_on", count=len(passed))
    return len(passed)
