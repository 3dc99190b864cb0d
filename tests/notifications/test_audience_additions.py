"""Who hears the events of December 2026 (the neighbourhood, the loop back to reporters, partners
connecting to each other), what their webhooks say and their Dutch mails: pure, without I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import orjson

from services.notifications import domain
from services.notifications.domain import Channel, PartnerChannels, Target
from shared.events.catalog import (
    InitiativeStarted,
    InitiativeSupportPledged,
    MessagePosted,
    SignalMerged,
    SignalTransferred,
)
from shared.events.codes import (
    Category,
    InitiativeKind,
    InitiativeStatus,
    MessageKind,
    PartnerKind,
    SignalStatus,
    SupportKind,
    Urgency,
)

GM = "GM0479"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
REPORTERS = Target(domain.REPORTER, Channel.EMAIL, None)
LEADER = Target(domain.LEADER, Channel.EMAIL, None)


def channels(kind: PartnerKind, *areas: str, municipality: str = GM, email: bool = False) -> PartnerChannels:
    return PartnerChannels(
        partner_id=uuid4(),
        kind=kind,
        municipalities=(municipality,),
        areas=areas or (municipality,),
        active=True,
        webhook_url="https://partner.example/hook",
        email="partner@example.org" if email else None,
    )


def hook(p: PartnerChannels) -> Target:
    return Target(str(p.partner_id), Channel.WEBHOOK, p.partner_id)


def message(area: str) -> dict[str, object]:
    return {"messageId": str(uuid4()), "municipality": GM, "area": area, "kind": "warning", "partnerId": None}


def initiative(area: str, **extra: object) -> dict[str, object]:
    return {
        "initiativeId": str(uuid4()),
        "municipality": GM,
        "area": area,
        "kind": "cleanup",
        "status": "active",
        "pledgingPartnerIds": [],
        **extra,
    }


def signal(partner_id: UUID | None = None, **extra: object) -> dict[str, object]:
    return {
        "signalId": str(uuid4()),
        "reference": "SIG-2026-000042",
        "municipality": GM,
        "area": "BU04791310",
        "category": "youth_nuisance",
        "urgency": "normal",
        "status": "escalated",
        "partnerId": str(partner_id) if partner_id else None,
        **extra,
    }


def test_a_message_reaches_the_groups_whose_areas_lie_in_or_contain_its_area_and_nobody_else() -> None:
    in_buurt = channels(PartnerKind.WHATSAPP_GROUP, "BU04791310")
    whole_town = channels(PartnerKind.RESIDENT_GROUP, GM)
    other_wijk = channels(PartnerKind.WHATSAPP_GROUP, "WK047912")
    other_town = channels(PartnerKind.WHATSAPP_GROUP, "GM0453", municipality="GM0453")
    police = channels(PartnerKind.POLICE, "WK047913")
    everyone = [in_buurt, whole_town, other_wijk, other_town, police]
    for event_type in domain.MESSAGE_EVENTS:
        targets = domain.audience(event_type, message("WK047913"), everyone)
        assert targets == sorted([hook(in_buurt), hook(whole_town)])


def test_an_initiative_start_reaches_every_non_group_partner_concerned_and_never_a_group() -> None:
    youth = channels(PartnerKind.YOUTH_WORK, "WK047912")
    town = channels(PartnerKind.MUNICIPALITY, GM, email=True)
    buurt_police = channels(PartnerKind.POLICE, "BU04791201")
    elsewhere = channels(PartnerKind.HOUSING_CORPORATION, "WK047913")
    group = channels(PartnerKind.WHATSAPP_GROUP, "WK047912")
    targets = domain.audience(
        "initiative.started", initiative("WK047912"), [youth, town, buurt_police, elsewhere, group]
    )
    assert {t.partner_id for t in targets} == {youth.partner_id, town.partner_id, buurt_police.partner_id}
    assert Target(str(town.partner_id), Channel.EMAIL, town.partner_id) in targets
    assert all(t.target not in (domain.LEADER, domain.REPORTER) for t in targets)


def test_pledges_completion_and_stopping_reach_the_leader_and_the_pledging_partners() -> None:
    youth, town, bystander = (
        channels(k) for k in (PartnerKind.YOUTH_WORK, PartnerKind.MUNICIPALITY, PartnerKind.POLICE)
    )
    pledged = initiative("BU04791310", partnerId=str(youth.partner_id), pledgingPartnerIds=[str(town.partner_id)])
    assert domain.audience("initiative.support_pledged", pledged, [youth, town, bystander]) == [
        *sorted([hook(youth), hook(town)]),
        LEADER,
    ]
    done = initiative("BU04791310", pledgingPartnerIds=[str(youth.partner_id), str(town.partner_id)])
    for event_type in ("initiative.completed", "initiative.stopped"):
        assert domain.audience(event_type, done, [youth, town, bystander]) == [
            *sorted([hook(youth), hook(town)]),
            LEADER,
        ]
    assert domain.audience("initiative.completed", initiative("BU04791310"), [bystander]) == [LEADER]


def test_the_partners_of_an_initiative_are_named_so_deliveries_wait_for_them_but_not_those_found_by_area() -> None:
    youth, town = uuid4(), uuid4()
    facts = {"initiative_id": uuid4(), "municipality": GM, "area": "BU04791310", "kind": InitiativeKind.CLEANUP}
    pledged = InitiativeSupportPledged(
        **facts,
        status=InitiativeStatus.ACTIVE,
        pledging_partner_ids=[town, youth],
        pledge_id=uuid4(),
        partner_id=youth,
        support_kind=SupportKind.MATERIAL,
        pledged_at=NOW,
    )
    assert domain.named_partners(pledged) == [youth, town]
    started = InitiativeStarted(**facts, status=InitiativeStatus.ACTIVE, group_id=uuid4(), started_at=NOW)
    assert domain.named_partners(started) == []
    posted = MessagePosted(
        message_id=uuid4(), municipality=GM, area="WK047913", kind=MessageKind.WARNING, partner_id=youth, posted_at=NOW
    )
    assert domain.named_partners(posted) == []


def test_transfer_involvement_and_answers_reach_the_partner_they_concern() -> None:
    police, youth, group = (
        channels(PartnerKind.POLICE),
        channels(PartnerKind.YOUTH_WORK),
        channels(PartnerKind.WHATSAPP_GROUP),
    )
    everyone = [police, youth, group]
    transferred = signal(youth.partner_id, previousPartnerId=str(police.partner_id), groupId=str(group.partner_id))
    assert domain.audience("signal.transferred", transferred, everyone) == [hook(youth)]
    involved = signal(youth.partner_id, escalatedPartnerId=str(police.partner_id), groupId=str(group.partner_id))
    assert domain.audience("signal.partner_involved", involved, everyone) == [hook(youth)]
    assert domain.audience("signal.reaction_received", signal(police.partner_id), everyone) == [hook(police)]
    event = SignalTransferred(
        signal_id=uuid4(),
        reference="SIG-2026-000042",
        municipality=GM,
        area="BU04791310",
        category=Category.YOUTH_NUISANCE,
        urgency=Urgency.NORMAL,
        status=SignalStatus.ESCALATED,
        partner_id=youth.partner_id,
        previous_partner_id=police.partner_id,
        escalated_at=NOW,
        acknowledge_by=NOW + timedelta(hours=1),
        group_id=group.partner_id,
    )
    assert domain.named_partners(event) == [youth.partner_id]


def test_every_step_of_a_signal_reaches_its_reporters_and_its_group() -> None:
    police, group = channels(PartnerKind.POLICE), channels(PartnerKind.WHATSAPP_GROUP, email=True)
    everyone = [police, group]
    group_targets = sorted([hook(group), Target(str(group.partner_id), Channel.EMAIL, group.partner_id)])
    for event_type in ("signal.reaction_requested", "signal.acknowledged", "signal.resolved"):
        data = signal(police.partner_id, groupId=str(group.partner_id))
        assert domain.audience(event_type, data, everyone) == [*group_targets, REPORTERS]
    escalated = domain.audience("signal.escalated", signal(police.partner_id, groupId=str(group.partner_id)), everyone)
    assert escalated == [*sorted([hook(police), *group_targets]), REPORTERS]
    # merged, rejected and closed do not name the group: the signals read model does
    for event_type in ("signal.merged", "signal.rejected", "signal.closed"):
        data = signal(police.partner_id if event_type == "signal.closed" else None)
        without = domain.audience(event_type, data, everyone)
        with_group = domain.audience(event_type, data, everyone, signal_group=group.partner_id)
        partner = [hook(police)] if event_type == "signal.closed" else []
        assert without == [*partner, REPORTERS]
        assert with_group == [*sorted([*partner, *group_targets]), REPORTERS]
    merged = SignalMerged(
        signal_id=uuid4(),
        reference="SIG-2026-000043",
        municipality=GM,
        area="BU04791310",
        category=Category.YOUTH_NUISANCE,
        urgency=Urgency.NORMAL,
        status=SignalStatus.MERGED,
        duplicate_of=uuid4(),
        merged_at=NOW,
    )
    assert domain.named_partners(merged) == []
    assert domain.named_partners(merged, signal_group=group.partner_id) == [group.partner_id]


def test_the_new_webhooks_carry_ids_codes_and_statuses_and_never_a_text() -> None:
    texts = {"title": "Opruimen!", "body": "Zaterdag om tien", "note": "wij brengen", "reason": "regen"}
    posted = message("WK047913") | texts | {"postedAt": NOW.isoformat()}
    assert domain.webhook_data("neighbourhood.message_posted", posted) == {
        k: posted[k] for k in ("messageId", "municipality", "area", "kind", "partnerId")
    }
    started = initiative("BU04791310", asks=["material"], goalId=None, description="x", outcome="y") | texts
    assert set(domain.webhook_data("initiative.started", started)) == {
        "initiativeId",
        "municipality",
        "area",
        "kind",
        "status",
        "goalId",
        "asks",
    }
    partner = str(uuid4())
    pledged = initiative("BU04791310", partnerId=partner, supportKind="material") | texts
    data = domain.webhook_data("initiative.support_pledged", pledged)
    assert data["partnerId"] == partner and data["supportKind"] == "material"
    for event_type in ("initiative.completed", "initiative.stopped"):
        assert set(domain.webhook_data(event_type, started)) == {
            "initiativeId",
            "municipality",
            "area",
            "kind",
            "status",
            "goalId",
        }
    deadline = (NOW + timedelta(hours=1)).isoformat()
    transferred = signal(uuid4(), acknowledgeBy=deadline, reason="verkeerde partner", description="x")
    assert domain.webhook_data("signal.transferred", transferred) == {
        k: transferred[k]
        for k in ("signalId", "reference", "municipality", "area", "category", "urgency", "partnerId", "status")
    } | {"acknowledgeBy": deadline}
    original = str(uuid4())
    merged = domain.webhook_data("signal.merged", signal(duplicateOf=original, originalReference="SIG-2026-000001"))
    assert merged["duplicateOf"] == original and "originalReference" not in merged
    for event_type in ("signal.rejected", "signal.reaction_requested", "signal.partner_involved"):
        body = domain.webhook_data(event_type, signal(uuid4(), question="Waar precies?", rejectionReason="dubbel"))
        assert "question" not in body and "rejectionReason" not in body and body["status"] == "escalated"
    for event_type in (*domain.MESSAGE_EVENTS, "initiative.started"):
        ref = domain.dataref("https://gw.example", event_type, "abc")
        assert ref == f"https://gw.example/v1/{'messages' if 'message' in event_type else 'initiatives'}/abc"
    every = orjson.dumps(
        [domain.webhook_data(t, posted | started | pledged | transferred) for t in domain.HANDLED_EVENTS]
    ).decode()
    assert not any(text in every for text in texts.values())


def test_the_mails_of_the_new_steps_are_dutch_and_carry_no_more_than_codes_and_a_link() -> None:
    link = "https://gw.example/v1/signals/abc"
    merged = domain.reporter_mail("signal.merged", signal(originalReference="SIG-2026-000001"), link)
    assert merged.subject == "Uw melding SIG-2026-000042 is samengevoegd"
    assert "SIG-2026-000001" in merged.body and link in merged.body
    assert "een eerdere melding" in domain.reporter_mail("signal.merged", signal(), link).body
    subjects = {t: domain.reporter_mail(t, signal(), link).subject for t in domain.REPORTER_STEPS}
    assert subjects == {
        "signal.escalated": "Uw melding SIG-2026-000042 is doorgestuurd",
        "signal.merged": "Uw melding SIG-2026-000042 is samengevoegd",
        "signal.rejected": "Uw melding SIG-2026-000042 is niet in behandeling genomen",
        "signal.reaction_requested": "Een vraag over uw melding SIG-2026-000042",
        "signal.acknowledged": "Uw melding SIG-2026-000042 is in behandeling",
        "signal.resolved": "Uw melding SIG-2026-000042 is afgehandeld",
        "signal.closed": "Uw melding SIG-2026-000042 is gesloten",
    }
    assert "in de app" in domain.reporter_mail("signal.rejected", signal(), link).body
    for event_type in domain.REPORTER_STEPS:
        mail = domain.group_mail(event_type, signal(), link)
        assert "SIG-2026-000042" in mail.subject and link in mail.body
    pledged = domain.leader_mail("initiative.support_pledged", initiative("BU04791310", supportKind="material"), "L")
    assert pledged.subject == "Steun toegezegd voor uw initiatief" and "materiaal" in pledged.body
    assert (
        domain.leader_mail("initiative.completed", initiative("BU04791310"), "L").subject == "Uw initiatief is afgerond"
    )
    assert domain.leader_mail("initiative.stopped", initiative("BU04791310"), "L").subject == "Uw initiatief is gestopt"
    started = domain.partner_mail("initiative.started", initiative("WK047912", asks=["material", "permit"]), "L")
    assert started.subject == "Nieuw bewonersinitiatief in WK047912"
    assert "opruimactie" in started.body and "materiaal, vergunning" in started.body
    posted = domain.partner_mail("neighbourhood.message_posted", message("WK047913"), "L")
    assert posted.subject == "Nieuw buurtbericht voor WK047913 om te delen" and "waarschuwing" in posted.body
    for event_type in ("signal.transferred", "signal.partner_involved", "signal.reaction_received"):
        assert "SIG-2026-000042" in domain.partner_mail(event_type, signal(uuid4()), link).subject
