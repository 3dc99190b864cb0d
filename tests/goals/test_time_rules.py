"""Quarters, the quarter whose review is due, and which quarters may be reviewed, at pinned
instants (pure domain, no I/O).

A quarter is an Amsterdam quarter: it starts at local midnight, so in UTC it starts at 23:00 in
winter and 22:00 in summer, and the quarters holding the daylight-saving Sundays (29 March and
25 October 2026) are an hour shorter and longer. Every instant is written as Amsterdam
wall-clock time with the offset Amsterdam had then (checked).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.goals import domain
from services.goals.domain import GoalInput, IndicatorInput, Quarter, ReviewInput, review_due_quarter
from shared.clock import AMSTERDAM
from shared.errors import ValidationFailed

PARTNER = UUID("00000000-0000-4000-8000-000000000001")


def local(text: str) -> datetime:
    """An Amsterdam wall-clock time with its offset written out; an offset Amsterdam did not
    have at that moment fails here, so no case silently tests another instant."""
    at = datetime.fromisoformat(text)
    assert at.utcoffset() is not None and at.utcoffset() == at.astimezone(AMSTERDAM).utcoffset(), text
    return at


INSTANTS = [
    # (case, instant, the quarter it is in, the quarter whose review is due then)
    ("weekday office hours", "2026-05-13T11:00+02:00", "2026-Q2", "2026-Q1"),
    ("weekday night", "2026-11-18T03:00+01:00", "2026-Q4", "2026-Q3"),
    ("a Sunday", "2026-08-16T12:00+02:00", "2026-Q3", "2026-Q2"),
    ("the last second of Q1", "2026-03-31T23:59:59+02:00", "2026-Q1", "2025-Q4"),
    ("midnight into Q2", "2026-04-01T00:00+02:00", "2026-Q2", "2026-Q1"),
    ("the last second of Q2", "2026-06-30T23:59:59+02:00", "2026-Q2", "2026-Q1"),
    ("midnight into Q3", "2026-07-01T00:00+02:00", "2026-Q3", "2026-Q2"),
    ("the last second of Q3", "2026-09-30T23:59:59+02:00", "2026-Q3", "2026-Q2"),
    ("midnight into Q4", "2026-10-01T00:00+02:00", "2026-Q4", "2026-Q3"),
    ("the last second of the year", "2026-12-31T23:59:59+01:00", "2026-Q4", "2026-Q3"),
    ("midnight into the new year", "2027-01-01T00:00+01:00", "2027-Q1", "2026-Q4"),
    ("DST start: 01:59:59 CET", "2026-03-29T01:59:59+01:00", "2026-Q1", "2025-Q4"),
    ("DST start: 03:00 CEST", "2026-03-29T03:00+02:00", "2026-Q1", "2025-Q4"),
    ("DST end: 02:30 CEST (the first time)", "2026-10-25T02:30+02:00", "2026-Q4", "2026-Q3"),
    ("DST end: 02:30 CET (the second time)", "2026-10-25T02:30+01:00", "2026-Q4", "2026-Q3"),
]


@pytest.mark.parametrize(("case", "instant", "quarter", "due"), INSTANTS, ids=[c[0] for c in INSTANTS])
def test_the_quarter_and_the_review_due_follow_the_amsterdam_calendar(
    case: str, instant: str, quarter: str, due: str
) -> None:
    at = local(instant)
    assert str(Quarter.of(at)) == quarter, case
    assert str(Quarter.of(at.astimezone(UTC))) == quarter, f"{case}: the same instant in UTC"
    assert str(review_due_quarter(at)) == due, case


@pytest.mark.parametrize(
    ("quarter", "starts", "length"),
    [
        ("2026-Q1", "2026-01-01T00:00+01:00", timedelta(days=90, hours=-1)),  # summer time starts: 23 hours short
        ("2026-Q2", "2026-04-01T00:00+02:00", timedelta(days=91)),
        ("2026-Q3", "2026-07-01T00:00+02:00", timedelta(days=92)),
        ("2026-Q4", "2026-10-01T00:00+02:00", timedelta(days=92, hours=1)),  # winter time returns: a 25-hour day
    ],
)
def test_a_quarter_runs_from_local_midnight_to_local_midnight(quarter: str, starts: str, length: timedelta) -> None:
    q = Quarter.parse(quarter)
    assert q.starts_at == local(starts)
    assert q.ends_at - q.starts_at == length


quarters = st.builds(Quarter, st.integers(2000, 2100), st.integers(1, 4))


@given(quarters)
def test_a_review_falls_due_at_the_first_instant_after_the_quarter_and_not_a_microsecond_earlier(q: Quarter) -> None:
    assert review_due_quarter(q.ends_at) == q
    assert review_due_quarter(q.ends_at - timedelta(microseconds=1)) == q.previous()


# --- which quarters a review may be recorded for -------------------------------------------------


def goal_of(year: int) -> domain.Goal:
    raw = GoalInput(
        municipality="GM0479",
        area="WK047901",
        year=year,
        title="Minder jeugdoverlast",
        categories=["youth_nuisance"],
        indicators=[IndicatorInput("signal_count", 5, "decrease", "youth_nuisance", 9)],
        partner_ids=[str(PARTNER)],
    )
    return domain.new_goal(raw, goal_id=uuid4(), now=local("2026-02-01T12:00+01:00"), known_partners=[PARTNER])


REVIEWABLE = [
    # (case, now, quarter to review, allowed) for a goal of 2026
    ("interim review of Q3 on the last evening of Q3", "2026-09-30T23:59:59+02:00", "2026-Q3", True),
    ("Q4 cannot be reviewed before it starts", "2026-09-30T23:59:59+02:00", "2026-Q4", False),
    ("Q4 can, from local midnight", "2026-10-01T00:00+02:00", "2026-Q4", True),
    ("Q2 while summer time starts (still Q1)", "2026-03-29T03:00+02:00", "2026-Q2", False),
    ("Q1 while summer time starts", "2026-03-29T03:00+02:00", "2026-Q1", True),
    ("Q4 on the night winter time returns", "2026-10-25T02:30+01:00", "2026-Q4", True),
    ("Q4 of the goal's year, just after New Year", "2027-01-01T00:00+01:00", "2026-Q4", True),
    ("the new year's quarter is not the goal's year", "2027-01-01T00:00+01:00", "2027-Q1", False),
]


@pytest.mark.parametrize(("case", "now", "quarter", "allowed"), REVIEWABLE, ids=[c[0] for c in REVIEWABLE])
def test_a_review_is_for_the_current_or_a_past_quarter_of_the_goals_year(
    case: str, now: str, quarter: str, allowed: bool
) -> None:
    raw = ReviewInput(quarter, "on_track", "continue")
    if allowed:
        assert str(domain.validate_review(goal_of(2026), raw, local(now)).quarter) == quarter, case
    else:
        with pytest.raises(ValidationFailed) as caught:
            domain.validate_review(goal_of(2026), raw, local(now))
        assert {f.field for f in caught.value.fields} == {"quarter"}, case
