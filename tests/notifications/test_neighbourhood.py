"""Who hears the neighbourhood's events (messages, initiatives) over the real PostgreSQL and
Kafka: webhooks to receivers on 127.0.0.1 that verify every signature, e-mail to a real SMTP
server, and the initiative leader's address read from an endpoint that answers as the
neighbourhoods service does (`GET /v1/initiatives/{id}/leader-contact`, service token)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import orjson

from shared.events.catalog import (
    InitiativeCompleted,
    InitiativeStarted,
    InitiativeStopped,
    InitiativeSupportPledged,
    MessagePosted,
    MessageWithdrawn,
    PartnerRegistered,
)
from shared.events.codes import InitiativeKind, InitiativeStatus, MessageKind, PartnerKind, SupportKind
from tests.notifications.support import (
    GM,
    InternalPeers,
    Receiver,
    Running,
    http_server,
    new_secret,
    partner,
    running,
    smtp_server,
)
from tests.support import Infra

WK, BU, OTHER_WK = "WK047913", "BU04791310", "WK047912"
TEXTS = ("Opruimen", "zaterdag", "@")  # what a title, body or address would contain


@dataclass
class Hooked:
    """A partner registered with a webhook to its own verifying receiver."""

    facts: PartnerRegistered
    receiver: Receiver

    @property
    def id(self) -> UUID:
        return self.facts.partner_id


@contextlib.asynccontextmanager
async def partners(
    svc: Running, peers: InternalPeers, *wanted: tuple[PartnerKind, list[str], str | None]
) -> AsyncIterator[list[Hooked]]:
    """Partners (kind, areas, e-mail) with a webhook each, in the service's read model."""
    async with contextlib.AsyncExitStack() as stack:
        made: list[Hooked] = []
        for kind, areas, email in wanted:
            secret = new_secret()
            receiver = Receiver([secret])
            url = await stack.enter_async_context(http_server(receiver))
            facts = partner(kind=kind, areas=areas, webhook_url=f"{url}/hook", email=email)
            peers.secrets[str(facts.partner_id)] = [secret]
            await svc.events.send(facts, source="partners")
            made.append(Hooked(facts, receiver))
        await svc.db.wait_for_partners(*(h.id for h in made))
        yield made


async def settled(svc: Running, subject: UUID, count: int) -> list[dict[str, Any]]:
    """Barrier: the event's `count` deliveries are all delivered. They are planned in one
    transaction, so no other delivery of the event can still appear, and a delivered one is
    never sent again: what the receivers and the mailbox hold now is final for it."""
    await svc.wait_for_status("delivered", count=count, signalId=str(subject))
    listed = await svc.deliveries(signalId=str(subject))
    assert len(listed) == count, listed
    return listed


def only_codes(received: Receiver) -> None:
    for r in received.received:
        assert all(r.valid_for), "every webhook is signed with the partner's secret"
        assert not any(text in r.body.decode() for text in TEXTS)


async def test_a_message_reaches_the_groups_of_its_area_to_share_and_nobody_else(infra: Infra) -> None:
    peers = InternalPeers()
    with smtp_server() as (mailbox, port):
        async with (
            running(infra, peers, smtp_port=port) as svc,
            partners(
                svc,
                peers,
                (PartnerKind.WHATSAPP_GROUP, [BU], "buurtapp@example.org"),  # lies in the district
                (PartnerKind.RESIDENT_GROUP, [GM], None),  # contains it
                (PartnerKind.WHATSAPP_GROUP, [OTHER_WK], "elders@example.org"),  # another district
                (PartnerKind.POLICE, [WK], "wijkagent@example.org"),  # not a group
            ) as (in_buurt, whole_town, elsewhere, police),
        ):
            message_id = uuid4()
            posted = MessagePosted(
                message_id=message_id,
                municipality=GM,
                area=WK,
                kind=MessageKind.WARNING,
                partner_id=police.id,
                posted_at=datetime.now(UTC),
            )
            await svc.events.send(posted, source="neighbourhoods")
            listed = await settled(svc, message_id, 3)
            assert sorted((d["target"], d["channel"]) for d in listed) == sorted(
                [(str(in_buurt.id), "webhook"), (str(in_buurt.id), "email"), (str(whole_town.id), "webhook")]
            )
            for group in (in_buurt, whole_town):
                [got] = group.receiver.received
                body = got.event
                assert body["type"] == "nl.wijkaanpak.neighbourhood.message_posted"
                assert body["subject"] == str(message_id)
                assert body["dataref"] == f"https://gateway.example.nl/v1/messages/{message_id}"
                assert body["data"] == {
                    "messageId": str(message_id),
                    "municipality": GM,
                    "area": WK,
                    "kind": "warning",
                    "partnerId": str(police.id),
                }
                only_codes(group.receiver)
            assert elsewhere.receiver.received == [] and police.receiver.received == []
            [(rcpt, mail)] = mailbox.messages
            assert rcpt == ["buurtapp@example.org"]
            assert mail["Subject"] == f"Nieuw buurtbericht voor {WK} om te delen"
            assert f"https://gateway.example.nl/v1/messages/{message_id}" in mail.get_content()

            withdrawn = MessageWithdrawn(
                message_id=message_id,
                municipality=GM,
                area=WK,
                kind=MessageKind.WARNING,
                partner_id=police.id,
                withdrawn_at=datetime.now(UTC),
            )
            await svc.events.send(withdrawn, source="neighbourhoods", sequence=2)
            await settled(svc, message_id, 6)  # the same three targets again
            assert [r.event["type"] for r in in_buurt.receiver.received] == [
                "nl.wijkaanpak.neighbourhood.message_posted",
                "nl.wijkaanpak.neighbourhood.message_withdrawn",
            ]
            assert elsewhere.receiver.received == [] and police.receiver.received == []


def _initiative(initiative_id: UUID, **extra: Any) -> dict[str, Any]:
    return {
        "initiative_id": initiative_id,
        "municipality": GM,
        "area": BU,
        "kind": InitiativeKind.CLEANUP,
        **extra,
    }


async def test_an_initiative_reaches_the_partners_around_it_and_its_leader_hears_of_pledges_and_the_end(
    infra: Infra,
) -> None:
    peers = InternalPeers()
    with smtp_server() as (mailbox, port):
        async with (
            running(infra, peers, smtp_port=port) as svc,
            partners(
                svc,
                peers,
                (PartnerKind.MUNICIPALITY, [GM], "wijkteam@zaanstad.example"),
                (PartnerKind.YOUTH_WORK, [WK], None),
                (PartnerKind.POLICE, [OTHER_WK], None),  # another district
                (PartnerKind.WHATSAPP_GROUP, [BU], None),  # a group in the buurt: never told a start
            ) as (town, youth, elsewhere, group),
        ):
            initiative_id = uuid4()
            peers.leaders[str(initiative_id)] = "trekker@example.org"
            started = InitiativeStarted(
                **_initiative(initiative_id),
                status=InitiativeStatus.ACTIVE,
                group_id=group.id,
                asks=[SupportKind.MATERIAL],
                started_at=datetime.now(UTC),
            )
            await svc.events.send(started, source="neighbourhoods")
            listed = await settled(svc, initiative_id, 3)
            assert sorted((d["target"], d["channel"]) for d in listed) == sorted(
                [(str(town.id), "webhook"), (str(town.id), "email"), (str(youth.id), "webhook")]
            )
            [got] = youth.receiver.received
            assert got.event["type"] == "nl.wijkaanpak.initiative.started"
            assert got.event["dataref"] == f"https://gateway.example.nl/v1/initiatives/{initiative_id}"
            assert got.event["data"] == {
                "initiativeId": str(initiative_id),
                "municipality": GM,
                "area": BU,
                "kind": "cleanup",
                "status": "active",
                "goalId": None,
                "asks": ["material"],
            }
            assert group.receiver.received == [] and elsewhere.receiver.received == []
            [(rcpt, mail)] = mailbox.messages
            assert rcpt == ["wijkteam@zaanstad.example"]
            assert mail["Subject"] == f"Nieuw bewonersinitiatief in {BU}"
            assert not any(path.endswith("/leader-contact") for _, path in peers.calls)

            pledged = InitiativeSupportPledged(
                **_initiative(initiative_id),
                status=InitiativeStatus.ACTIVE,
                pledging_partner_ids=[youth.id],
                pledge_id=uuid4(),
                partner_id=youth.id,
                support_kind=SupportKind.MATERIAL,
                pledged_at=datetime.now(UTC),
            )
            await svc.events.send(pledged, source="neighbourhoods", sequence=2)
            listed = await settled(svc, initiative_id, 5)  # the youth workers' webhook and the leader
            assert {d["target"] for d in listed[3:]} == {str(youth.id), "leader"}
            data = youth.receiver.received[-1].event["data"]
            assert data["partnerId"] == str(youth.id) and data["supportKind"] == "material"
            leader_mail = mailbox.messages[-1]
            assert leader_mail[0] == ["trekker@example.org"]
            assert leader_mail[1]["Subject"] == "Steun toegezegd voor uw initiatief"
            assert "materiaal" in leader_mail[1].get_content()
            assert ("notifications", f"/v1/initiatives/{initiative_id}/leader-contact") in peers.calls

            completed = InitiativeCompleted(
                **_initiative(initiative_id),
                status=InitiativeStatus.DONE,
                pledging_partner_ids=[youth.id],
                completed_at=datetime.now(UTC),
            )
            await svc.events.send(completed, source="neighbourhoods", sequence=3)
            await settled(svc, initiative_id, 7)
            assert youth.receiver.received[-1].event["data"]["status"] == "done"
            assert mailbox.messages[-1][1]["Subject"] == "Uw initiatief is afgerond"
            assert len(mailbox.messages) == 3
            # the town pledged nothing: it heard the start only; the group and the other district nothing
            assert len(town.receiver.received) == 1
            assert group.receiver.received == [] and elsewhere.receiver.received == []
            for hooked in (town, youth):
                only_codes(hooked.receiver)
            # the leader's address is read at send time and kept nowhere
            every = orjson.dumps(await svc.deliveries()).decode()
            assert "trekker" not in every
            stored = await svc.db.fetchval("SELECT count(*) FROM deliveries WHERE data::text LIKE '%trekker%'")
            assert stored == 0


async def test_a_leader_without_an_address_is_not_mailed_and_the_pledging_partners_still_hear(infra: Infra) -> None:
    peers = InternalPeers()
    with smtp_server() as (mailbox, port):
        async with (
            running(infra, peers, smtp_port=port) as svc,
            partners(svc, peers, (PartnerKind.HOUSING_CORPORATION, [WK], None)) as (corporation,),
        ):
            initiative_id = uuid4()
            peers.leaders[str(initiative_id)] = None
            stopped = InitiativeStopped(
                **_initiative(initiative_id),
                status=InitiativeStatus.STOPPED,
                pledging_partner_ids=[corporation.id],
                stopped_at=datetime.now(UTC),
            )
            await svc.events.send(stopped, source="neighbourhoods")
            listed = await settled(svc, initiative_id, 2)
            leader = next(d for d in listed if d["target"] == "leader")
            assert leader["channel"] == "email"
            assert mailbox.messages == []
            [got] = corporation.receiver.received
            assert got.event["type"] == "nl.wijkaanpak.initiative.stopped"
            assert got.event["data"]["status"] == "stopped"
            assert ("notifications", f"/v1/initiatives/{initiative_id}/leader-contact") in peers.calls
