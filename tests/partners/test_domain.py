"""The partner rules without I/O: area codes, availability windows, validation, versions, secrets."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.partners import domain
from services.partners.domain import Changes, Registration, UrlRules
from shared import areas
from shared.errors import FieldErrors, ValidationFailed
from shared.events.catalog import PartnerDeactivated, PartnerRegistered, PartnerUpdated
from shared.events.codes import Category, Urgency

NOW = datetime(2026, 12, 1, 20, 0, tzinfo=UTC)
RULES = UrlRules()
digits = st.text(alphabet="0123456789", min_size=1, max_size=1)
clock = st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.integers(0, 59))


def draft(**overrides: Any) -> Registration:
    values: dict[str, Any] = {
        "name": "Wijkagenten Zaandam-Zuid",
        "kind": "police",
        "municipalities": ["GM0479"],
        "areas": ["WK047901", "BU04790101"],
        "categories": ["burglary", "drugs_nuisance"],
        "auto_escalate": ["burglary"],
        "acknowledge_within_minutes": 60,
        "acknowledge_within_minutes_by_urgency": {"acute": 15},
        "availability": [(5, "20:00", "02:00")],
        "priority": 2,
        "webhook_url": "https://politie.example.nl/hooks",
        "email": "wijkagenten@politie.example.nl",
    }
    values.update(overrides)
    return Registration(**values)


def register(**overrides: Any) -> domain.Partner:
    return domain.check_registration(draft(**overrides), partner_id=uuid4(), at=NOW, rules=RULES)


def invalid_fields(**overrides: Any) -> dict[str, str]:
    with pytest.raises(ValidationFailed) as caught:
        register(**overrides)
    return {f.field: f.message for f in caught.value.fields}


json_text = st.text(max_size=12)
json_int = st.integers(-(10**7), 10**7)


@given(
    name=json_text,
    kind=json_text,
    municipalities=st.lists(st.sampled_from(["GM0479", "GM0363", "GM47", ""]) | json_text, max_size=3),
    areas=st.lists(st.sampled_from(["GM0479", "WK047901", "BU04790101", "BU03630101"]) | json_text, max_size=4),
    categories=st.lists(st.sampled_from([c.value for c in Category]) | json_text, max_size=4),
    auto=st.lists(st.sampled_from([c.value for c in Category]) | json_text, max_size=3),
    minutes=json_int,
    by_urgency=st.dictionaries(st.sampled_from([u.value for u in Urgency]) | json_text, json_int, max_size=3),
    windows=st.lists(st.tuples(json_int, clock | json_text, clock | json_text), max_size=3),
    priority=json_int,
    url=st.none() | st.sampled_from(["https://93.184.215.14/h", "http://x", "https://[::1", "ftp://a"]) | json_text,
    email=st.none() | st.sampled_from(["a@b.nl", "nope"]) | json_text,
)
def test_any_registration_the_api_can_send_is_either_a_partner_or_a_list_of_field_errors(
    name: str,
    kind: str,
    municipalities: list[str],
    areas: list[str],
    categories: list[str],
    auto: list[str],
    minutes: int,
    by_urgency: dict[str, int],
    windows: list[tuple[int, str, str]],
    priority: int,
    url: str | None,
    email: str | None,
) -> None:
    candidate = Registration(
        name, kind, municipalities, areas, categories, auto, minutes, by_urgency, windows, priority, url, email
    )
    try:
        partner = domain.check_registration(candidate, partner_id=uuid4(), at=NOW, rules=RULES)
    except ValidationFailed as exc:
        assert exc.fields and all(f.field and f.message for f in exc.fields)
    else:
        assert partner.version == 1
        assert all(domain.area_problem(a, partner.municipalities) is None for a in partner.areas)
        assert set(partner.auto_escalate) <= set(partner.categories)
        assert partner.acknowledge_within_minutes > 0


# --- areas -----------------------------------------------------------------------------------


@pytest.mark.parametrize("area", ["GM0479", "WK047901", "BU04790101"])
def test_gm_wk_and_bu_codes_of_the_partners_municipality_are_coverage_areas(area: str) -> None:
    assert domain.area_problem(area, ["GM0479"]) is None


@pytest.mark.parametrize(
    ("area", "why"),
    [
        ("BU03630101", "start with the digits"),
        ("WK036301", "start with the digits"),
        ("GM0363", "not one of the partner's municipalities"),
        ("BU0479010", "CBS code"),
        ("WK04790", "CBS code"),
        ("bu04790101", "CBS code"),
        ("GM479", "CBS code"),
        ("BU04790101 ", "CBS code"),
        ("", "CBS code"),
    ],
)
def test_malformed_or_foreign_area_codes_are_refused(area: str, why: str) -> None:
    problem = domain.area_problem(area, ["GM0479"])
    assert problem is not None and why in problem


def test_an_area_may_lie_in_any_of_the_partners_municipalities() -> None:
    assert domain.area_problem("BU03630101", ["GM0479", "GM0363"]) is None


@given(st.lists(digits, min_size=4, max_size=4), st.lists(digits, min_size=4, max_size=4))
def test_every_bu_of_a_municipality_is_accepted_and_lies_in_its_wk_and_gm(gm: list[str], rest: list[str]) -> None:
    municipality = "GM" + "".join(gm)
    bu = "BU" + "".join(gm) + "".join(rest)
    assert domain.area_problem(bu, [municipality]) is None
    assert domain.enclosing_areas(bu) == [bu, "WK" + "".join(gm) + "".join(rest[:2]), municipality]
    assert areas.parse(bu).municipality == municipality


@given(st.lists(digits, min_size=8, max_size=8), st.lists(digits, min_size=4, max_size=4))
def test_a_bu_is_accepted_only_for_the_municipality_it_starts_with(bu_digits: list[str], gm: list[str]) -> None:
    bu, municipality = "BU" + "".join(bu_digits), "GM" + "".join(gm)
    accepted = domain.area_problem(bu, [municipality]) is None
    assert accepted == (bu_digits[:4] == gm)


def test_a_partner_covering_a_district_covers_its_neighbourhoods_but_not_the_others() -> None:
    partner = register(areas=["WK047901"])
    assert partner.covers("BU04790101")
    assert partner.covers("WK047901")
    assert not partner.covers("BU04790201")
    assert not partner.covers("GM0479")


# --- availability ----------------------------------------------------------------------------


def test_a_window_crossing_midnight_is_valid() -> None:
    assert domain.window_problems(5, "20:00", "02:00") == {}
    assert domain.Window(5, "20:00", "02:00").crosses_midnight
    assert not domain.Window(1, "15:00", "23:00").crosses_midnight


@pytest.mark.parametrize(
    ("window", "fields"),
    [
        ((1, "15:00", "15:00"), {"until"}),
        ((0, "15:00", "23:00"), {"weekday"}),
        ((8, "15:00", "23:00"), {"weekday"}),
        ((True, "15:00", "23:00"), {"weekday"}),
        ((1, "24:00", "02:00"), {"from"}),
        ((1, "7:00", "09:00"), {"from"}),
        ((1, "07:00", "09:60"), {"until"}),
        ((1, "noon", "late"), {"from", "until"}),
    ],
)
def test_invalid_windows_name_the_offending_fields(window: tuple[Any, Any, Any], fields: set[str]) -> None:
    assert set(domain.window_problems(*window)) == fields


@given(st.integers(1, 7), clock, clock)
def test_any_two_different_clock_times_make_a_window(weekday: int, start: str, until: str) -> None:
    problems = domain.window_problems(weekday, start, until)
    assert (problems == {}) == (start != until)


# --- registration ----------------------------------------------------------------------------


def test_a_valid_registration_is_version_one_and_active() -> None:
    partner = register()
    assert partner.version == 1 and partner.active
    assert partner.categories == (Category.BURGLARY, Category.DRUGS_NUISANCE)
    assert partner.acknowledge_within_minutes_by_urgency == {Urgency.ACUTE: 15}
    assert partner.availability == (domain.Window(5, "20:00", "02:00"),)


def test_every_invalid_field_is_reported_at_once() -> None:
    fields = invalid_fields(
        name=" ",
        kind="bakery",
        areas=["BU03630101", "XX12"],
        categories=["burglary", "graffiti"],
        auto_escalate=["noise_nuisance"],
        acknowledge_within_minutes=-5,
        acknowledge_within_minutes_by_urgency={"acute": 0, "whenever": 10},
        availability=[(1, "15:00", "15:00"), (9, "25:00", "02:00")],
        priority="high",
        webhook_url="http://politie.example.nl/hooks",
        email="not an address",
    )
    assert set(fields) == {
        "name",
        "kind",
        "areas.0",
        "areas.1",
        "categories.1",
        "autoEscalate",
        "acknowledgeWithinMinutes",
        "acknowledgeWithinMinutesByUrgency.acute",
        "acknowledgeWithinMinutesByUrgency.whenever",
        "availability.0.until",
        "availability.1.weekday",
        "availability.1.from",
        "priority",
        "webhookUrl",
        "email",
    }


def test_municipalities_must_be_gm_codes_and_are_required() -> None:
    assert "municipalities" in invalid_fields(municipalities=[], areas=["GM0479"])
    assert "municipalities.0" in invalid_fields(municipalities=["Zaanstad"], areas=["GM0479"])


def test_a_partner_needs_at_least_one_area_and_category() -> None:
    fields = invalid_fields(areas=[], categories=[], auto_escalate=[])
    assert {"areas", "categories"} <= set(fields)


@pytest.mark.parametrize("minutes", [0, -1, 1.5, True, None, "60"])
def test_acknowledge_minutes_must_be_a_positive_whole_number(minutes: Any) -> None:
    assert "acknowledgeWithinMinutes" in invalid_fields(acknowledge_within_minutes=minutes)


@pytest.mark.parametrize("kind", ["whatsapp_group", "resident_group"])
def test_a_group_needs_no_categories_and_no_acknowledgement_time(kind: str) -> None:
    group = register(kind=kind, categories=[], auto_escalate=[], acknowledge_within_minutes=None)
    assert group.categories == ()
    assert group.acknowledge_within_minutes == domain.GROUP_ACKNOWLEDGE_MINUTES
    assert domain.facts(group, PartnerRegistered).acknowledge_within_minutes == domain.GROUP_ACKNOWLEDGE_MINUTES
    agreed = register(kind=kind, categories=[], auto_escalate=[], acknowledge_within_minutes=30)
    assert agreed.acknowledge_within_minutes == 30
    narrowed = domain.apply_changes(group, Changes({"categories": []}), rules=RULES)
    assert narrowed.categories == ()


@pytest.mark.parametrize("kind", ["police", "municipality", "youth_work", "housing_corporation", "care", "other"])
def test_every_other_kind_must_agree_an_acknowledgement_time_and_handle_a_category(kind: str) -> None:
    fields = invalid_fields(kind=kind, categories=[], auto_escalate=[], acknowledge_within_minutes=None)
    assert set(fields) == {"categories", "acknowledgeWithinMinutes"}
    police = register(kind=kind)
    with pytest.raises(ValidationFailed):
        domain.apply_changes(police, Changes({"categories": []}), rules=RULES)


def test_duplicate_areas_and_categories_are_kept_once() -> None:
    partner = register(areas=["WK047901", "WK047901"], categories=["burglary", "burglary"])
    assert partner.areas == ("WK047901",)
    assert partner.categories == (Category.BURGLARY,)


@pytest.mark.parametrize(
    ("url", "rules", "accepted"),
    [
        ("https://politie.example.nl/hooks", RULES, True),
        ("http://politie.example.nl/hooks", RULES, False),
        ("ftp://politie.example.nl/hooks", RULES, False),
        ("https://user:pw@politie.example.nl/hooks", RULES, False),
        ("https:///hooks", RULES, False),
        ("http://127.0.0.1:9000/hooks", UrlRules(("127.0.0.1",), True), True),
        ("http://127.0.0.1:9000/hooks", UrlRules(("127.0.0.1",), False), False),
        ("http://10.0.0.1:9000/hooks", UrlRules(("127.0.0.1",), True), False),
    ],
)
def test_webhook_url_form_https_unless_allow_listed(url: str, rules: UrlRules, accepted: bool) -> None:
    errors = FieldErrors()
    domain.check_url_form(errors, url, rules)
    assert (not errors) == accepted


# --- changes ---------------------------------------------------------------------------------


def test_a_change_raises_the_version_and_a_change_to_nothing_does_not() -> None:
    partner = register()
    changed = domain.apply_changes(partner, Changes({"priority": 5}), rules=RULES)
    assert changed.version == 2 and changed.priority == 5
    same = domain.apply_changes(changed, Changes({"priority": 5, "name": changed.name}), rules=RULES)
    assert same is changed


def test_narrowing_categories_narrows_auto_escalation() -> None:
    partner = register(categories=["burglary", "drugs_nuisance"], auto_escalate=["burglary"])
    changed = domain.apply_changes(partner, Changes({"categories": ["drugs_nuisance"]}), rules=RULES)
    assert changed.auto_escalate == ()


def test_a_change_is_checked_like_a_registration() -> None:
    partner = register()
    with pytest.raises(ValidationFailed) as caught:
        domain.apply_changes(
            partner, Changes({"areas": ["BU03630101"], "autoEscalate": ["vandalism"], "name": ""}), rules=RULES
        )
    assert {f.field for f in caught.value.fields} == {"areas.0", "autoEscalate", "name"}


def test_kind_and_municipalities_cannot_change() -> None:
    with pytest.raises(ValidationFailed) as caught:
        domain.apply_changes(register(), Changes({"kind": "care", "municipalities": ["GM0363"]}), rules=RULES)
    assert {f.field for f in caught.value.fields} == {"kind", "municipalities"}


def test_removing_a_channel_with_null() -> None:
    partner = register()
    changed = domain.apply_changes(partner, Changes({"webhookUrl": None, "email": None}), rules=RULES)
    assert changed.webhook_url is None and changed.email is None


def test_events_name_what_happened() -> None:
    partner = register()
    assert isinstance(domain.event_for_change(None, partner), PartnerRegistered)
    inactive = domain.apply_changes(partner, Changes({"active": False}), rules=RULES)
    assert isinstance(domain.event_for_change(partner, inactive), PartnerDeactivated)
    again = domain.apply_changes(inactive, Changes({"active": True}), rules=RULES)
    assert isinstance(domain.event_for_change(inactive, again), PartnerUpdated)
    assert again.version == 3


def test_deactivating_twice_changes_nothing_the_second_time() -> None:
    inactive = domain.deactivate(register())
    assert not inactive.active and inactive.version == 2
    assert domain.deactivate(inactive) is inactive


def test_event_facts_carry_the_whole_routing_state_and_no_secret() -> None:
    partner = register()
    data = domain.facts(partner, PartnerRegistered).model_dump(mode="json", by_alias=True)
    assert data["partnerId"] == str(partner.id)
    assert data["autoEscalate"] == ["burglary"]
    assert data["acknowledgeWithinMinutesByUrgency"] == {"acute": 15}
    assert data["availability"] == [{"weekday": 5, "from": "20:00", "until": "02:00"}]
    assert data["version"] == 1
    assert "whsec_" not in str(data)


def test_names_are_compared_without_case_and_extra_spaces() -> None:
    assert domain.name_key("  Jongerenwerk   Poelenburg ") == domain.name_key("jongerenwerk poelenburg")


# --- secrets and contacts --------------------------------------------------------------------


def test_webhook_secrets_are_whsec_and_32_random_bytes() -> None:
    first, second = domain.new_webhook_secret(), domain.new_webhook_secret()
    assert first.startswith("whsec_") and first != second
    assert len(base64.b64decode(first.removeprefix("whsec_"), validate=True)) == 32


def test_a_contact_needs_name_role_and_an_address() -> None:
    with pytest.raises(ValidationFailed) as caught:
        domain.check_contact(uuid4(), {"name": "", "role": " ", "email": "nope"}, contact_id=uuid4(), at=NOW)
    assert {f.field for f in caught.value.fields} == {"name", "role", "email"}
    contact = domain.check_contact(
        uuid4(), {"name": " Fatima ", "role": "beheerder", "email": "f@example.nl"}, contact_id=uuid4(), at=NOW
    )
    assert contact.name == "Fatima"
