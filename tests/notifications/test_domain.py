"""The notifications domain, without I/O: audience, webhook bodies, retries, templates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from hypothesis import given
from hypothesis import strategies as st

from services.notifications import domain
from services.notifications.domain import Channel, Outcome, PartnerChannels, Status, Target
from shared.events.catalog import SignalResolved
from shared.events.codes import Category, PartnerKind, SignalStatus, Urgency

GM = "GM0479"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def channels(
    kind: PartnerKind = PartnerKind.POLICE,
    *,
    webhook: bool = True,
    email: bool = False,
    active: bool = True,
    disabled: bool = False,
    areas: tuple[str, ...] = (GM,),
    municipalities: tuple[str, ...] = (GM,),
) -> PartnerChannels:
    return PartnerChannels(
        partner_id=uuid4(),
        kind=kind,
        municipalities=municipalities,
        areas=areas,
        active=active,
        webhook_url="https://partner.example/hook" if webhook else None,
        email="partner@example.org" if email else None,
        webhook_disabled=disabled,
    )


def signal_data(partner_id: UUID, **extra: object) -> dict[str, object]:
    return {
        "signalId": str(uuid4()),
        "reference": "SIG-2026-000001",
        "municipality": GM,
        "area": "BU04790101",
        "category": "litter_dumping",
        "urgency": "high",
        "status": "escalated",
        "partnerId": str(partner_id),
        "escalatedAt": NOW.isoformat(),
        "acknowledgeBy": (NOW + timedelta(hours=1)).isoformat(),
        "automatic": False,
        **extra,
    }


def test_an_escalation_is_heard_by_the_partner_it_went_to_on_each_of_its_channels_and_the_reporters() -> None:
    police, other = channels(email=True), channels()
    targets = domain.audience("signal.escalated", signal_data(police.partner_id), [police, other])
    own = str(police.partner_id)
    assert targets == [
        *sorted({Target(own, Channel.WEBHOOK, police.partner_id), Target(own, Channel.EMAIL, police.partner_id)}),
        Target(domain.REPORTER, Channel.EMAIL, None),
    ]


def test_overdue_also_reaches_the_coordinators_through_the_municipalitys_own_partners() -> None:
    police = channels()
    town = channels(PartnerKind.MUNICIPALITY)
    other_town = channels(PartnerKind.MUNICIPALITY, municipalities=("GM0453",))
    targets = domain.audience("signal.overdue", signal_data(police.partner_id), [police, town, other_town])
    assert {t.partner_id for t in targets} == {police.partner_id, town.partner_id}


def test_feedback_goes_to_the_reporters_and_the_whatsapp_group_of_the_signal() -> None:
    police, group = channels(), channels(PartnerKind.WHATSAPP_GROUP, email=True, webhook=False)
    data = signal_data(police.partner_id, groupId=str(group.partner_id))
    targets = domain.audience("signal.acknowledged", data, [police, group])
    assert targets == [
        Target(str(group.partner_id), Channel.EMAIL, group.partner_id),
        Target(domain.REPORTER, Channel.EMAIL, None),
    ]


def test_feedback_also_reaches_the_groups_of_the_merged_duplicates_and_each_group_once() -> None:
    police = channels()
    group, other_group, bystander = (channels(PartnerKind.WHATSAPP_GROUP) for _ in range(3))
    resident_group = channels(PartnerKind.RESIDENT_GROUP, webhook=False, email=True)
    duplicates = [str(other_group.partner_id), str(resident_group.partner_id), str(group.partner_id)]
    for event_type in ("signal.acknowledged", "signal.resolved"):
        data = signal_data(police.partner_id, groupId=str(group.partner_id), duplicateGroupIds=duplicates)
        targets = domain.audience(event_type, data, [police, group, other_group, resident_group, bystander])
        assert targets == [
            *sorted(
                {
                    Target(str(group.partner_id), Channel.WEBHOOK, group.partner_id),
                    Target(str(other_group.partner_id), Channel.WEBHOOK, other_group.partner_id),
                    Target(str(resident_group.partner_id), Channel.EMAIL, resident_group.partner_id),
                }
            ),
            Target(domain.REPORTER, Channel.EMAIL, None),
        ]


def test_the_groups_that_hear_feedback_are_named_so_deliveries_wait_for_them() -> None:
    police, group, other = uuid4(), uuid4(), uuid4()
    event = SignalResolved(
        signal_id=uuid4(),
        reference="SIG-2026-000001",
        municipality=GM,
        area="BU04790101",
        category=Category.BURGLARY,
        urgency=Urgency.NORMAL,
        status=SignalStatus.RESOLVED,
        partner_id=police,
        resolved_at=NOW,
        group_id=group,
        duplicate_group_ids=[other, group],
    )
    # the partner that resolved it hears nothing of its own resolution: only who hears is waited for
    assert domain.named_partners(event) == [group, other]


def test_a_review_due_reaches_the_coordinators_and_the_goals_partners() -> None:
    town, youth, unrelated = channels(PartnerKind.MUNICIPALITY), channels(PartnerKind.YOUTH_WORK), channels()
    data = {
        "goalId": str(uuid4()),
        "municipality": GM,
        "area": "WK047901",
        "year": 2026,
        "quarter": "2026-Q4",
        "partnerIds": [str(youth.partner_id)],
    }
    targets = domain.audience("goal.review_due", data, [town, youth, unrelated])
    assert {t.partner_id for t in targets} == {town.partner_id, youth.partner_id}


def test_a_review_reaches_the_goals_partners_and_the_resident_groups_of_its_area() -> None:
    youth = channels(PartnerKind.YOUTH_WORK)
    inside = channels(PartnerKind.RESIDENT_GROUP, areas=("BU04790101",))
    elsewhere = channels(PartnerKind.WHATSAPP_GROUP, areas=("WK047902",))
    data = {"goalId": str(uuid4()), "municipality": GM, "area": "WK047901", "year": 2026, "quarter": "2026-Q4"}
    targets = domain.audience(
        "goal.reviewed", data | {"partnerIds": [str(youth.partner_id)]}, [youth, inside, elsewhere]
    )
    assert {t.partner_id for t in targets} == {youth.partner_id, inside.partner_id}


def test_inactive_partners_and_disabled_webhooks_are_not_delivered_to() -> None:
    gone, inactive = channels(disabled=True, email=True), channels(active=False)
    reporters = Target(domain.REPORTER, Channel.EMAIL, None)
    assert domain.audience("signal.escalated", signal_data(gone.partner_id), [gone]) == [
        Target(str(gone.partner_id), Channel.EMAIL, gone.partner_id),
        reporters,
    ]
    assert domain.audience("signal.escalated", signal_data(inactive.partner_id), [inactive]) == [reporters]
    assert domain.audience("signal.overdue", signal_data(uuid4()), []) == []


def test_the_webhook_body_is_the_cloudevent_with_exactly_the_contracts_data() -> None:
    partner_id = uuid4()
    data = signal_data(partner_id, description="kapotte fiets", contactEmail="a@example.org")
    event_id = uuid4()
    body = domain.cloud_event(
        event_id=event_id,
        source="urn:nld:wijkaanpak:signals",
        event_type="signal.escalated",
        time=NOW,
        subject=str(data["signalId"]),
        data=data,
        public_base_url="https://gw.example/",
    )
    assert body["type"] == "nl.wijkaanpak.signal.escalated"
    assert body["time"] == "2026-12-01T12:00:00Z"
    assert body["dataref"] == f"https://gw.example/v1/signals/{data['signalId']}"
    assert set(body["data"]) == {
        "signalId",
        "reference",
        "municipality",
        "area",
        "category",
        "urgency",
        "partnerId",
        "acknowledgeBy",
    }
    resolved = domain.webhook_data("signal.resolved", data)
    assert "acknowledgeBy" not in resolved
    assert resolved["partnerId"] == str(partner_id)
    goal = domain.webhook_data(
        "goal.reviewed",
        {"goalId": "g", "municipality": GM, "area": "WK047901", "year": 2026, "quarter": "2026-Q4", "notes": "x"},
    )
    assert goal == {
        "goalId": "g",
        "municipality": GM,
        "area": "WK047901",
        "year": 2026,
        "quarter": "2026-Q4",
        "partnerIds": [],
    }
    assert domain.webhook_data("ping", {"partnerId": str(partner_id)}) == {"partnerId": str(partner_id)}
    assert domain.dataref("https://gw.example", "ping", str(partner_id)) is None


def test_the_default_schedule_retries_for_about_a_day() -> None:
    total = sum(domain.DEFAULT_RETRY_SCHEDULE)
    assert 22 * 3600 <= total <= 25 * 3600
    assert list(domain.DEFAULT_RETRY_SCHEDULE) == sorted(domain.DEFAULT_RETRY_SCHEDULE)


@given(
    st.lists(st.floats(min_value=0.01, max_value=1e5), min_size=1, max_size=12),
    st.integers(min_value=-2, max_value=15),
    st.floats(min_value=0, max_value=1),
)
def test_a_retry_waits_its_scheduled_time_within_the_jitter_or_not_at_all(
    schedule: list[float], attempt: int, rand: float
) -> None:
    delay = domain.retry_delay(attempt, schedule, lambda: rand)
    if 1 <= attempt <= len(schedule):
        assert delay is not None
        base = schedule[attempt - 1]
        assert base * (1 - domain.JITTER) - 1e-6 <= delay.total_seconds() <= base * (1 + domain.JITTER) + 1e-6
    else:
        assert delay is None


@given(st.integers(min_value=100, max_value=599), st.integers(min_value=1, max_value=12))
def test_an_answer_decides_what_comes_next(status_code: int, attempt: int) -> None:
    schedule = (1.0, 2.0, 3.0)
    state = domain.after_attempt(
        domain.classify_response(status_code), round_attempt=attempt, now=NOW, schedule=schedule, rand=lambda: 0.5
    )
    if 200 <= status_code < 300:
        assert state == domain.NextState(Status.DELIVERED, None)
    elif status_code == 410:
        assert state.status == Status.FAILED and state.disable_webhook
    elif attempt <= len(schedule):
        assert state.status == Status.RETRYING
        assert state.next_attempt_at == NOW + timedelta(seconds=schedule[attempt - 1])
    else:
        assert state == domain.NextState(Status.FAILED, None)


def test_a_refused_target_is_not_tried_again() -> None:
    state = domain.after_attempt(Outcome.REFUSED, round_attempt=1, now=NOW, schedule=(1.0,))
    assert state == domain.NextState(Status.FAILED, None)


def test_a_schedule_is_positive_seconds() -> None:
    assert domain.parse_schedule("5, 30,120") == (5.0, 30.0, 120.0)
    for bad in ("", "5,-1", "0"):
        try:
            domain.parse_schedule(bad)
        except ValueError:
            continue
        raise AssertionError(f"accepted {bad!r}")


@given(st.integers(min_value=1, max_value=10**6), st.integers(min_value=1, max_value=10**6))
def test_only_a_newer_partner_version_replaces_the_read_model(current: int, incoming: int) -> None:
    assert domain.channel_update_applies(current, incoming) == (incoming > current)
    assert domain.channel_update_applies(None, incoming)


def test_a_gone_webhook_stays_disabled_until_its_url_changes() -> None:
    assert domain.keeps_webhook_disabled(True, "https://a/x", "https://a/x")
    assert not domain.keeps_webhook_disabled(True, "https://a/x", "https://b/x")
    assert not domain.keeps_webhook_disabled(False, "https://a/x", "https://a/x")


def test_a_checked_address_is_connected_to_with_the_name_kept_for_tls_and_host() -> None:
    assert domain.pin_to_address("https://hooks.example.nl/in?x=1", "203.0.113.9") == (
        "https://203.0.113.9/in?x=1",
        "hooks.example.nl",
        "hooks.example.nl",
    )
    assert domain.pin_to_address("https://hooks.example.nl:8443", "2001:db8::1") == (
        "https://[2001:db8::1]:8443/",
        "hooks.example.nl:8443",
        "hooks.example.nl",
    )


def test_mails_are_dutch_and_carry_no_more_than_codes_and_a_link() -> None:
    data = signal_data(uuid4(), description="geheime omschrijving")
    partner = domain.partner_mail("signal.escalated", data, "https://gw/v1/signals/1")
    assert partner.subject == "Nieuwe melding SIG-2026-000001 voor uw organisatie"
    assert "afval en dumping" in partner.body and "https://gw/v1/signals/1" in partner.body
    reporter = domain.reporter_mail("signal.resolved", data, "https://gw/v1/signals/1")
    assert reporter.subject == "Uw melding SIG-2026-000001 is afgehandeld"
    for mail in (partner, reporter):
        assert "geheime" not in mail.body
    for event_type in (
        "signal.overdue",
        "signal.reopened",
        "signal.closed",
        "goal.review_due",
        "goal.reviewed",
        "ping",
    ):
        assert domain.partner_mail(event_type, data | {"quarter": "2026-Q4", "year": 2026}, None).subject
