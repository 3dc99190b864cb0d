"""The gateway's pure rules, without servers."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from gateway import enums
from gateway.domain import (
    INTERNAL_MESSAGE,
    RateLimiter,
    TokenBucket,
    area_problem,
    area_within,
    problem_from_response,
)
from gateway.inputs import AvailabilityInput, RegisterPartnerInput, UpdatePartnerInput, to_rest
from shared.areas import FORM_RULE
from shared.events import codes, labels


def test_validation_problem_lists_every_invalid_field() -> None:
    body = {
        "status": 400,
        "code": "BAD_USER_INPUT",
        "detail": "area: not a CBS code; description: too long",
        "invalidParams": [{"name": "area", "reason": "not a CBS code"}, {"name": "description", "reason": "too long"}],
    }
    problem = problem_from_response(400, body)
    assert problem.extensions() == {
        "code": "BAD_USER_INPUT",
        "fields": [{"field": "area", "message": "not a CBS code"}, {"field": "description", "message": "too long"}],
    }


def test_status_codes_map_to_the_contract_codes() -> None:
    assert problem_from_response(401, {}).code == "UNAUTHENTICATED"
    assert problem_from_response(403, {"detail": "requires role coordinator"}).message == "requires role coordinator"
    assert problem_from_response(404, None).code == "NOT_FOUND"
    assert problem_from_response(409, {"detail": "a fourth active goal"}).code == "CONFLICT"
    assert problem_from_response(422, {"code": "BAD_USER_INPUT"}).code == "BAD_USER_INPUT"
    assert problem_from_response(429, {}).code == "RATE_LIMITED"


def test_server_errors_are_masked() -> None:
    problem = problem_from_response(500, {"detail": "asyncpg.exceptions.UndefinedTableError: relation signals"})
    assert (problem.code, problem.message) == ("INTERNAL", INTERNAL_MESSAGE)
    assert problem_from_response(418, {"detail": "teapot internals"}).message == INTERNAL_MESSAGE


def test_a_body_code_cannot_turn_an_error_into_another_class() -> None:
    assert problem_from_response(404, {"code": "CONFLICT"}).code == "NOT_FOUND"


@given(
    st.floats(min_value=0.5, max_value=50),
    st.integers(min_value=1, max_value=40),
    st.lists(st.floats(min_value=0, max_value=5), min_size=1, max_size=200),
)
def test_a_bucket_never_allows_more_than_burst_plus_refill(rate: float, burst: int, gaps: list[float]) -> None:
    bucket = TokenBucket(rate, float(burst), float(burst), 0.0)
    now, allowed = 0.0, 0
    for gap in gaps:
        now += gap
        allowed += bucket.take(now)
    assert allowed <= burst + rate * now + 1e-9


def test_a_caller_over_the_limit_is_refused_and_others_are_not() -> None:
    limiter = RateLimiter(rate=1.0, burst=3)
    assert [limiter.allow("a", 0.0) for _ in range(4)] == [True, True, True, False]
    assert limiter.allow("b", 0.0)
    assert limiter.allow("a", 1.0)


def test_the_limiter_forgets_the_least_recent_callers_beyond_its_size() -> None:
    limiter = RateLimiter(rate=0.001, burst=1, max_clients=2)
    assert limiter.allow("a", 0.0) and limiter.allow("b", 0.0) and limiter.allow("c", 0.0)
    assert limiter.allow("a", 0.0)  # forgotten, so a fresh bucket
    assert not limiter.allow("c", 0.0)


def test_a_neighbourhood_lies_within_its_district_and_municipality() -> None:
    assert area_within("BU04790101", "WK047901")
    assert area_within("BU04790101", "GM0479")
    assert area_within("WK047901", "GM0479")
    assert not area_within("BU04790201", "WK047901")
    assert not area_within("WK047901", "BU04790101")
    assert not area_within("BU03630101", "GM0479")


def test_enums_carry_the_design_codes() -> None:
    pairs = [
        (enums.SignalCategory, codes.Category),
        (enums.Urgency, codes.Urgency),
        (enums.SignalStatus, codes.SignalStatus),
        (enums.SignalSource, codes.SignalSource),
        (enums.PartnerKind, codes.PartnerKind),
        (enums.IndicatorKind, codes.IndicatorKind),
        (enums.Direction, codes.Direction),
        (enums.GoalStatus, codes.GoalStatus),
        (enums.Assessment, codes.Assessment),
        (enums.Decision, codes.Decision),
    ]
    for ours, design in pairs:
        assert {m.name: m.value for m in ours} == {m.name: m.value for m in design}
    assert set(labels.CATEGORY) == set(codes.Category)


def test_inputs_become_camel_case_bodies_with_lower_case_codes() -> None:
    body = to_rest(
        RegisterPartnerInput(
            name="Politie Zaanstad",
            kind=enums.PartnerKind.POLICE,
            municipalities=["GM0479"],
            areas=["GM0479"],
            categories=[enums.SignalCategory.YOUTH_NUISANCE],
            acknowledge_within_minutes=30,
            availability=[AvailabilityInput(weekday=1, from_="20:00", until="02:00")],
        )
    )
    assert body == {
        "name": "Politie Zaanstad",
        "kind": "police",
        "municipalities": ["GM0479"],
        "areas": ["GM0479"],
        "categories": ["youth_nuisance"],
        "acknowledgeWithinMinutes": 30,
        "autoEscalate": [],
        "availability": [{"weekday": 1, "from": "20:00", "until": "02:00"}],
        "priority": 0,
    }


def test_an_update_sends_only_what_was_given_and_explicit_nulls() -> None:
    assert to_rest(UpdatePartnerInput(priority=2, webhook_url=None)) == {"priority": 2, "webhookUrl": None}
    assert to_rest(datetime(2026, 12, 1, 20, 0, tzinfo=UTC)) == "2026-12-01T20:00:00+00:00"


def test_an_area_must_be_a_cbs_code_of_the_municipality() -> None:
    assert area_problem("WK047901", "GM0479") is None
    assert area_problem("BU04790101", "GM0479") is None
    assert area_problem("WK9999", "GM0479") == FORM_RULE
    assert area_problem("WK036301", "GM0479") == "does not lie in GM0479"
