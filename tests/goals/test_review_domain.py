"""The review's and the new goal rules' pure domain: who concerns an area, which agreements a
quarter's review shows, the due-quarter window, scores, decisions, continuing, manual values."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest

from services.goals.domain import Goal, Indicator, Quarter, continue_goal
from services.goals.domain.area_reviews import (
    Agreement,
    PartnerInfo,
    check_agreement,
    check_score,
    review_quarter,
    shown_in,
)
from services.goals.domain.goals import check_manual_measurement
from shared.errors import FieldErrors, ValidationFailed
from shared.events.catalog import GoalSet
from shared.events.codes import Direction, GoalStatus, IndicatorKind, PartnerKind

NOW = datetime(2026, 11, 16, 10, 0, tzinfo=UTC)


def partner(*areas: str, kind: PartnerKind = PartnerKind.POLICE, active: bool = True) -> PartnerInfo:
    return PartnerInfo(uuid4(), "P", kind, ("GM0479",), areas, active)


@pytest.mark.parametrize(
    ("areas", "area", "concerns"),
    [
        (("GM0479",), "WK047912", True),  # covers it
        (("WK047912",), "BU04791210", True),
        (("BU04791210",), "WK047912", True),  # lies in it
        (("BU04791210",), "BU04791211", False),
        (("WK047913",), "WK047912", False),
        (("GM0363",), "WK047912", False),
    ],
)
def test_a_partner_concerns_an_area_its_areas_are_contain_or_lie_in(
    areas: tuple[str, ...], area: str, concerns: bool
) -> None:
    assert partner(*areas).concerns(area) is concerns


def agreement(made_in: str, status: str = "open", closed_in: str | None = None) -> Agreement:
    return Agreement(uuid4(), "GM0479", "WK047912", "t", uuid4(), made_in, made_in, status, closed_in, NOW, NOW)


def test_open_agreements_come_back_until_done_and_show_in_the_quarter_they_were_closed() -> None:
    q3, q4, q1 = Quarter(2026, 3), Quarter(2026, 4), Quarter(2027, 1)
    assert shown_in(agreement("2026-Q3"), q4) and shown_in(agreement("2026-Q3"), q1)
    assert not shown_in(agreement("2026-Q4"), q3)
    done_in_q4 = agreement("2026-Q3", "done", "2026-Q4")
    assert shown_in(done_in_q4, q3) and shown_in(done_in_q4, q4) and not shown_in(done_in_q4, q1)
    reopened = done_in_q4.with_status("open", NOW)
    assert reopened.closed_in is None and shown_in(reopened, q1)
    assert agreement("2026-Q4").with_status("dropped", NOW).closed_in == "2026-Q4"


@pytest.mark.parametrize(("due", "ok"), [("2026-Q3", False), ("2026-Q4", True), ("2028-Q4", True), ("2029-Q1", False)])
def test_an_agreement_is_due_from_its_quarter_up_to_eight_quarters_later(due: str, ok: bool) -> None:
    errors = FieldErrors()
    check_agreement(errors, Quarter(2026, 4), "Afspraak", partner("GM0479"), due, "GM0479")
    assert (not errors) is ok


def test_every_invalid_field_of_a_score_or_an_agreement_is_reported() -> None:
    errors = FieldErrors()
    me = partner("GM0479")
    check_score(errors, "WK047912", me, me, 0, "x" * 2001)
    assert [e.field for e in errors.items] == ["toPartnerId", "score", "comment"]
    errors = FieldErrors()
    check_agreement(errors, Quarter(2026, 4), " ", partner("GM0479", active=False), "later", "GM0479")
    assert [e.field for e in errors.items] == ["text", "ownerPartnerId", "dueQuarter"]
    errors = FieldErrors()
    assert review_quarter(errors, "2027-Q1", NOW) is None and [e.field for e in errors.items] == ["quarter"]


def goal(*indicators: Indicator) -> Goal:
    return Goal(
        uuid4(),
        "GM0479",
        "WK047912",
        2026,
        "Doel",
        None,
        None,
        [],
        list(indicators),
        [],
        GoalStatus.ACTIVE,
        None,
        3,
        NOW,
        NOW,
    )


def test_a_continued_goal_takes_its_last_values_as_baselines_in_the_next_year() -> None:
    count = Indicator(IndicatorKind.SIGNAL_COUNT, 5, Direction.DECREASE, None, 12)
    manual = Indicator(IndicatorKind.MANUAL, 7, Direction.INCREASE, None, 6)
    before = goal(count, manual)
    after = continue_goal(before, 2027, [8.0, None], goal_id=uuid4(), now=NOW)
    assert (after.year, after.version, after.status) == (2027, 1, GoalStatus.ACTIVE)
    assert [i.baseline for i in after.indicators] == [8.0, 6]
    [(version, event)] = after.pending
    assert version == 1 and isinstance(event, GoalSet) and event.continues_goal_id == before.id
    with pytest.raises(ValidationFailed):
        continue_goal(before, 2028, [None, None], goal_id=uuid4(), now=NOW)


def test_values_are_recorded_only_for_a_manual_indicator_in_a_quarter_that_has_begun() -> None:
    g = goal(
        Indicator(IndicatorKind.SIGNAL_COUNT, 5, Direction.DECREASE),
        Indicator(IndicatorKind.MANUAL, 7, Direction.INCREASE),
    )
    assert check_manual_measurement(g, 1, "2026-Q4", 6.8, "Buurtpeiling", NOW) == Quarter(2026, 4)
    with pytest.raises(ValidationFailed) as refused:
        check_manual_measurement(g, 0, "2027-Q1", float("nan"), "", NOW)
    assert [e.field for e in refused.value.fields] == ["indicator", "quarter", "value", "source"]
