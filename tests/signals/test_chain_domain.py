"""Pure rules of chains, added feedback and the partner's own reference (CONTRACT.md "The loop back
to reporters" and rule 6): no I/O."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from uuid import UUID

import pytest

from services.signals.domain import NotResponsible, Signal, SignalRuleBroken
from services.signals.domain.chain import ChainStep, chain_problems, due_step, step_for
from shared.events.codes import Category, PartnerKind
from shared.events.codes import SignalStatus as Status
from tests.signals.test_domain import NOW, new_signal, police

YOUTH, COPS, CARE = police(1, kind=PartnerKind.YOUTH_WORK), police(2), police(3, kind=PartnerKind.CARE)
GROUP = police(4, kind=PartnerKind.WHATSAPP_GROUP)
TO_COPS = ChainStep(None, COPS.id, 60)


def escalated_to_youth() -> Signal:
    signal = new_signal()
    signal.escalate(YOUTH, at=NOW, actor="coordinator")
    return signal


def test_the_step_for_the_signals_category_wins_over_the_step_for_any() -> None:
    steps = [ChainStep(None, COPS.id, 60), ChainStep(Category.VANDALISM, CARE.id, 30)]
    assert step_for(steps, Category.VANDALISM) == steps[1]
    assert step_for(steps, Category.NOISE_NUISANCE) == steps[0]
    assert step_for(steps[1:], Category.NOISE_NUISANCE) is None


def test_a_chain_fires_after_its_minutes_and_not_a_second_earlier() -> None:
    signal = escalated_to_youth()
    assert due_step(signal, [TO_COPS], NOW + timedelta(minutes=60) - timedelta(seconds=1)) is None
    assert due_step(signal, [TO_COPS], NOW + timedelta(minutes=60)) == TO_COPS


def test_time_waiting_for_the_reporters_answer_does_not_count() -> None:
    signal = escalated_to_youth()
    signal.ask(str(YOUTH.id), at=NOW + timedelta(minutes=10), actor="partner:x", question="Welke ingang?")
    assert due_step(signal, [TO_COPS], NOW + timedelta(hours=5)) is None, "paused while the question is open"
    signal.answer(at=NOW + timedelta(minutes=40), actor="reporter", answer="De achterkant")
    assert due_step(signal, [TO_COPS], NOW + timedelta(minutes=90) - timedelta(seconds=1)) is None
    assert due_step(signal, [TO_COPS], NOW + timedelta(minutes=90)) == TO_COPS


def test_an_acknowledged_signal_stays_and_a_chain_never_returns_a_signal() -> None:
    acknowledged = escalated_to_youth()
    acknowledged.acknowledge(str(YOUTH.id), at=NOW + timedelta(minutes=5), actor="partner:x", message=None)
    assert due_step(acknowledged, [TO_COPS], NOW + timedelta(days=1)) is None

    signal = escalated_to_youth()
    assert signal.pass_on(COPS, at=NOW + timedelta(hours=1))
    back = ChainStep(None, YOUTH.id, 30)
    assert due_step(signal, [back], NOW + timedelta(days=1)) is None
    assert not signal.pass_on(YOUTH, at=NOW + timedelta(days=1))
    entry = signal.history[-1]
    assert (signal.status, signal.escalation and signal.escalation.partner_id) == (Status.ESCALATED, COPS.id)
    assert (entry.action, entry.actor, entry.note) == ("transferred", "system", "keten")


def test_chain_steps_report_every_problem_at_once() -> None:
    known = {p.id: p for p in (COPS, GROUP, YOUTH)}
    errors, steps = chain_problems(
        [
            ("vandalism", str(COPS.id), 60),
            ("vandalism", "not-an-id", 0),
            ("weather", str(GROUP.id), 30),
            (None, str(UUID(int=99)), 30),
            (None, str(YOUTH.id), 30),
        ],
        partner_id=YOUTH.id,
        municipalities=["GM0479"],
        known=known,
    )
    assert [e.field for e in errors] == [
        "chain[1].category",
        "chain[1].nextPartnerId",
        "chain[1].afterMinutes",
        "chain[2].category",
        "chain[2].nextPartnerId",
        "chain[3].nextPartnerId",
        "chain[4].category",
        "chain[4].nextPartnerId",
    ]
    assert steps[0] == ChainStep(Category.VANDALISM, COPS.id, 60)


def test_only_the_escalated_or_an_involved_partner_adds_feedback_while_open() -> None:
    signal = escalated_to_youth()
    with pytest.raises(NotResponsible):
        signal.add_feedback(str(COPS.id), at=NOW, actor="partner:x", message="Wij kijken mee")
    signal.involve(COPS, at=NOW, actor="partner:y", reason=None)
    signal.add_feedback(str(COPS.id), at=NOW + timedelta(minutes=1), actor="partner:x", message="Wij kijken mee")
    signal.add_feedback(str(YOUTH.id), at=NOW + timedelta(minutes=2), actor="partner:y", message="Wij gaan langs")
    assert [(f.partner_id, f.message) for f in signal.feedback] == [
        (COPS.id, "Wij kijken mee"),
        (YOUTH.id, "Wij gaan langs"),
    ]
    signal.resolve(str(YOUTH.id), at=NOW + timedelta(minutes=3), actor="partner:y", feedback="Opgelost")
    with pytest.raises(SignalRuleBroken):
        signal.add_feedback(str(YOUTH.id), at=NOW + timedelta(minutes=4), actor="partner:y", message="Nog iets")


def test_the_external_reference_is_the_escalated_partners_and_setting_it_again_changes_nothing() -> None:
    signal = escalated_to_youth()
    with pytest.raises(NotResponsible):
        signal.set_external_reference(str(COPS.id), at=NOW, actor="partner:x", reference="PL1300-2026-1")
    assert signal.set_external_reference(str(YOUTH.id), at=NOW, actor="partner:y", reference="JW-17")
    assert not signal.set_external_reference(str(YOUTH.id), at=NOW, actor="partner:y", reference="JW-17")
    assert signal.external_reference == "JW-17"
    assert [h.action for h in signal.history].count("external_reference_set") == 1


def test_a_reporters_reopening_goes_back_to_the_last_partner_while_it_takes_signals() -> None:
    signal = escalated_to_youth()
    signal.resolve(str(YOUTH.id), at=NOW + timedelta(hours=1), actor="partner:y", feedback="Gesproken")
    signal.reopen(at=NOW + timedelta(days=1), actor="reporter", reason="Nog steeds")
    assert not signal.escalate_again(COPS, at=NOW + timedelta(days=1)), "only the partner it was escalated to"
    assert not signal.escalate_again(replace(YOUTH, active=False), at=NOW + timedelta(days=1))
    assert signal.status == Status.REOPENED
    assert signal.escalate_again(YOUTH, at=NOW + timedelta(days=1))
    entry = signal.history[-1]
    assert (signal.status, entry.actor, entry.note) == (Status.ESCALATED, "system", "heropend door melder")
