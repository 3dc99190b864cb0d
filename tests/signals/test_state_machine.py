"""Random command sequences on a signal never reach a state the design forbids, a refused
command changes nothing, and history only grows (hypothesis state machine)."""

from __future__ import annotations

import copy
import itertools
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from services.signals.domain import NotResponsible, Partner, Report, Signal, SignalRuleBroken
from shared.events.codes import Category, PartnerKind
from shared.events.codes import SignalStatus as Status

START = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
PARTNERS = [
    Partner(
        id=UUID(int=n),
        kind=PartnerKind.POLICE,
        municipalities=frozenset({"GM0479"}),
        areas=frozenset({"GM0479"}),
        categories=frozenset(Category),
        acknowledge_within_minutes=30,
        registered_at=START,
    )
    for n in (1, 2)
]
# Status changes the design allows (a resolution straight from escalated records the implied acknowledgement).
ALLOWED = {
    (Status.RECEIVED, Status.ESCALATED),
    (Status.RECEIVED, Status.REJECTED),
    (Status.RECEIVED, Status.MERGED),
    (Status.ESCALATED, Status.ACKNOWLEDGED),
    (Status.ESCALATED, Status.RESOLVED),
    (Status.ACKNOWLEDGED, Status.RESOLVED),
    (Status.RESOLVED, Status.CLOSED),
    (Status.RESOLVED, Status.REOPENED),
    (Status.REOPENED, Status.ESCALATED),
}
HISTORY_STEPS = ALLOWED - {(Status.ESCALATED, Status.RESOLVED)}
TERMINAL = {Status.CLOSED, Status.REJECTED, Status.MERGED}


def _report() -> Report:
    return Report("GM0479", "BU04790101", "vandalism", "normal", "Kapotte lantaarn", "app")


class SignalLifecycle(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = START
        self.signal = Signal.report(
            id=uuid4(), reference="SIG-2026-000001", report=_report(), reporter="r", at=START, routed_partner_id=None
        )
        self.other = Signal.report(
            id=uuid4(), reference="SIG-2026-000002", report=_report(), reporter="s", at=START, routed_partner_id=None
        )
        self.before = copy.deepcopy(self.signal)
        self.events = len(self.signal.pending)

    def _run(self, command: object) -> None:
        self.before = copy.deepcopy(self.signal)
        try:
            command()  # type: ignore[operator]
        except (SignalRuleBroken, NotResponsible):
            after = self.signal
            assert (after.status, after.version, len(after.history), len(after.escalations)) == (
                self.before.status,
                self.before.version,
                len(self.before.history),
                len(self.before.escalations),
            ), "a refused command changed the signal"
            return
        if self.before.status != self.signal.status:
            assert (self.before.status, self.signal.status) in ALLOWED
            assert self.before.status not in TERMINAL

    @rule(minutes=st.integers(0, 60 * 24 * 20))
    def time_passes(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)

    @rule(p=st.sampled_from(PARTNERS))
    def escalate(self, p: Partner) -> None:
        self._run(lambda: self.signal.escalate(p, at=self.now, actor="coordinator"))

    @rule(p=st.sampled_from(PARTNERS), message=st.none() | st.just("We gaan kijken"))
    def acknowledge(self, p: Partner, message: str | None) -> None:
        self._run(lambda: self.signal.acknowledge(str(p.id), at=self.now, actor="agent", message=message))

    @rule(p=st.sampled_from(PARTNERS))
    def resolve(self, p: Partner) -> None:
        self._run(lambda: self.signal.resolve(str(p.id), at=self.now, actor="agent", feedback="Opgelost"))

    @rule()
    def reject(self) -> None:
        self._run(lambda: self.signal.reject(at=self.now, actor="coordinator", reason="geen signaal"))

    @rule()
    def merge(self) -> None:
        self._run(lambda: self.signal.merge_into(self.other, at=self.now, actor="coordinator", automatic=False))

    @rule(category=st.sampled_from(list(Category)))
    def reclassify(self, category: Category) -> None:
        self._run(
            lambda: self.signal.reclassify(
                category=category, area=None, routed_partner_id=PARTNERS[0].id, at=self.now, actor="coordinator"
            )
        )

    @rule()
    def reopen(self) -> None:
        self._run(lambda: self.signal.reopen(at=self.now, actor="r", reason="Nog steeds"))

    @rule()
    def close(self) -> None:
        self._run(lambda: self.signal.close(at=self.now))

    @rule()
    def overdue_scan(self) -> None:
        self._run(lambda: self.signal.mark_overdue(at=self.now))

    @invariant()
    def history_only_grows(self) -> None:
        assert self.signal.history[: len(self.before.history)] == self.before.history
        assert self.signal.history[0].to_status == Status.RECEIVED

    @invariant()
    def history_tells_the_current_status(self) -> None:
        changes = [h for h in self.signal.history if h.to_status is not None]
        assert changes[-1].to_status == self.signal.status
        for previous, entry in itertools.pairwise(changes):
            assert entry.from_status == previous.to_status
            assert (entry.from_status, entry.to_status) in HISTORY_STEPS

    @invariant()
    def every_change_raised_one_event_with_the_next_version(self) -> None:
        versions = [v for v, _ in self.signal.pending]
        assert versions == list(range(1, self.signal.version + 1))

    @invariant()
    def fields_fit_the_status(self) -> None:
        s = self.signal
        if s.status in (Status.ESCALATED, Status.ACKNOWLEDGED, Status.RESOLVED, Status.CLOSED):
            assert s.escalation is not None
        if s.status in (Status.ACKNOWLEDGED, Status.RESOLVED, Status.CLOSED):
            assert s.escalation is not None and s.escalation.acknowledged_at is not None
        if s.status in (Status.RESOLVED, Status.CLOSED, Status.REOPENED):
            assert s.resolved_at is not None
        assert (s.status == Status.MERGED) == (s.duplicate_of is not None)
        if s.overdue_notified:
            assert s.escalation is not None


SignalLifecycle.TestCase.settings = settings(max_examples=100, stateful_step_count=30, deadline=None)
test_signal_lifecycle = SignalLifecycle.TestCase
