"""The goals domain without I/O: quarters, statistics, indicators, validation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.goals import domain
from services.goals.domain import (
    Goal,
    GoalChanges,
    GoalInput,
    Indicator,
    IndicatorInput,
    Quarter,
    QuarterStats,
    ReviewInput,
    median,
    p90,
)
from shared.errors import Conflict, ValidationFailed
from shared.events.codes import Category, Direction, GoalStatus, IndicatorKind

NOW = datetime(2026, 11, 15, 12, 0, tzinfo=UTC)
PARTNER = UUID("00000000-0000-4000-8000-000000000001")


def fields(exc: ValidationFailed) -> set[str]:
    return {f.field for f in exc.fields}


# --- quarters ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("instant", "quarter"),
    [
        ("2026-12-31T23:30:00+00:00", "2027-Q1"),  # already 00:30 on 1 January in Amsterdam
        ("2026-12-31T22:59:59+00:00", "2026-Q4"),
        ("2026-12-31T23:00:00+00:00", "2027-Q1"),
        ("2026-03-31T21:59:59+00:00", "2026-Q1"),  # summer time: UTC+2 from 29 March
        ("2026-03-31T22:00:00+00:00", "2026-Q2"),
        ("2026-09-30T22:30:00+00:00", "2026-Q4"),
        ("2026-10-01T00:30:00+02:00", "2026-Q4"),
        ("2026-01-01T00:00:00+01:00", "2026-Q1"),
        ("2025-12-31T23:59:59+01:00", "2025-Q4"),
        ("2026-07-01T03:00:00+09:00", "2026-Q2"),  # Tokyo morning is still June in Amsterdam
    ],
)
def test_quarter_of_an_instant_is_taken_in_amsterdam(instant: str, quarter: str) -> None:
    assert str(Quarter.of(datetime.fromisoformat(instant))) == quarter


def test_quarters_step_across_years() -> None:
    assert Quarter.parse("2027-Q1").previous() == Quarter(2026, 4)
    assert Quarter.parse("2026-Q4").next() == Quarter(2027, 1)
    assert Quarter(2026, 2).starts_at == datetime(2026, 3, 31, 22, 0, tzinfo=UTC)
    assert Quarter(2026, 4).ends_at == datetime(2026, 12, 31, 23, 0, tzinfo=UTC)
    assert [str(q) for q in Quarter.of_year(2026)] == ["2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4"]
    assert Quarter(2026, 3).label == "K3 2026"


@pytest.mark.parametrize("text", ["2026-Q5", "2026-Q0", "26-Q1", "2026Q1", "2026-q1", "", "2026-Q1 "])
def test_malformed_quarters_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        Quarter.parse(text)


def test_naive_time_has_no_quarter() -> None:
    with pytest.raises(ValueError):
        Quarter.of(datetime(2026, 1, 1))


quarters = st.builds(Quarter, st.integers(1990, 2100), st.integers(1, 4))


@given(quarters)
def test_every_quarter_round_trips_through_text_and_neighbours(q: Quarter) -> None:
    assert Quarter.parse(str(q)) == q
    assert q.next().previous() == q
    assert q.previous() < q < q.next()
    assert q.ends_at == q.next().starts_at


@given(quarters, st.floats(0, 1, exclude_max=True))
def test_every_instant_inside_a_quarter_belongs_to_it(q: Quarter, fraction: float) -> None:
    span = (q.ends_at - q.starts_at) // timedelta(microseconds=1)
    offset = min(int(span * fraction), span - 1)
    assert Quarter.of(q.starts_at + timedelta(microseconds=offset)) == q
    assert Quarter.of(q.ends_at - timedelta(microseconds=1)) == q
    assert Quarter.of(q.ends_at) == q.next()


# --- statistics ----------------------------------------------------------------------------------


def test_median_and_p90_of_acknowledge_minutes() -> None:
    assert median([]) is None and p90([]) is None
    assert median([7]) == 7 and p90([7]) == 7
    assert median([30, 10, 20]) == 20
    assert median([10, 20, 30, 40]) == 25
    assert p90(list(range(1, 11))) == 9  # nearest rank: the 9th of 10
    assert p90(list(range(1, 12))) == 10
    assert p90([5, 1000]) == 1000


@given(st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1))
def test_median_and_p90_lie_within_the_measured_values(values: list[float]) -> None:
    m, p = median(values), p90(values)
    assert m is not None and p is not None
    assert min(values) <= m <= max(values)
    assert m <= p <= max(values)
    assert p in values


def test_quarter_stats_give_the_indicator_values() -> None:
    stats = QuarterStats(signals=4, resolved=3, acknowledge_minutes=(30.0, 90.0, 60.0))
    assert stats.resolved_share == 0.75
    assert stats.median_acknowledge_minutes == 60
    assert QuarterStats().resolved_share is None
    assert Indicator(IndicatorKind.SIGNAL_COUNT, 2, Direction.DECREASE).value(QuarterStats()) == 0


def test_acknowledge_minutes_run_from_escalation() -> None:
    start = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)
    assert domain.acknowledge_minutes(start, start + timedelta(minutes=42, seconds=30)) == 42.5


# --- on track ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("direction", "target", "value", "on_track"),
    [
        (Direction.DECREASE, 10, 9, True),
        (Direction.DECREASE, 10, 10, True),
        (Direction.DECREASE, 10, 11, False),
        (Direction.INCREASE, 0.8, 0.9, True),
        (Direction.INCREASE, 0.8, 0.8, True),
        (Direction.INCREASE, 0.8, 0.7, False),
        (Direction.INCREASE, 0.8, None, None),
    ],
)
def test_on_track_means_at_or_beyond_the_target_in_its_direction(
    direction: Direction, target: float, value: float | None, on_track: bool | None
) -> None:
    assert Indicator(IndicatorKind.RESOLVED_SHARE, target, direction).on_track(value) is on_track


def test_measurement_compares_with_the_previous_quarter() -> None:
    indicator = Indicator(IndicatorKind.SIGNAL_COUNT, 5, Direction.DECREASE, Category.LITTER_DUMPING, 12)
    m = domain.measure(indicator, QuarterStats(signals=4), QuarterStats(signals=9))
    assert m.as_json() == {
        "indicator": {
            "kind": "signal_count",
            "category": "litter_dumping",
            "baseline": 12,
            "target": 5,
            "direction": "decrease",
        },
        "value": 4,
        "previous": 9,
        "onTrack": True,
        "partial": False,
    }


def test_an_indicator_without_category_measures_the_goals_categories() -> None:
    indicator = Indicator(IndicatorKind.RESOLVED_SHARE, 0.9, Direction.INCREASE)
    assert indicator.categories([Category.VANDALISM]) == [Category.VANDALISM]
    assert indicator.categories([]) == []


# --- goal input ----------------------------------------------------------------------------------


def goal_input(**overrides: object) -> GoalInput:
    values: dict[str, object] = {
        "municipality": "GM0479",
        "area": "WK047901",
        "year": 2026,
        "title": "Een schone buurt",
        "categories": ["litter_dumping"],
        "indicators": [IndicatorInput("signal_count", 10, "decrease", "litter_dumping", 20)],
        "partner_ids": [str(PARTNER)],
    }
    values.update(overrides)
    return GoalInput(**values)  # type: ignore[arg-type]


def test_a_valid_goal_is_active_with_its_indicators() -> None:
    goal = domain.new_goal(goal_input(), goal_id=uuid4(), now=NOW, known_partners=[PARTNER])
    assert goal.status is GoalStatus.ACTIVE
    assert goal.indicators[0].category is Category.LITTER_DUMPING
    assert goal.partner_ids == [PARTNER]
    assert goal.version == 1


def test_every_bad_goal_field_is_reported_at_once() -> None:
    raw = goal_input(
        area="WK036301",
        year=2029,
        title=" ",
        categories=["litter", "vandalism"],
        indicators=[
            IndicatorInput("signal_count", 10, "decrease"),
            IndicatorInput("resolved_share", 0.8, "increase", None, 0.8),
            IndicatorInput("happiness", 1, "sideways"),
        ],
        partner_ids=["not-a-uuid", str(uuid4())],
    )
    with pytest.raises(ValidationFailed) as caught:
        domain.new_goal(raw, goal_id=uuid4(), now=NOW, known_partners=[PARTNER])
    assert fields(caught.value) == {
        "area",
        "year",
        "title",
        "categories.0",
        "indicators.0.category",
        "indicators.1.target",
        "indicators.2.kind",
        "indicators.2.direction",
        "partnerIds.0",
        "partnerIds.1",
    }


@pytest.mark.parametrize(("year", "ok"), [(2025, True), (2026, True), (2027, True), (2024, False), (2028, False)])
def test_goal_year_is_last_this_or_next_year(year: int, ok: bool) -> None:
    if ok:
        domain.new_goal(goal_input(year=year), goal_id=uuid4(), now=NOW, known_partners=[PARTNER])
    else:
        with pytest.raises(ValidationFailed) as caught:
            domain.new_goal(goal_input(year=year), goal_id=uuid4(), now=NOW, known_partners=[PARTNER])
        assert fields(caught.value) == {"year"}


@pytest.mark.parametrize("area", ["GM0479", "BU0479010", "WK04790", "BU03630101", "wk047901"])
def test_goal_area_is_a_district_or_neighbourhood_of_the_municipality(area: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        domain.new_goal(goal_input(area=area), goal_id=uuid4(), now=NOW, known_partners=[PARTNER])
    assert fields(caught.value) == {"area"}


def test_fourth_active_goal_is_a_conflict() -> None:
    domain.check_room_for_active_goal(2, "WK047901", 2026)
    with pytest.raises(Conflict, match="already has 3 active goals for 2026"):
        domain.check_room_for_active_goal(3, "WK047901", 2026)


def sample_goal(**overrides: object) -> Goal:
    goal = domain.new_goal(goal_input(), goal_id=uuid4(), now=NOW, known_partners=[PARTNER])
    return Goal(**{**goal.__dict__, **overrides})


def test_changing_a_goal_bumps_its_version_and_keeps_what_is_not_given() -> None:
    goal = sample_goal()
    changed = domain.change_goal(
        goal, GoalChanges(title="Nog schoner", status="dropped", description=""), now=NOW, known_partners=[]
    )
    assert changed.title == "Nog schoner"
    assert changed.status is GoalStatus.DROPPED
    assert changed.description is None
    assert changed.indicators == goal.indicators
    assert changed.version == goal.version + 1
    assert domain.reactivates(
        changed, domain.change_goal(changed, GoalChanges(status="active"), now=NOW, known_partners=[])
    )


# --- reviews -------------------------------------------------------------------------------------


def test_a_review_of_the_current_quarter_with_scores_is_accepted() -> None:
    decision = domain.validate_review(
        sample_goal(),
        ReviewInput("2026-Q4", "on_track", "continue", [domain.CooperationInput(str(PARTNER), 4)], "goed"),
        NOW,
    )
    assert str(decision.quarter) == "2026-Q4"
    assert decision.cooperation == [(PARTNER, 4)]


def test_every_bad_review_field_is_reported_at_once() -> None:
    with pytest.raises(ValidationFailed) as caught:
        domain.validate_review(
            sample_goal(),
            ReviewInput(
                "2026-4",
                "fine",
                "continue",
                [domain.CooperationInput(str(PARTNER), 6), domain.CooperationInput(str(uuid4()), 3)],
            ),
            NOW,
        )
    assert fields(caught.value) == {"quarter", "assessment", "cooperation.0.score", "cooperation.1.partnerId"}


@pytest.mark.parametrize(
    ("quarter", "ok"), [("2026-Q1", True), ("2026-Q4", True), ("2027-Q1", False), ("2025-Q4", False)]
)
def test_review_quarter_is_the_current_or_a_past_quarter_of_the_goals_year(quarter: str, ok: bool) -> None:
    raw = ReviewInput(quarter, "at_risk", "adjust")
    if ok:
        domain.validate_review(sample_goal(), raw, NOW)
    else:
        with pytest.raises(ValidationFailed):
            domain.validate_review(sample_goal(), raw, NOW)


def test_review_due_is_for_the_quarter_that_ended_last() -> None:
    assert str(domain.review_due_quarter(datetime(2026, 12, 31, 23, 30, tzinfo=UTC))) == "2026-Q4"
    assert str(domain.review_due_quarter(datetime(2026, 12, 31, 22, 30, tzinfo=UTC))) == "2026-Q3"


texts = st.one_of(st.none(), st.text(max_size=20), st.just("x" * 4001))
codes = st.sampled_from(["signal_count", "resolved_share", "median_acknowledge_minutes", "litter_dumping", "x", ""])
indicator_inputs = st.builds(
    IndicatorInput,
    kind=codes,
    target=st.floats(allow_nan=True, allow_infinity=True),
    direction=st.sampled_from(["increase", "decrease", "up"]),
    category=st.one_of(st.none(), codes),
    baseline=st.one_of(st.none(), st.floats()),
)


@given(
    st.builds(
        GoalInput,
        municipality=st.just("GM0479"),
        area=st.sampled_from(["WK047901", "BU04790101", "GM0479", "WK036301", "", "BU0479010x"]),
        year=st.integers(-10, 5000),
        title=st.one_of(st.text(max_size=20), st.just("t" * 201)),
        description=texts,
        theme=texts,
        categories=st.lists(codes, max_size=4),
        indicators=st.lists(indicator_inputs, max_size=4),
        partner_ids=st.lists(st.one_of(st.just(str(PARTNER)), st.text(max_size=40)), max_size=3),
    )
)
def test_any_goal_input_is_a_goal_or_field_errors(raw: GoalInput) -> None:
    try:
        goal = domain.new_goal(raw, goal_id=uuid4(), now=NOW, known_partners=[PARTNER])
    except ValidationFailed as exc:
        assert exc.fields and all(f.message for f in exc.fields)
    else:
        assert goal.title.strip() and goal.status is GoalStatus.ACTIVE
        assert all(i.target != i.baseline for i in goal.indicators)
