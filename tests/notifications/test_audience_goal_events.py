"""Who hears a proposal's decision and a held area review, what their webhooks and mails say, and
which reporters a question reaches: pure, without I/O."""

from __future__ import annotations

from uuid import uuid4

from services.notifications import domain
from services.notifications.domain import Channel, PartnerChannels, Target
from shared.events.catalog import AreaReviewed, GoalProposalDecided
from shared.events.codes import PartnerKind

GM = "GM0479"
PROPOSER = Target(domain.PROPOSER, Channel.EMAIL, None)


def channels(kind: PartnerKind, *areas: str, email: bool = False) -> PartnerChannels:
    return PartnerChannels(
        partner_id=uuid4(),
        kind=kind,
        municipalities=(GM,),
        areas=areas or (GM,),
        active=True,
        webhook_url="https://partner.example/hook",
        email="partner@example.org" if email else None,
    )


def test_a_decision_reaches_only_the_proposer_and_both_events_are_handled() -> None:
    town = channels(PartnerKind.MUNICIPALITY, email=True)
    data = {"proposalId": str(uuid4()), "municipality": GM, "area": "BU04791310", "year": 2027, "decision": "declined"}
    assert domain.audience("goal.proposal_decided", data, [town]) == [PROPOSER]
    for event_type in ("goal.proposal_decided", "area.reviewed"):
        assert event_type in domain.HANDLED_EVENTS
    assert GoalProposalDecided in domain.Notifiable.__args__
    assert AreaReviewed in domain.Notifiable.__args__


def test_a_review_reaches_its_participants_on_every_channel_they_have_and_nobody_else() -> None:
    police = channels(PartnerKind.POLICE, "WK047913", email=True)
    group = channels(PartnerKind.WHATSAPP_GROUP, "BU04791310")
    bystander = channels(PartnerKind.YOUTH_WORK, "WK047913", email=True)
    data = {
        "reviewId": "WK047913/2026-Q4",
        "municipality": GM,
        "area": "WK047913",
        "quarter": "2026-Q4",
        "partnerIds": [str(police.partner_id), str(group.partner_id)],
    }
    targets = domain.audience("area.reviewed", data, [police, group, bystander])
    assert set(targets) == {
        Target(str(police.partner_id), Channel.WEBHOOK, police.partner_id),
        Target(str(police.partner_id), Channel.EMAIL, police.partner_id),
        Target(str(group.partner_id), Channel.WEBHOOK, group.partner_id),
    }


def test_webhooks_and_links_of_a_decision_and_a_review_carry_ids_and_codes_only() -> None:
    review = {
        "reviewId": "WK047913/2026-Q4",
        "municipality": GM,
        "area": "WK047913",
        "quarter": "2026-Q4",
        "partnerIds": ["p"],
        "heldAt": "2026-12-20T10:00:00Z",
    }
    assert domain.webhook_data("area.reviewed", review) == {k: v for k, v in review.items() if k != "heldAt"}
    assert (
        domain.dataref("https://gw/", "area.reviewed", "WK047913/2026-Q4") == "https://gw/v1/reviews/WK047913/2026-Q4"
    )
    assert domain.dataref("https://gw", "goal.proposal_decided", "p-1") == "https://gw/v1/goal-proposals/p-1"
    assert domain.dataref("https://gw", "goal.reviewed", "g-1") == "https://gw/v1/goals/g-1"
    decision = {"proposalId": "p-1", "goalId": None, "municipality": GM, "area": "BU1", "year": 2027}
    assert domain.webhook_data("goal.proposal_decided", decision | {"decision": "declined"}) == decision | {
        "decision": "declined"
    }


def test_the_mails_are_dutch_link_to_the_resource_and_never_say_the_decision() -> None:
    adopted = domain.proposer_mail(
        "goal.proposal_decided", {"area": "BU04791310", "year": 2027, "decision": "adopted"}, "L"
    )
    declined = domain.proposer_mail(
        "goal.proposal_decided", {"area": "BU04791310", "year": 2027, "decision": "declined"}, "L"
    )
    assert adopted == declined  # the mail says that, never what, was decided
    assert (
        adopted.subject == "Er is een besluit over uw voorstel" and "U leest het besluit in de app: L" in adopted.body
    )
    review = domain.partner_mail("area.reviewed", {"area": "WK047913", "quarter": "2026-Q4"}, "R")
    assert review.subject == "Kwartaalbespreking 2026-Q4 voor WK047913 vastgelegd"
    assert "R" in review.body


def test_a_question_reaches_only_the_signals_own_reporters_every_other_step_the_duplicates_too() -> None:
    assert domain.reporters_asked("signal.reaction_requested", duplicate=False)
    assert not domain.reporters_asked("signal.reaction_requested", duplicate=True)
    for step in domain.REPORTER_STEPS:
        if step != "signal.reaction_requested":
            assert domain.reporters_asked(step, duplicate=True)
