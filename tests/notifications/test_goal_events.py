"""Who hears the goals service's decisions and reviews, and the question a duplicate's reporter is
spared, over the real PostgreSQL and Kafka: webhooks to receivers on 127.0.0.1 that verify every
signature, e-mail to a real SMTP server, and the proposer's address read from an endpoint that
answers as the goals service does (`GET /internal/v1/goal-proposals/{id}/contact`, service token),
the reporters' from one that answers as signals does (`duplicate` on a merged duplicate's)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import orjson

from shared.events.catalog import AreaReviewed, GoalProposalDecided, SignalAcknowledged, SignalReactionRequested
from shared.events.codes import Category, PartnerKind, ProposalDecision, SignalStatus, Urgency
from shared.events.envelope import CloudEvent
from tests.notifications.support import AREA, GM, InternalPeers, Running, running, smtp_server
from tests.notifications.test_neighbourhood import only_codes, partners
from tests.support import Infra

WK, BU, OTHER_WK = "WK047913", "BU04791310", "WK047912"
QUARTER = "2026-Q4"


async def settled(svc: Running, event: CloudEvent, count: int) -> list[dict[str, Any]]:
    """Barrier: the event's `count` deliveries are all delivered (planned in one transaction, a
    delivered one never sent again): what the receivers and the mailbox hold now is final for it."""
    await svc.wait_for_status("delivered", count=count, eventId=str(event.id))
    listed = await svc.deliveries(eventId=str(event.id))
    assert len(listed) == count, listed
    return listed


def decided(proposal_id: Any, decision: ProposalDecision) -> GoalProposalDecided:
    return GoalProposalDecided(
        proposal_id=proposal_id,
        goal_id=uuid4() if decision == ProposalDecision.ADOPTED else None,
        municipality=GM,
        area=BU,
        year=2027,
        decision=decision,
        decided_at=datetime.now(UTC),
    )


async def test_the_proposer_hears_a_decision_by_mail_read_at_send_time_and_nobody_else_hears_it(
    infra: Infra,
) -> None:
    peers = InternalPeers()
    with smtp_server() as (mailbox, port):
        async with (
            running(infra, peers, smtp_port=port) as svc,
            partners(svc, peers, (PartnerKind.MUNICIPALITY, [GM], "wijkteam@zaanstad.example")) as (town,),
        ):
            proposal_id = uuid4()
            peers.proposers[str(proposal_id)] = "voorsteller@example.org"
            event = await svc.events.send(decided(proposal_id, ProposalDecision.DECLINED), source="goals")
            [delivery] = await settled(svc, event, 1)
            assert (delivery["target"], delivery["channel"]) == ("proposer", "email")
            assert delivery["partnerId"] is None
            [(rcpt, mail)] = mailbox.messages
            assert rcpt == ["voorsteller@example.org"]
            assert mail["Subject"] == "Er is een besluit over uw voorstel"
            content = mail.get_content()
            assert f"https://gateway.example.nl/v1/goal-proposals/{proposal_id}" in content
            # nothing of the decision itself: neither what nor why
            assert not any(word in content.lower() for word in ("afgewezen", "declined", "aangenomen", "adopted"))
            assert ("notifications", f"/internal/v1/goal-proposals/{proposal_id}/contact") in peers.calls
            assert town.receiver.received == []
            # the address is read at send time and kept nowhere
            assert "voorsteller" not in orjson.dumps(await svc.deliveries()).decode()
            stored = await svc.db.fetchval("SELECT count(*) FROM deliveries WHERE data::text LIKE '%voorsteller%'")
            assert stored == 0


async def test_a_proposer_without_an_address_is_not_mailed(infra: Infra) -> None:
    peers = InternalPeers()
    with smtp_server() as (mailbox, port):
        async with running(infra, peers, smtp_port=port) as svc:
            proposal_id = uuid4()
            peers.proposers[str(proposal_id)] = None
            event = await svc.events.send(decided(proposal_id, ProposalDecision.ADOPTED), source="goals")
            [delivery] = await settled(svc, event, 1)
            assert delivery["target"] == "proposer"
            assert mailbox.messages == []
            assert ("notifications", f"/internal/v1/goal-proposals/{proposal_id}/contact") in peers.calls


async def test_the_participants_of_a_held_review_hear_it_by_webhook_and_mail_with_ids_only(infra: Infra) -> None:
    peers = InternalPeers()
    with smtp_server() as (mailbox, port):
        async with (
            running(infra, peers, smtp_port=port) as svc,
            partners(
                svc,
                peers,
                (PartnerKind.POLICE, [WK], "wijkagent@example.org"),
                (PartnerKind.WHATSAPP_GROUP, [BU], None),
                (PartnerKind.YOUTH_WORK, [WK], "jongerenwerk@example.org"),  # concerns the area, not a participant
                (PartnerKind.HOUSING_CORPORATION, [OTHER_WK], None),  # another district
            ) as (police, group, youth, elsewhere),
        ):
            review_id = f"{WK}/{QUARTER}"
            reviewed = AreaReviewed(
                review_id=review_id,
                municipality=GM,
                area=WK,
                quarter=QUARTER,
                partner_ids=[police.id, group.id],
                held_at=datetime.now(UTC),
            )
            event = await svc.events.send(reviewed, source="goals")
            listed = await settled(svc, event, 3)
            assert sorted((d["target"], d["channel"]) for d in listed) == sorted(
                [(str(police.id), "webhook"), (str(police.id), "email"), (str(group.id), "webhook")]
            )
            for participant in (police, group):
                [got] = participant.receiver.received
                body = got.event
                assert body["type"] == "nl.wijkaanpak.area.reviewed"
                assert body["subject"] == review_id
                assert body["dataref"] == f"https://gateway.example.nl/v1/reviews/{WK}/{QUARTER}"
                assert body["data"] == {
                    "reviewId": review_id,
                    "municipality": GM,
                    "area": WK,
                    "quarter": QUARTER,
                    "partnerIds": [str(police.id), str(group.id)],
                }
                only_codes(participant.receiver)
            assert youth.receiver.received == [] and elsewhere.receiver.received == []
            [(rcpt, mail)] = mailbox.messages
            assert rcpt == ["wijkagent@example.org"]
            assert mail["Subject"] == f"Kwartaalbespreking {QUARTER} voor {WK} vastgelegd"
            assert f"https://gateway.example.nl/v1/reviews/{WK}/{QUARTER}" in mail.get_content()


def _signal(signal_id: Any, status: SignalStatus) -> dict[str, Any]:
    return {
        "signal_id": signal_id,
        "reference": "SIG-2026-000500",
        "municipality": GM,
        "area": AREA,
        "category": Category.LITTER_DUMPING,
        "urgency": Urgency.NORMAL,
        "status": status,
    }


async def test_a_merged_duplicates_reporter_is_not_asked_the_question_but_hears_the_other_steps(
    infra: Infra,
) -> None:
    peers = InternalPeers()
    with smtp_server() as (mailbox, port):
        async with (
            running(infra, peers, smtp_port=port) as svc,
            partners(svc, peers, (PartnerKind.POLICE, [GM], None)) as (police,),
        ):
            signal_id, now = uuid4(), datetime.now(UTC)
            peers.contacts[str(signal_id)] = [
                {"reporter": "resident-own", "email": "eigen@example.org", "duplicate": False},
                {"reporter": "resident-dup", "email": "dubbel@example.org", "duplicate": True},
            ]
            asked = SignalReactionRequested(
                **_signal(signal_id, SignalStatus.REACTION_REQUESTED),
                partner_id=police.id,
                asked_at=now,
                returns_to=SignalStatus.ESCALATED,
            )
            event = await svc.events.send(asked)
            [delivery] = await settled(svc, event, 1)
            assert delivery["target"] == "reporter"
            assert [(rcpt, m["Subject"]) for rcpt, m in mailbox.messages] == [
                (["eigen@example.org"], "Een vraag over uw melding SIG-2026-000500")
            ]
            acknowledged = SignalAcknowledged(
                **_signal(signal_id, SignalStatus.ACKNOWLEDGED), partner_id=police.id, acknowledged_at=now
            )
            event = await svc.events.send(acknowledged, sequence=2)
            await settled(svc, event, 1)
            assert sorted(rcpt[0] for rcpt, m in mailbox.messages[1:]) == ["dubbel@example.org", "eigen@example.org"]
