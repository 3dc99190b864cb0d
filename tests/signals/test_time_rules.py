"""The signals rules that depend on the time, at pinned instants (pure domain, no I/O).

Every instant is written as Amsterdam wall-clock time with the offset Amsterdam had then (checked),
so a case reads as what a resident or partner sees: a weekday in office hours, a weekday night,
a Sunday, across midnight, at a quarter boundary, and on the Sundays summer time starts
(29 March 2026, 02:00 CET -> 03:00 CEST) and ends (25 October 2026, 03:00 CEST -> 02:00 CET).
Deadlines (acknowledge-by, the reopen window) are real elapsed time: on those Sundays the wall
clock moves an hour more or less than the deadline. Automatic closing and retention are SQL
conditions on the pinned clock; tests/signals/test_pinned_clock.py covers them end to end.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from services.signals.domain import AMSTERDAM, Partner, Report, Signal, SignalRuleBroken, Window, route
from shared.events.catalog import SignalEscalated, SignalOverdue
from shared.events.codes import Category, PartnerKind, Urgency
from shared.events.codes import SignalStatus as Status

GM, BU = "GM0479", "BU04790101"
OFFICE, NIGHT = 1, 2


def local(text: str) -> datetime:
    """An Amsterdam wall-clock time with its offset written out; an offset Amsterdam did not
    have at that moment fails here, so no case silently tests another instant."""
    at = datetime.fromisoformat(text)
    assert at.utcoffset() is not None and at.utcoffset() == at.astimezone(AMSTERDAM).utcoffset(), text
    return at


def partner(n: int, windows: tuple[tuple[int, str, str], ...] = (), minutes: int = 60) -> Partner:
    return Partner(
        id=UUID(int=n),
        kind=PartnerKind.POLICE,
        municipalities=frozenset({GM}),
        areas=frozenset({BU}),
        categories=frozenset(Category),
        acknowledge_within_minutes=minutes,
        registered_at=datetime(2026, 1, 1, tzinfo=UTC),
        availability=tuple(Window(d, f, u) for d, f, u in windows),
    )


# --- availability windows in routing -------------------------------------------------------------

# A municipality desk open on weekdays 09:00-17:00 and a police team on duty every night 17:00-09:00
# (each window runs into the next morning). Saturday and Sunday daytime nobody is available.
OFFICE_HOURS = partner(OFFICE, tuple((d, "09:00", "17:00") for d in range(1, 6)))
NIGHT_SHIFT = partner(NIGHT, tuple((d, "17:00", "09:00") for d in range(1, 8)))

AVAILABILITY_CASES = [
    ("weekday office hours: Wednesday noon", "2026-12-02T12:00+01:00", OFFICE),
    ("weekday office hours: opening minute", "2026-12-02T09:00+01:00", OFFICE),
    ("weekday office hours: the last second", "2026-12-02T16:59:59+01:00", OFFICE),
    ("weekday: 17:00 the night shift takes over", "2026-12-02T17:00+01:00", NIGHT),
    ("weekday night: Wednesday 03:00", "2026-12-02T03:00+01:00", NIGHT),
    ("weekday night: 08:59 is still the night", "2026-12-02T08:59+01:00", NIGHT),
    ("Sunday noon: nobody, the signal stays unrouted", "2026-11-29T12:00+01:00", None),
    ("Saturday afternoon: nobody", "2026-11-28T15:00+01:00", None),
    ("Sunday night", "2026-11-29T23:30+01:00", NIGHT),
    ("across midnight: Sunday 23:59:59", "2026-11-29T23:59:59+01:00", NIGHT),
    ("across midnight: Monday 00:00 belongs to Sunday's window", "2026-11-30T00:00+01:00", NIGHT),
    ("Monday 09:00 the office opens", "2026-11-30T09:00+01:00", OFFICE),
    ("across midnight into a new year: Thursday 23:59:59", "2026-12-31T23:59:59+01:00", NIGHT),
    ("quarter boundary: 1 January 00:00 is Thursday's night", "2027-01-01T00:00+01:00", NIGHT),
    ("quarter boundary: 30 September 23:59 (summer time)", "2026-09-30T23:59+02:00", NIGHT),
    ("quarter boundary: 1 October 09:00 (summer time)", "2026-10-01T09:00+02:00", OFFICE),
    # Summer time starts Sunday 29 March 2026: 02:00 CET becomes 03:00 CEST.
    ("DST start: 01:59:59 CET, Saturday's night", "2026-03-29T01:59:59+01:00", NIGHT),
    ("DST start: 03:00 CEST, one second later", "2026-03-29T03:00+02:00", NIGHT),
    ("DST start: 08:59 CEST is still the night (06:59 UTC)", "2026-03-29T08:59+02:00", NIGHT),
    ("DST start: 09:00 CEST the night is over, Sunday: nobody", "2026-03-29T09:00+02:00", None),
    ("DST start: Monday 09:30 CEST is office hours (07:30 UTC)", "2026-03-30T09:30+02:00", OFFICE),
    ("DST start: Monday 08:30 CEST is night (06:30 UTC)", "2026-03-30T08:30+02:00", NIGHT),
    # Winter time returns Sunday 25 October 2026: 03:00 CEST becomes 02:00 CET, 02:xx happens twice.
    ("DST end: 02:30 CEST (the first time)", "2026-10-25T02:30+02:00", NIGHT),
    ("DST end: 02:30 CET (the second time)", "2026-10-25T02:30+01:00", NIGHT),
    ("DST end: 08:59 CET is still the night (07:59 UTC)", "2026-10-25T08:59+01:00", NIGHT),
    ("DST end: 09:00 CET the night is over, Sunday: nobody", "2026-10-25T09:00+01:00", None),
    ("DST end: Monday 09:00 CET is office hours (08:00 UTC)", "2026-10-26T09:00+01:00", OFFICE),
    ("DST end: Monday 08:30 CET is night (07:30 UTC)", "2026-10-26T08:30+01:00", NIGHT),
]


@pytest.mark.parametrize(("case", "instant", "expected"), AVAILABILITY_CASES, ids=[c[0] for c in AVAILABILITY_CASES])
def test_a_report_goes_to_the_partner_on_duty_at_that_local_hour(case: str, instant: str, expected: int | None) -> None:
    chosen = route(
        [OFFICE_HOURS, NIGHT_SHIFT], municipality=GM, area=BU, category=Category.VANDALISM, at=local(instant)
    )
    assert (chosen.id.int if chosen else None) == expected, case


@pytest.mark.parametrize(
    "instant",
    ["2026-03-29T01:59:59+01:00", "2026-03-29T03:00+02:00", "2026-03-29T03:59:59+02:00"],
)
def test_a_window_inside_the_hour_summer_time_skips_is_never_open_that_night(instant: str) -> None:
    skipped = partner(3, ((7, "02:00", "03:00"),))
    assert not skipped.available_at(local(instant))
    assert skipped.available_at(local("2026-04-05T02:30+02:00"))  # the next Sunday it is


# --- acknowledge-by ------------------------------------------------------------------------------

ACKNOWLEDGE_BY_CASES = [
    ("weekday office hours", "2026-12-01T10:00+01:00", 60, "2026-12-01T11:00+01:00"),
    ("weekday night", "2026-12-02T03:00+01:00", 240, "2026-12-02T07:00+01:00"),
    ("a day from Sunday noon, no pause for the weekend", "2026-11-29T12:00+01:00", 1440, "2026-11-30T12:00+01:00"),
    ("across midnight", "2026-12-01T23:45+01:00", 30, "2026-12-02T00:15+01:00"),
    ("across the year and quarter boundary", "2026-12-31T23:50+01:00", 20, "2027-01-01T00:10+01:00"),
    (
        "DST start: eight hours from Saturday 22:00 is 07:00 CEST",
        "2026-03-28T22:00+01:00",
        480,
        "2026-03-29T07:00+02:00",
    ),
    ("DST start: an hour from 01:30 CET is 03:30 CEST", "2026-03-29T01:30+01:00", 60, "2026-03-29T03:30+02:00"),
    ("DST start: a day from Saturday noon is 13:00 CEST", "2026-03-28T12:00+01:00", 1440, "2026-03-29T13:00+02:00"),
    ("DST end: an hour from 02:30 CEST is 02:30 CET", "2026-10-25T02:30+02:00", 60, "2026-10-25T02:30+01:00"),
    ("DST end: eight hours from Saturday 22:00 is 05:00 CET", "2026-10-24T22:00+02:00", 480, "2026-10-25T05:00+01:00"),
    ("DST end: a day from Saturday noon is 11:00 CET", "2026-10-24T12:00+02:00", 1440, "2026-10-25T11:00+01:00"),
]


def new_signal(at: datetime, urgency: Urgency = Urgency.NORMAL) -> Signal:
    report = Report(GM, BU, Category.VANDALISM.value, urgency.value, "Bushokje vernield", "app")
    return Signal.report(
        id=uuid4(), reference="SIG-2026-000001", report=report, reporter="resident-1", at=at, routed_partner_id=None
    )


def escalated(at: datetime, minutes: int, urgency: Urgency = Urgency.NORMAL) -> tuple[Signal, Partner]:
    cop = partner(9, minutes=minutes)
    signal = new_signal(at, urgency)
    signal.escalate(cop, at=at, actor="coordinator")
    return signal, cop


@pytest.mark.parametrize(
    ("case", "escalated_at", "minutes", "deadline"), ACKNOWLEDGE_BY_CASES, ids=[c[0] for c in ACKNOWLEDGE_BY_CASES]
)
def test_acknowledge_by_is_the_agreed_minutes_of_real_time_after_escalation(
    case: str, escalated_at: str, minutes: int, deadline: str
) -> None:
    signal, _ = escalated(local(escalated_at), minutes)
    assert signal.acknowledge_by == local(deadline), case
    event = signal.pending[-1][1]
    assert isinstance(event, SignalEscalated) and event.acknowledge_by == local(deadline), case


def test_an_acute_signal_escalated_just_before_summer_time_is_due_ten_real_minutes_later() -> None:
    cop = replace(partner(9), acknowledge_within_by_urgency={Urgency.ACUTE: 10})
    at = local("2026-03-29T01:55+01:00")
    signal = new_signal(at, Urgency.ACUTE)
    signal.escalate(cop, at=at, actor=None, automatic=True)
    assert signal.acknowledge_by == local("2026-03-29T03:05+02:00")


# --- overdue -------------------------------------------------------------------------------------

OVERDUE_CASES = [
    # (case, escalated at, minutes, a moment that is not yet overdue, the deadline)
    ("weekday office hours", "2026-12-01T10:00+01:00", 60, "2026-12-01T10:59:59+01:00", "2026-12-01T11:00+01:00"),
    ("weekday night", "2026-12-02T03:00+01:00", 240, "2026-12-02T06:30+01:00", "2026-12-02T07:00+01:00"),
    ("Saturday night into Sunday", "2026-11-28T22:00+01:00", 720, "2026-11-29T09:59+01:00", "2026-11-29T10:00+01:00"),
    ("across midnight", "2026-12-01T23:45+01:00", 30, "2026-12-02T00:14+01:00", "2026-12-02T00:15+01:00"),
    ("across the quarter boundary", "2026-06-30T23:50+02:00", 20, "2026-07-01T00:09+02:00", "2026-07-01T00:10+02:00"),
    # 03:15 CEST looks 1h45 after 01:30 CET, but only 45 minutes have passed.
    ("DST start", "2026-03-29T01:30+01:00", 60, "2026-03-29T03:15+02:00", "2026-03-29T03:30+02:00"),
    # 02:45 CEST comes before 02:30 CET: the hour 02:00-03:00 happens twice.
    ("DST end", "2026-10-25T02:30+02:00", 60, "2026-10-25T02:45+02:00", "2026-10-25T02:30+01:00"),
]


@pytest.mark.parametrize(
    ("case", "escalated_at", "minutes", "not_yet", "deadline"), OVERDUE_CASES, ids=[c[0] for c in OVERDUE_CASES]
)
def test_a_signal_is_overdue_only_after_its_acknowledge_by_has_passed(
    case: str, escalated_at: str, minutes: int, not_yet: str, deadline: str
) -> None:
    signal, cop = escalated(local(escalated_at), minutes)
    assert signal.acknowledge_by == local(deadline), case
    for moment in (local(not_yet), local(deadline)):
        assert not signal.is_overdue(moment), f"{case}: overdue at {moment}"
        assert not signal.mark_overdue(at=moment), f"{case}: reported overdue at {moment}"
    late = local(deadline) + timedelta(seconds=1)
    assert signal.is_overdue(late), case
    assert signal.mark_overdue(at=late), case
    _, event = signal.pending[-1]
    assert isinstance(event, SignalOverdue)
    assert (event.partner_id, event.acknowledge_by) == (cop.id, local(deadline))
    assert signal.history[-1].action == "overdue" and signal.history[-1].at == late


def test_an_acknowledgement_in_time_means_never_overdue() -> None:
    signal, cop = escalated(local("2026-11-29T23:30+01:00"), 60)  # Sunday night
    signal.acknowledge(str(cop.id), at=local("2026-11-30T00:29+01:00"), actor="agent", message=None)
    a_week_later = local("2026-12-06T23:30+01:00")
    assert not signal.is_overdue(a_week_later)
    assert not signal.mark_overdue(at=a_week_later)


def test_escalating_again_after_a_reopening_sets_a_new_deadline_that_is_missed_once_again() -> None:
    signal, cop = escalated(local("2026-10-24T22:00+02:00"), 60)
    assert signal.mark_overdue(at=local("2026-10-24T23:01+02:00"))
    signal.resolve(str(cop.id), at=local("2026-10-25T01:00+02:00"), actor="agent", feedback="Klaar")
    signal.reopen(at=local("2026-10-25T02:10+01:00"), actor="resident-1", reason="Nog steeds")
    signal.escalate(cop, at=local("2026-10-25T02:20+01:00"), actor="coordinator")
    assert signal.acknowledge_by == local("2026-10-25T03:20+01:00")
    assert not signal.mark_overdue(at=local("2026-10-25T03:20+01:00"))
    assert signal.mark_overdue(at=local("2026-10-25T03:21+01:00"))
    assert not signal.mark_overdue(at=local("2026-10-25T09:00+01:00"))
    assert [type(e).__name__ for _, e in signal.pending].count("SignalOverdue") == 2


# --- the reopen window ---------------------------------------------------------------------------

REOPEN_CASES = [
    # (case, resolved at, reopened at, allowed)
    ("weekday: 13 days later", "2026-12-01T10:00+01:00", "2026-12-14T10:00+01:00", True),
    ("weekday: 15 days later", "2026-12-01T10:00+01:00", "2026-12-16T10:00+01:00", False),
    ("Sunday night: exactly 14 days later", "2026-11-29T23:30+01:00", "2026-12-13T23:30+01:00", True),
    ("Sunday night: after midnight is too late", "2026-11-29T23:30+01:00", "2026-12-14T00:00+01:00", False),
    ("across the year boundary", "2026-12-20T15:00+01:00", "2027-01-02T15:00+01:00", True),
    ("across the quarter boundary, too late", "2026-09-20T15:00+02:00", "2026-10-04T15:00:01+02:00", False),
    # 14 days are 14 x 24 hours: across the start of summer time they end at 13:00 by the clock.
    ("DST start: 12:30 CEST on day 14 is still in time", "2026-03-21T12:00+01:00", "2026-04-04T12:30+02:00", True),
    ("DST start: 13:00 CEST on day 14 is the end", "2026-03-21T12:00+01:00", "2026-04-04T13:00+02:00", True),
    ("DST start: 13:00:01 CEST on day 14 is too late", "2026-03-21T12:00+01:00", "2026-04-04T13:00:01+02:00", False),
    # ... and across the end of summer time at 11:00 by the clock.
    ("DST end: 11:00 CET on day 14 is the end", "2026-10-17T12:00+02:00", "2026-10-31T11:00+01:00", True),
    ("DST end: 11:30 CET on day 14 is too late", "2026-10-17T12:00+02:00", "2026-10-31T11:30+01:00", False),
    ("resolved on the DST-end night", "2026-10-25T02:30+02:00", "2026-11-08T01:30+01:00", True),
    ("resolved on the DST-end night, an hour later", "2026-10-25T02:30+02:00", "2026-11-08T02:30+01:00", False),
]


@pytest.mark.parametrize(
    ("case", "resolved_at", "reopened_at", "allowed"), REOPEN_CASES, ids=[c[0] for c in REOPEN_CASES]
)
def test_a_resolved_signal_can_be_reopened_within_14_days_of_real_time(
    case: str, resolved_at: str, reopened_at: str, allowed: bool
) -> None:
    resolved = local(resolved_at)
    signal, cop = escalated(resolved - timedelta(hours=1), 60)
    signal.resolve(str(cop.id), at=resolved, actor="agent", feedback="Opgelost")
    if allowed:
        signal.reopen(at=local(reopened_at), actor="resident-1", reason="Nog steeds")
        assert signal.status == Status.REOPENED, case
        assert signal.history[-1].at == local(reopened_at)
    else:
        with pytest.raises(SignalRuleBroken, match="more than 14 days after resolution"):
            signal.reopen(at=local(reopened_at), actor="resident-1", reason="Nog steeds")
        assert signal.status == Status.RESOLVED, case
