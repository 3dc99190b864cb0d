"""Pure domain rules: duplicates (time window, distance), intake validation, transitions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.signals.domain import (
    ACUTE_ADVICE,
    NotResponsible,
    OpenReport,
    Partner,
    Report,
    Signal,
    SignalRuleBroken,
    advice_for,
    check_report,
    distance_m,
    duplicate_of,
    intake_escalation,
    report_advice,
)
from shared.events.codes import Category, PartnerKind, SignalSource, Urgency
from shared.events.codes import SignalStatus as Status

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
BU = "BU04790101"
DAM = (52.4380, 4.8260)  # Zaandam


def existing(
    minutes_ago: float,
    *,
    status: Status = Status.RECEIVED,
    area: str = BU,
    category: Category = Category.VANDALISM,
    at: tuple[float, float] | None = None,
    n: int = 1,
) -> OpenReport:
    return OpenReport(
        id=UUID(int=n),
        municipality="GM0479",
        area=area,
        category=category,
        status=status,
        reported_at=NOW - timedelta(minutes=minutes_ago),
        lat=at[0] if at else None,
        lon=at[1] if at else None,
    )


def north(metres: float) -> tuple[float, float]:
    return DAM[0] + metres / 111_195.0, DAM[1]


DUPLICATE_CASES = [
    ("same category and area a minute ago", [existing(1)], None, 1),
    ("exactly two hours ago still counts", [existing(120)], None, 1),
    ("two hours and a second ago does not", [existing(120 + 1 / 60)], None, None),
    ("another category", [existing(1, category=Category.BURGLARY)], None, None),
    ("another area", [existing(1, area="BU04790102")], None, None),
    ("resolved is not open", [existing(1, status=Status.RESOLVED)], None, None),
    ("closed is not open", [existing(1, status=Status.CLOSED)], None, None),
    ("rejected is not open", [existing(1, status=Status.REJECTED)], None, None),
    ("escalated is open", [existing(1, status=Status.ESCALATED)], None, 1),
    ("acknowledged is open", [existing(1, status=Status.ACKNOWLEDGED)], None, 1),
    ("reopened is open", [existing(1, status=Status.REOPENED)], None, 1),
    ("both located 249 m apart", [existing(5, at=north(249))], DAM, 1),
    ("both located 251 m apart", [existing(5, at=north(251))], DAM, None),
    ("only the new one located", [existing(5)], DAM, 1),
    ("only the old one located", [existing(5, at=north(5000))], None, 1),
    ("the earliest open match is the original", [existing(30, n=2), existing(90, n=3), existing(10, n=4)], None, 3),
    ("a report from the future (clock skew) is no original", [existing(-1)], None, None),
]


@pytest.mark.parametrize(("case", "reports", "where", "expected"), DUPLICATE_CASES, ids=[c[0] for c in DUPLICATE_CASES])
def test_duplicate_detection(
    case: str, reports: list[OpenReport], where: tuple[float, float] | None, expected: int | None
) -> None:
    found = duplicate_of(
        reports,
        municipality="GM0479",
        area=BU,
        category=Category.VANDALISM,
        at=NOW,
        lat=where[0] if where else None,
        lon=where[1] if where else None,
    )
    assert (found.id.int if found else None) == expected, case


def test_haversine_distance_of_a_known_pair() -> None:
    # One degree along a meridian is 111.195 km on the mean Earth radius.
    assert distance_m(52.0, 4.8, 53.0, 4.8) == pytest.approx(111_195, rel=1e-4)
    assert distance_m(0.0, 0.0, 0.0, 1.0) == pytest.approx(111_195, rel=1e-4)


@given(
    st.floats(-89, 89),
    st.floats(-179, 179),
    st.floats(-89, 89),
    st.floats(-179, 179),
)
def test_distance_is_symmetric_and_never_negative(a: float, b: float, c: float, d: float) -> None:
    assert distance_m(a, b, c, d) == pytest.approx(distance_m(c, d, a, b), abs=1e-6)
    assert distance_m(a, b, c, d) >= 0


def report(**kw: object) -> Report:
    fields: dict[str, object] = {
        "municipality": "GM0479",
        "area": BU,
        "category": "vandalism",
        "urgency": "normal",
        "description": "Bushokje vernield",
        "source": "app",
    }
    fields.update(kw)
    return Report(**fields)  # type: ignore[arg-type]


APP = frozenset({SignalSource.APP, SignalSource.WEB})


def test_a_good_report_has_no_field_errors() -> None:
    assert not check_report(report(lat=52.4, lon=4.8, bag_id="0479010000012345", contact_email="a@b.nl"), NOW, APP)


def test_every_bad_field_is_reported_at_once() -> None:
    bad = report(
        area="BU03630101",
        category="graffiti",
        urgency="urgent",
        description=" ",
        lat=91.0,
        lon=181.0,
        observed_at=NOW + timedelta(hours=1),
        source="whatsapp_group",
        contact_email="not-an-address",
        bag_id="12",
    )
    fields = {e.field for e in check_report(bad, NOW, APP).items}
    assert fields == {
        "area",
        "category",
        "urgency",
        "description",
        "lat",
        "lon",
        "observedAt",
        "source",
        "contactEmail",
        "bagId",
        "groupId",
    }


@pytest.mark.parametrize(
    ("area", "ok"),
    [("BU04790101", True), ("WK047901", True), ("GM0479", False), ("BU0479010", False), ("WK036301", False)],
)
def test_area_must_be_a_district_or_neighbourhood_of_the_municipality(area: str, ok: bool) -> None:
    assert (not check_report(report(area=area), NOW, APP)) is ok


@pytest.mark.parametrize(("length", "ok"), [(1, True), (2000, True), (2001, False)])
def test_description_length_limits(length: int, ok: bool) -> None:
    assert (not check_report(report(description="x" * length), NOW, APP)) is ok


def test_a_whatsapp_group_report_names_its_group() -> None:
    group = frozenset({SignalSource.WHATSAPP_GROUP})
    fields = {e.field for e in check_report(report(source="whatsapp_group"), NOW, group).items}
    assert fields == {"groupId"}


def test_observed_a_moment_ago_is_fine_but_not_tomorrow() -> None:
    assert not check_report(report(observed_at=NOW - timedelta(minutes=5)), NOW, APP)
    assert check_report(report(observed_at=NOW + timedelta(days=1)), NOW, APP)


def police(n: int, *, kind: PartnerKind = PartnerKind.POLICE, auto: frozenset[Category] = frozenset()) -> Partner:
    return Partner(
        id=UUID(int=n),
        kind=kind,
        municipalities=frozenset({"GM0479"}),
        areas=frozenset({"GM0479"}),
        categories=frozenset(Category),
        acknowledge_within_minutes=60,
        registered_at=NOW,
        auto_escalate=auto,
        acknowledge_within_by_urgency={Urgency.ACUTE: 5},
    )


def new_signal(urgency: str = "normal", routed: Partner | None = None) -> Signal:
    return Signal.report(
        id=uuid4(),
        reference="SIG-2026-000001",
        report=report(urgency=urgency),
        reporter="resident-1",
        at=NOW,
        routed_partner_id=routed.id if routed else None,
    )


def test_acute_goes_to_the_police_and_tells_to_call_112() -> None:
    youth = police(1, kind=PartnerKind.YOUTH_WORK)
    cop = police(2)
    signal = new_signal("acute", routed=youth)
    target = intake_escalation(signal, youth, [youth, cop], NOW)
    assert target is not None and target[0] == cop
    assert advice_for(signal.category, Urgency.ACUTE).text == ACUTE_ADVICE and ACUTE_ADVICE.startswith("Bel nu 112")


@pytest.mark.parametrize(
    ("category", "urgency", "source", "call", "says"),
    [
        (Category.VANDALISM, Urgency.ACUTE, SignalSource.APP, "112", ["Bel nu 112"]),
        (Category.BURGLARY, Urgency.ACUTE, SignalSource.WHATSAPP_GROUP, "112", ["eerst zelf 112", "in de groep"]),
        (Category.BURGLARY, Urgency.HIGH, None, "0900-8844", ["Geen spoed, wel politie", "0900-8844"]),
        (Category.SUSPICIOUS_SITUATION, Urgency.HIGH, None, "0900-8844", ["0900-8844"]),
        (Category.DRUGS_NUISANCE, Urgency.HIGH, None, "0900-8844", ["0900-8844", "Meld Misdaad Anoniem: 0800-7000"]),
        (Category.DRUGS_NUISANCE, Urgency.NORMAL, None, "0800-7000", ["Meld Misdaad Anoniem: 0800-7000"]),
        (Category.DRUGS_NUISANCE, Urgency.ACUTE, None, "112", ["Bel nu 112", "0800-7000"]),
        (Category.VANDALISM, Urgency.HIGH, None, None, ["Geen spoed"]),
        (Category.LITTER_DUMPING, Urgency.LOW, SignalSource.WHATSAPP_GROUP, None, ["Geen spoed"]),
    ],
)
def test_advice_names_the_number_to_call(
    category: Category, urgency: Urgency, source: SignalSource | None, call: str | None, says: list[str]
) -> None:
    advice = advice_for(category, urgency, source)
    assert advice.call == call
    assert all(part in advice.text for part in says), advice.text
    assert "doorgestuurd" not in advice.text  # nothing is forwarded before a report is written


def test_acknowledge_by_uses_the_partners_minutes_for_the_urgency() -> None:
    cop = police(2)
    signal = new_signal("acute", routed=cop)
    signal.escalate(cop, at=NOW, actor=None, automatic=True)
    assert signal.acknowledge_by == NOW + timedelta(minutes=5)
    normal = new_signal("normal", routed=cop)
    normal.escalate(cop, at=NOW, actor="c")
    assert normal.acknowledge_by == NOW + timedelta(minutes=60)


def test_auto_escalated_categories_of_the_routed_partner() -> None:
    partner = police(3, kind=PartnerKind.MUNICIPALITY, auto=frozenset({Category.VANDALISM}))
    assert intake_escalation(new_signal(routed=partner), partner, [partner], NOW) == (
        partner,
        "automatic for this category",
    )
    plain = police(4, kind=PartnerKind.MUNICIPALITY)
    assert intake_escalation(new_signal(routed=plain), plain, [plain], NOW) is None


def test_resolving_from_escalated_records_the_implied_acknowledgement() -> None:
    cop = police(2)
    signal = new_signal(routed=cop)
    signal.escalate(cop, at=NOW, actor="c")
    assert signal.resolve(str(cop.id), at=NOW, actor="agent", feedback="Opgelost")
    assert [h.to_status for h in signal.history] == [
        Status.RECEIVED,
        Status.ESCALATED,
        Status.ACKNOWLEDGED,
        Status.RESOLVED,
    ]
    assert signal.escalation is not None and signal.escalation.acknowledged_at == NOW
    assert [type(e).__name__ for _, e in signal.pending][-1] == "SignalResolved"


def test_repeating_an_acknowledgement_by_the_same_partner_changes_nothing() -> None:
    cop = police(2)
    signal = new_signal(routed=cop)
    signal.escalate(cop, at=NOW, actor="c")
    assert signal.acknowledge(str(cop.id), at=NOW, actor="a", message="We komen")
    version, history = signal.version, len(signal.history)
    assert not signal.acknowledge(str(cop.id), at=NOW, actor="a", message="We komen")
    assert (signal.version, len(signal.history)) == (version, history)
    with pytest.raises(NotResponsible):
        signal.acknowledge(str(UUID(int=77)), at=NOW, actor="b", message=None)


def test_reopening_is_refused_after_fourteen_days() -> None:
    cop = police(2)
    signal = new_signal(routed=cop)
    signal.escalate(cop, at=NOW, actor="c")
    signal.resolve(str(cop.id), at=NOW, actor="a", feedback="klaar")
    with pytest.raises(SignalRuleBroken):
        signal.reopen(at=NOW + timedelta(days=14, seconds=1), actor="r", reason="nog steeds")
    signal.reopen(at=NOW + timedelta(days=14), actor="r", reason="nog steeds")
    assert signal.status == Status.REOPENED


def test_overdue_is_marked_once_per_deadline() -> None:
    cop = police(2)
    signal = new_signal(routed=cop)
    signal.escalate(cop, at=NOW, actor="c")
    late = NOW + timedelta(hours=2)
    assert not signal.mark_overdue(at=NOW)
    assert signal.mark_overdue(at=late)
    assert not signal.mark_overdue(at=late + timedelta(hours=1))


def test_the_intake_advice_says_forwarded_only_when_it_was_escalated() -> None:
    acute = new_signal("acute")
    said = report_advice(acute)
    assert said is not None and said.startswith("Bel nu 112") and "doorgestuurd" not in said
    acute.escalate(police(2), at=NOW, actor=None, reason="acute", automatic=True)
    said = report_advice(acute)
    assert said is not None and said.startswith("Bel nu 112") and "doorgestuurd" in said

    normal = new_signal("normal")
    assert report_advice(normal) is None  # nothing to call, nothing forwarded
    normal.escalate(police(2), at=NOW, actor="coordinator")
    assert report_advice(normal) == "Uw melding is doorgestuurd naar de partner die erover gaat."

    original, duplicate = new_signal("normal"), new_signal("low")
    duplicate.merge_reported(original, at=NOW)
    assert report_advice(duplicate) is None and original.report_count == 2
    original.escalate(police(2), at=NOW, actor="coordinator")
    again = new_signal("low")
    again.merge_reported(original, at=NOW)
    assert report_advice(again) == "Uw melding is toegevoegd aan een eerdere melding, die al is doorgestuurd."


def test_an_acute_report_makes_the_signal_it_joins_acute_and_escalates_it_once() -> None:
    original = new_signal("normal")
    original.pending.clear()
    assert original.join_acute(police(2), at=NOW)
    assert original.urgency == Urgency.ACUTE and original.status == Status.ESCALATED
    assert [type(e).__name__ for _, e in original.pending] == ["SignalReclassified", "SignalEscalated"]
    assert original.pending[0][1].previous_urgency == Urgency.NORMAL  # type: ignore[attr-defined]
    assert (original.history[-1].actor, original.history[-1].note) == ("system", "acute melding")
    assert original.acknowledge_by == NOW + timedelta(minutes=5)  # the partner's acute minutes
    assert not original.join_acute(police(2), at=NOW)  # escalated already: nothing more


def test_an_acute_report_with_no_partner_still_makes_the_signal_acute() -> None:
    original = new_signal("low")
    assert original.join_acute(None, at=NOW)
    assert original.urgency == Urgency.ACUTE and original.status == Status.RECEIVED
    assert (original.history[-1].action, original.history[-1].note) == ("reclassified", "acute melding")
