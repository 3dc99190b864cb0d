"""The signal aggregate and its state machine. Pure Python, no I/O.

Each command checks the design's allowed transitions, appends a history entry and raises the
event it causes (`signal.pending`), bumping the version that the event carries as its
`sequence`; the unit of work writes those events when it commits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from uuid import UUID, uuid5

from shared.errors import Conflict, Forbidden
from shared.events.catalog import (
    EventData,
    SignalAcknowledged,
    SignalClosed,
    SignalEscalated,
    SignalMerged,
    SignalOverdue,
    SignalPartnerInvolved,
    SignalRated,
    SignalReactionExpired,
    SignalReactionReceived,
    SignalReactionRequested,
    SignalReceived,
    SignalReclassified,
    SignalRejected,
    SignalReopened,
    SignalResolved,
    SignalTransferred,
)
from shared.events.codes import Category, SignalSource, Urgency
from shared.events.codes import SignalStatus as Status

if TYPE_CHECKING:
    from services.signals.domain.intake import Report
    from services.signals.domain.routing import Partner

OPEN: frozenset[Status] = frozenset(
    {Status.RECEIVED, Status.ESCALATED, Status.ACKNOWLEDGED, Status.REOPENED, Status.REACTION_REQUESTED}
)
REOPEN_WINDOW = timedelta(days=14)
QUESTION_EXPIRY = timedelta(days=7)  # a question nobody answered ends after this (CONTRACT.md rule 5)
QUESTION_EXPIRED = "vraag verlopen"  # the note when it does
RATING_WINDOW = timedelta(days=14)  # reporters rate a resolution within this
ACUTE_REPORT = "acute melding"  # the note when an acute report escalates the signal it joined
CHAIN = "keten"  # the note when a partner's chain passes a signal on
REOPENED_BY_REPORTER = "heropend door melder"  # the note when a reporter's reopening escalates again
EXTERNAL_REFERENCE_MAX = 200
# Who a history entry names (`actor`): a role or a partner, never a person's subject.
SYSTEM = "system"
REPORTER = "reporter"
COORDINATOR = "coordinator"
_PARTNER = "partner:"


def partner_actor(partner_id: UUID | str) -> str:
    """The actor of an entry written by a partner's staff or system (shown as the partner's name)."""
    return f"{_PARTNER}{partner_id}"


def actor_partner(actor: str | None) -> UUID | None:
    """The partner an actor stands for, if it is a partner."""
    if actor is None or not actor.startswith(_PARTNER):
        return None
    try:
        return UUID(actor[len(_PARTNER) :])
    except ValueError:
        return None


class SignalRuleBroken(Conflict):
    """A command the design does not allow in the signal's current state (409)."""

    def __init__(self, status: Status, action: str) -> None:
        super().__init__(f"cannot {action} a signal that is {status.value}; the signal is {status.value}")
        self.current = status
        self.action = action


class NotResponsible(Forbidden):
    """The acting partner is not the one the signal is escalated to (403)."""


# --- the aggregate -------------------------------------------------------------------------------


@dataclass
class Escalation:
    partner_id: UUID
    at: datetime
    acknowledge_by: datetime
    reason: str | None = None
    automatic: bool = False
    acknowledged_at: datetime | None = None
    transfer: bool = False  # a transfer: the partners before it no longer act or read the description


@dataclass(frozen=True)
class Feedback:
    partner_id: UUID | None
    message: str
    at: datetime


@dataclass
class Question:
    """A partner's question to the reporters and its answer. Free text: never in an event."""

    question: str
    asked_at: datetime
    returns_to: Status  # the status the signal had, or ACKNOWLEDGED when acknowledged meanwhile
    answer: str | None = None
    answered_at: datetime | None = None
    ended_at: datetime | None = None  # answered, expired, or closed unanswered (resolved, transferred)


@dataclass(frozen=True)
class Rating:
    """A reporter's satisfaction with the resolution; the comment is free text: never in an event."""

    satisfied: bool
    comment: str | None
    at: datetime


@dataclass(frozen=True)
class HistoryEntry:
    action: str
    at: datetime
    actor: str | None
    from_status: Status | None
    to_status: Status | None
    note: str | None = None


@dataclass(frozen=True)
class Original:
    """What the reporters of a merged duplicate read of the signal it was merged into."""

    id: UUID
    reference: str
    municipality: str
    area: str
    category: Category
    urgency: Urgency
    source: SignalSource
    reported_at: datetime
    status: Status
    report_count: int
    feedback: tuple[Feedback, ...]

    @classmethod
    def of(cls, signal: Signal) -> Original:
        return cls(
            signal.id,
            signal.reference,
            signal.municipality,
            signal.area,
            signal.category,
            signal.urgency,
            signal.source,
            signal.reported_at,
            signal.status,
            signal.report_count,
            tuple(signal.feedback),
        )


@dataclass
class Signal:
    id: UUID
    reference: str
    municipality: str
    area: str
    category: Category
    urgency: Urgency
    description: str | None
    source: SignalSource
    reporter: str
    reported_at: datetime
    status: Status = Status.RECEIVED
    group_id: UUID | None = None
    observed_at: datetime | None = None
    lat: float | None = None
    lon: float | None = None
    bag_id: str | None = None
    has_contact: bool = False
    report_count: int = 1
    duplicate_of: UUID | None = None
    routed_partner_id: UUID | None = None
    escalations: list[Escalation] = field(default_factory=list)
    feedback: list[Feedback] = field(default_factory=list)
    history: list[HistoryEntry] = field(default_factory=list)
    resolved_at: datetime | None = None
    ended_at: datetime | None = None
    overdue_notified: bool = False
    version: int = 0
    original: Original | None = None  # the signal this one was merged into, as its reporters read it
    partner_names: dict[UUID, str] = field(default_factory=dict)  # of the partners it names (read side)
    group_message: str | None = None  # the latest text a partner wrote to be shared in the group
    original_group_message: str | None = None  # of the signal this one was merged into
    duplicate_group_ids: tuple[UUID, ...] = ()  # the groups that reported its merged duplicates
    questions: list[Question] = field(default_factory=list)  # oldest first
    ratings: dict[str, Rating] = field(default_factory=dict)  # by the rating reporter's subject
    involved: list[UUID] = field(default_factory=list)  # co-handlers, in the order they were involved
    original_ratings: dict[str, Rating] = field(default_factory=dict)  # of the signal this one was merged into
    external_reference: str | None = None  # the escalated partner's own case number (e.g. the police's)
    pending: list[tuple[int, EventData]] = field(default_factory=list)

    # --- reading -------------------------------------------------------------------------------

    @property
    def escalation(self) -> Escalation | None:
        """The current escalation (the latest)."""
        return self.escalations[-1] if self.escalations else None

    @property
    def acknowledge_by(self) -> datetime | None:
        e = self.escalation
        return e.acknowledge_by if e else None

    def is_overdue(self, now: datetime) -> bool:
        e = self.escalation
        return self.status == Status.ESCALATED and e is not None and e.acknowledge_by < now

    @property
    def open_question(self) -> Question | None:
        """The question waiting for an answer (while REACTION_REQUESTED)."""
        q = self.questions[-1] if self.questions else None
        return q if q is not None and q.ended_at is None else None

    @property
    def original_feedback(self) -> list[Feedback] | None:
        return list(self.original.feedback) if self.original is not None else None

    @property
    def rejection_reason(self) -> str | None:
        """Why it was rejected (the rejection's note), while it is rejected."""
        if self.status != Status.REJECTED:
            return None
        return next((h.note for h in reversed(self.history) if h.action == "rejected"), None)

    def escalated_to(self, partner_id: UUID | str | None) -> bool:
        return partner_id is not None and any(str(e.partner_id) == str(partner_id) for e in self.escalations)

    def involves(self, partner_id: UUID | str | None) -> bool:
        return partner_id is not None and str(partner_id) in {str(p) for p in self.involved}

    def handled_by(self, partner_id: UUID | str | None) -> bool:
        """Escalated to this partner since the latest transfer (a partner it was transferred away
        from no longer reads the description)."""
        if partner_id is None:
            return False
        since: set[str] = set()
        for e in self.escalations:
            since = {str(e.partner_id)} if e.transfer else since | {str(e.partner_id)}
        return str(partner_id) in since

    def facts(self) -> dict[str, object]:
        return {
            "signal_id": self.id,
            "reference": self.reference,
            "municipality": self.municipality,
            "area": self.area,
            "category": self.category,
            "urgency": self.urgency,
            "status": self.status,
        }

    # --- internals -----------------------------------------------------------------------------

    def _record(self, action: str, at: datetime, actor: str | None, to: Status | None, note: str | None = None) -> None:
        before = self.status
        if to is not None:
            self.status = to
        self.history.append(HistoryEntry(action, at, actor, before if to is not None else None, to, note))

    def _raise(self, event: EventData) -> None:
        self.version += 1
        self.pending.append((self.version, event))

    def _require(self, action: str, *allowed: Status) -> None:
        if self.status not in allowed:
            raise SignalRuleBroken(self.status, action)

    # --- commands ------------------------------------------------------------------------------

    @classmethod
    def report(
        cls,
        *,
        id: UUID,
        reference: str,
        report: Report,
        reporter: str,
        at: datetime,
        routed_partner_id: UUID | None,
        actor: str = REPORTER,
    ) -> Signal:
        signal = cls(
            id=id,
            reference=reference,
            municipality=report.municipality,
            area=report.area,
            category=Category(report.category),
            urgency=Urgency(report.urgency),
            description=report.description,
            source=SignalSource(report.source),
            reporter=reporter,
            reported_at=at,
            group_id=UUID(report.group_id) if report.group_id else None,
            observed_at=report.observed_at,
            lat=report.lat,
            lon=report.lon,
            bag_id=report.bag_id,
            has_contact=report.contact_email is not None,
            routed_partner_id=routed_partner_id,
        )
        signal.history.append(HistoryEntry("reported", at, actor, None, Status.RECEIVED))
        signal._raise(
            SignalReceived(
                **signal.facts(),
                source=signal.source,
                received_at=at,
                observed_at=signal.observed_at,
                routed_partner_id=routed_partner_id,
                group_id=signal.group_id,
                has_location=signal.lat is not None,
                has_contact=signal.has_contact,
            )
        )
        return signal

    def escalate(
        self, partner: Partner, *, at: datetime, actor: str | None, reason: str | None = None, automatic: bool = False
    ) -> None:
        self._require("escalate", Status.RECEIVED, Status.REOPENED)
        escalation = Escalation(partner.id, at, at + partner.acknowledge_within(self.urgency), reason, automatic)
        self.escalations.append(escalation)
        self.overdue_notified = False
        self._record("escalated", at, SYSTEM if automatic else actor, Status.ESCALATED, reason)
        self._raise(
            SignalEscalated(
                **self.facts(),
                partner_id=partner.id,
                escalated_at=at,
                acknowledge_by=escalation.acknowledge_by,
                automatic=automatic,
                group_id=self.group_id,
            )
        )

    def _responsible(self, partner_id: str | None) -> Escalation:
        e = self.escalation
        if e is None or partner_id is None or str(e.partner_id) != partner_id:
            raise NotResponsible("only the partner the signal is escalated to may do this")
        return e

    def acknowledge(
        self, partner_id: str | None, *, at: datetime, actor: str, message: str | None, group_message: str | None = None
    ) -> bool:
        """False when this partner already acknowledged (the answer is the current state).
        `group_message` (to share in the group) is kept here only: never in an event."""
        if self.status in (Status.ACKNOWLEDGED, Status.RESOLVED, Status.CLOSED) and self.escalation is not None:
            self._responsible(partner_id)
            return False
        question = self.open_question if self.status == Status.REACTION_REQUESTED else None
        if question is not None and self._responsible(partner_id).acknowledged_at is not None:
            return False
        if question is None:
            self._require("acknowledge", Status.ESCALATED)
        e = self._responsible(partner_id)
        e.acknowledged_at = at
        if message:
            self.feedback.append(Feedback(e.partner_id, message, at))
        if group_message:
            self.group_message = group_message
        if question is not None:  # recorded; the question stays open and the signal returns acknowledged
            question.returns_to = Status.ACKNOWLEDGED
            self._record("acknowledged", at, actor, None)
        else:
            self._record("acknowledged", at, actor, Status.ACKNOWLEDGED)
        self._raise(
            SignalAcknowledged(
                **self.facts(),
                partner_id=e.partner_id,
                acknowledged_at=at,
                escalated_at=e.at,
                group_id=self.group_id,
                duplicate_group_ids=list(self.duplicate_group_ids),
            )
        )
        return True

    def resolve(
        self, partner_id: str | None, *, at: datetime, actor: str, feedback: str, group_message: str | None = None
    ) -> bool:
        """False when this partner already resolved it (the answer is the current state).
        `group_message` (to share in the group) is kept here only: never in an event."""
        if self.status in (Status.RESOLVED, Status.CLOSED) and self.escalation is not None:
            self._responsible(partner_id)
            return False
        self._require("resolve", Status.ESCALATED, Status.ACKNOWLEDGED, Status.REACTION_REQUESTED)
        e = self._responsible(partner_id)
        self._end_question(at)  # resolving closes an open question unanswered
        implied = e.acknowledged_at is None
        if implied:
            e.acknowledged_at = at
            self._record("acknowledged", at, actor, Status.ACKNOWLEDGED, "implied by the resolution")
        self.feedback.append(Feedback(e.partner_id, feedback, at))
        if group_message:
            self.group_message = group_message
        self.resolved_at = at
        self._record("resolved", at, actor, Status.RESOLVED)
        self._raise(
            SignalResolved(
                **self.facts(),
                partner_id=e.partner_id,
                resolved_at=at,
                escalated_at=e.at,
                acknowledged_at=e.acknowledged_at,
                acknowledgement_implied=implied,
                group_id=self.group_id,
                duplicate_group_ids=list(self.duplicate_group_ids),
            )
        )
        return True

    def reject(self, *, at: datetime, actor: str, reason: str) -> None:
        self._require("reject", Status.RECEIVED)
        self.ended_at = at
        self._record("rejected", at, actor, Status.REJECTED, reason)
        self._raise(SignalRejected(**self.facts(), rejected_at=at))

    def merge_into(self, original: Signal, *, at: datetime, actor: str | None, automatic: bool) -> None:
        self._require("merge", Status.RECEIVED)
        if original.id == self.id or original.status not in OPEN or original.duplicate_of is not None:
            raise SignalRuleBroken(original.status if original.id != self.id else self.status, "merge into")
        self.duplicate_of = original.id
        self.ended_at = at
        original.report_count += self.report_count
        self._record("merged", at, SYSTEM if automatic else actor, Status.MERGED, original.reference)
        self._raise(SignalMerged(**self.facts(), duplicate_of=original.id, merged_at=at, automatic=automatic))

    def merge_reported(self, original: Signal, *, at: datetime) -> None:
        """A new report that duplicates an open signal (detected at intake); the original counts it."""
        self.duplicate_of = original.id
        self.ended_at = at
        original.report_count += self.report_count
        self.original = Original.of(original)
        self._record("merged", at, SYSTEM, Status.MERGED)
        self._raise(SignalMerged(**self.facts(), duplicate_of=original.id, merged_at=at, automatic=True))

    def join_acute(self, partner: Partner | None, *, at: datetime) -> bool:
        """An acute report merged into this open signal: when it is not escalated, it becomes acute
        and is escalated at once to `partner` (None: no partner covers it; it stays for the
        coordinator). False when it was escalated already."""
        if self.status not in (Status.RECEIVED, Status.REOPENED):
            return False
        previous, self.urgency = self.urgency, Urgency.ACUTE
        if partner is None:
            self._record("reclassified", at, SYSTEM, None, ACUTE_REPORT)
        self._raise(
            SignalReclassified(
                **self.facts(),
                previous_category=self.category,
                previous_area=self.area,
                routed_partner_id=self.routed_partner_id,
                reclassified_at=at,
                previous_urgency=previous,
            )
        )
        if partner is not None:
            self.escalate(partner, at=at, actor=None, reason=ACUTE_REPORT, automatic=True)
        return True

    def reclassify(
        self,
        *,
        category: Category | None,
        area: str | None,
        routed_partner_id: UUID | None,
        at: datetime,
        actor: str,
    ) -> None:
        if self.status not in OPEN:
            raise SignalRuleBroken(self.status, "reclassify")
        previous_category, previous_area = self.category, self.area
        self.category = category or self.category
        self.area = area or self.area
        self.routed_partner_id = routed_partner_id
        note = f"{previous_category.value} {previous_area} -> {self.category.value} {self.area}"
        self._record("reclassified", at, actor, None, note)
        self._raise(
            SignalReclassified(
                **self.facts(),
                previous_category=previous_category,
                previous_area=previous_area,
                routed_partner_id=routed_partner_id,
                reclassified_at=at,
            )
        )

    def reopen(self, *, at: datetime, actor: str, reason: str, window: timedelta = REOPEN_WINDOW) -> None:
        self._require("reopen", Status.RESOLVED)
        if self.resolved_at is None or at - self.resolved_at > window:
            raise SignalRuleBroken(self.status, f"reopen more than {window.days} days after resolution: reopen")
        e = self.escalation
        self._record("reopened", at, actor, Status.REOPENED, reason)
        self._raise(SignalReopened(**self.facts(), reopened_at=at, partner_id=e.partner_id if e else None))

    def escalate_again(self, partner: Partner | None, *, at: datetime) -> bool:
        """A reporter reopened it: back to the partner it was last escalated to, if that partner
        still takes signals (else it waits for the coordinator). False when it stays reopened."""
        e = self.escalation
        if self.status != Status.REOPENED or e is None or partner is None or partner.id != e.partner_id:
            return False
        if not partner.takes_signals or self.municipality not in partner.municipalities:
            return False
        self.escalate(partner, at=at, actor=None, reason=REOPENED_BY_REPORTER, automatic=True)
        return True

    def close(self, *, at: datetime) -> None:
        self._require("close", Status.RESOLVED)
        self.ended_at = at
        e = self.escalation
        self._record("closed", at, SYSTEM, Status.CLOSED)
        self._raise(SignalClosed(**self.facts(), closed_at=at, partner_id=e.partner_id if e else None))

    def ask(self, partner_id: str | None, *, at: datetime, actor: str, question: str) -> None:
        """The partner it is escalated to asks the reporters a question; the acknowledge-by clock
        pauses until it ends. The text stays here: never in an event."""
        e = self._responsible(partner_id)
        if self.status == Status.REACTION_REQUESTED:
            raise SignalRuleBroken(self.status, "ask a second question while one is open: ask")
        self._require("ask the reporter", Status.ESCALATED, Status.ACKNOWLEDGED)
        before = self.status
        self.questions.append(Question(question, at, before))
        self._record("reaction_requested", at, actor, Status.REACTION_REQUESTED)
        self._raise(
            SignalReactionRequested(
                **self.facts(), partner_id=e.partner_id, asked_at=at, returns_to=before, group_id=self.group_id
            )
        )

    def answer(self, *, at: datetime, actor: str, answer: str) -> None:
        """A reporter answers the open question: back to the status it had, the deadline moved on."""
        self._require("answer", Status.REACTION_REQUESTED)
        question, e = self.open_question, self.escalation
        if question is None or e is None:
            raise SignalRuleBroken(self.status, "answer")
        question.answer, question.answered_at = answer, at
        back = self._end_question(at)
        self._record("reaction_received", at, actor, back)
        self._raise(
            SignalReactionReceived(
                **self.facts(),
                partner_id=e.partner_id,
                asked_at=question.asked_at,
                answered_at=at,
                acknowledge_by=e.acknowledge_by,
            )
        )

    def expire_question(self, *, at: datetime) -> bool:
        """Nobody answered in time: back to the status it had (actor system, note "vraag verlopen")."""
        question, e = self.open_question, self.escalation
        if self.status != Status.REACTION_REQUESTED or question is None or e is None:
            return False
        back = self._end_question(at)
        self._record("reaction_expired", at, SYSTEM, back, QUESTION_EXPIRED)
        self._raise(
            SignalReactionExpired(
                **self.facts(),
                partner_id=e.partner_id,
                asked_at=question.asked_at,
                expired_at=at,
                acknowledge_by=e.acknowledge_by,
            )
        )
        return True

    def transfer(self, partner: Partner, *, at: datetime, actor: str, reason: str, automatic: bool = False) -> None:
        """To another partner, with a new acknowledge-by; an open question ends unanswered."""
        self._require("transfer", Status.ESCALATED, Status.ACKNOWLEDGED, Status.REACTION_REQUESTED)
        previous = self.escalation
        self._end_question(at)
        deadline = at + partner.acknowledge_within(self.urgency)
        escalation = Escalation(partner.id, at, deadline, reason, automatic=automatic, transfer=True)
        self.escalations.append(escalation)
        self.overdue_notified = False
        if partner.id in self.involved:  # the new escalation target is no longer a co-handler
            self.involved.remove(partner.id)
        self._record("transferred", at, actor, Status.ESCALATED, reason)
        self._raise(
            SignalTransferred(
                **self.facts(),
                partner_id=partner.id,
                previous_partner_id=previous.partner_id if previous else None,
                escalated_at=at,
                acknowledge_by=escalation.acknowledge_by,
                automatic=automatic,
                group_id=self.group_id,
            )
        )

    def pass_on(self, partner: Partner, *, at: datetime) -> bool:
        """A chain step fired: the signal goes to the step's next partner (actor system, note
        "keten"). False when that partner had it before: a chain never returns a signal."""
        if self.escalated_to(partner.id) or self.status != Status.ESCALATED:
            return False
        self.transfer(partner, at=at, actor=SYSTEM, reason=CHAIN, automatic=True)
        return True

    def add_feedback(self, partner_id: str | None, *, at: datetime, actor: str, message: str) -> None:
        """The partner it is escalated to, or an involved partner, tells the reporters something while
        the signal is open. The text stays here: never in an event."""
        e = self.escalation
        current = e is not None and partner_id is not None and str(e.partner_id) == partner_id
        if partner_id is None or not (current or self.involves(partner_id)):
            raise NotResponsible("only the partner the signal is escalated to, or an involved partner, adds feedback")
        if self.status not in OPEN:
            raise SignalRuleBroken(self.status, "add feedback to")
        self.feedback.append(Feedback(UUID(partner_id), message, at))
        self._record("feedback_added", at, actor, None)

    def set_external_reference(self, partner_id: str | None, *, at: datetime, actor: str, reference: str) -> bool:
        """The partner it is escalated to records its own case number. False when it is already that."""
        self._responsible(partner_id)
        if self.external_reference == reference:
            return False
        self.external_reference = reference
        self._record("external_reference_set", at, actor, None)
        return True

    def involve(self, partner: Partner, *, at: datetime, actor: str, reason: str | None) -> bool:
        """A co-handler who reads the description and may add feedback. False when it is involved
        already (the answer is the current state)."""
        if partner.id in self.involved:
            return False
        self._require("involve a partner in", Status.ESCALATED, Status.ACKNOWLEDGED, Status.REACTION_REQUESTED)
        self.involved.append(partner.id)
        e = self.escalation
        self._record("partner_involved", at, actor, None, reason)
        self._raise(
            SignalPartnerInvolved(
                **self.facts(),
                partner_id=partner.id,
                escalated_partner_id=e.partner_id if e else None,
                involved_at=at,
                group_id=self.group_id,
            )
        )
        return True

    def rate(
        self, rater: str, *, at: datetime, satisfied: bool, comment: str | None, window: timedelta = RATING_WINDOW
    ) -> None:
        """A reporter (of this signal or of one merged into it) rates the latest resolution, within
        `window` of it; rating again replaces."""
        self._require("rate", Status.RESOLVED, Status.CLOSED)
        if self.resolved_at is None or at - self.resolved_at > window:
            raise SignalRuleBroken(self.status, f"rate more than {window.days} days after the resolution: rate")
        replaces = rater in self.ratings
        self.ratings[rater] = Rating(satisfied, comment, at)
        e = self.escalation
        self._raise(
            SignalRated(
                **self.facts(),
                rating_id=uuid5(self.id, rater),
                satisfied=satisfied,
                rated_at=at,
                resolved_at=self.resolved_at,
                partner_id=e.partner_id if e else None,
                replaces=replaces,
            )
        )

    def _end_question(self, at: datetime) -> Status:
        """End the open question (if any): the acknowledge-by deadline moves later by the time it
        was open. The status to return to."""
        question, e = self.open_question, self.escalation
        if question is None:
            return self.status
        question.ended_at = at
        if e is not None:
            e.acknowledge_by += at - question.asked_at
        return question.returns_to

    def mark_overdue(self, *, at: datetime) -> bool:
        """Once per missed deadline: False when not overdue or already reported."""
        e = self.escalation
        if self.overdue_notified or e is None or not self.is_overdue(at):
            return False
        self.overdue_notified = True
        self._record("overdue", at, SYSTEM, None)
        self._raise(
            SignalOverdue(**self.facts(), partner_id=e.partner_id, escalated_at=e.at, acknowledge_by=e.acknowledge_by)
        )
        return True
