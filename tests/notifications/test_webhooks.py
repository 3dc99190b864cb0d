"""Webhooks against real receivers on 127.0.0.1, the real PostgreSQL and Kafka."""

from __future__ import annotations

import asyncio
import functools
import itertools
from collections import defaultdict
from collections.abc import Awaitable, Callable
from uuid import UUID, uuid4

import pytest

from services.notifications import handlers
from services.notifications.handlers import EventToDeliver
from shared.clock import Clock
from shared.consumer import NotYet
from shared.db import UnitOfWork
from tests.notifications.support import (
    AREA,
    GM,
    InternalPeers,
    Receiver,
    Running,
    escalated,
    http_server,
    new_secret,
    overdue,
    partner,
    reopened,
    running,
    until,
)
from tests.support import Infra, TopicReader


async def _planned(svc: Running, count: int, partner_id: UUID) -> bool:
    return len(await svc.deliveries(partnerId=str(partner_id))) >= count


async def _handled(svc: Running, event_id: UUID) -> bool:
    """The service's consumer has handled this event (every consumer records it in its inbox)."""
    return bool(await svc.db.fetchval("SELECT count(*) FROM inbox WHERE event_id = $1", event_id))


async def until_async(check: Callable[[], Awaitable[bool]], timeout: float = 20) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


SIGNAL_DATA = {"signalId", "reference", "municipality", "area", "category", "urgency", "partnerId"}


async def test_an_escalation_reaches_the_partners_webhook_signed_once_as_the_contract_says(infra: Infra) -> None:
    secret = new_secret()
    receiver, peers = Receiver([secret]), InternalPeers()
    async with http_server(receiver) as hook, running(infra, peers) as svc:
        police = partner(webhook_url=f"{hook}/hooks/wijkaanpak")
        peers.secrets[str(police.partner_id)] = [secret]
        await svc.events.send(police, source="partners")
        await svc.db.wait_for_partners(police.partner_id)
        signal_id = uuid4()
        event = await svc.events.send(escalated(signal_id, police.partner_id))

        async with TopicReader(svc.reader_infra(), "notification.delivered") as reader:
            seen = await reader.until(
                lambda s: any(
                    str(e.data["eventId"]) == str(event.id) and e.data["target"] == str(police.partner_id)
                    for e, _, _ in s
                )
            )
        # barrier: notification.delivered is emitted with the record of the attempt, after the webhook
        # arrived, and the partner's one delivery of the signal is delivered: it is never sent again
        [delivery] = await svc.deliveries(signalId=str(signal_id), partnerId=str(police.partner_id))
        assert delivery["status"] == "delivered"

        assert len(receiver.received) == 1
        got = receiver.received[0]
        assert got.valid_for == [True]
        assert got.headers["content-type"] == "application/cloudevents+json"
        assert got.headers["webhook-signature"].startswith("v1,")
        body = got.event
        assert set(body) == {
            "specversion",
            "id",
            "source",
            "type",
            "time",
            "subject",
            "dataref",
            "datacontenttype",
            "data",
        }
        assert body["specversion"] == "1.0"
        assert body["id"] == str(event.id)
        assert body["type"] == "nl.wijkaanpak.signal.escalated"
        assert body["source"] == "urn:nld:wijkaanpak:signals"
        assert body["subject"] == str(signal_id)
        assert body["dataref"] == f"https://gateway.example.nl/v1/signals/{signal_id}"
        assert set(body["data"]) == SIGNAL_DATA | {"acknowledgeBy"}
        assert body["data"]["partnerId"] == str(police.partner_id)
        assert body["data"]["area"] == AREA
        assert body["data"]["category"] == "litter_dumping"

        delivered = [e for e, _, _ in seen if str(e.data["eventId"]) == str(event.id)]
        assert str(police.partner_id) in {e.data["target"] for e in delivered}
        assert delivery["attempts"] == 1
        assert delivery["target"] == str(police.partner_id)
        assert delivery["channel"] == "webhook"
        assert delivery["eventType"] == "signal.escalated"
        assert delivery["id"] == got.webhook_id
        attempts = await svc.client.get(
            f"/v1/deliveries/{delivery['id']}/attempts", headers=infra.headers("coordinator", [GM])
        )
        [attempt] = attempts.json()["results"]
        assert attempt["statusCode"] == 204
        assert attempt["durationMs"] >= 0
        assert ("notifications", f"/internal/v1/partners/{police.partner_id}/webhook-secrets") in peers.calls


async def test_a_receiver_failing_for_a_while_still_gets_every_delivery_once_and_in_order_per_signal(
    infra: Infra,
) -> None:
    secret = new_secret()
    receiver, peers = Receiver([secret], answer=lambda n: 500 if n <= 7 else 204), InternalPeers()
    async with http_server(receiver) as hook, running(infra, peers) as svc:
        police = partner(webhook_url=f"{hook}/hook")
        peers.secrets[str(police.partner_id)] = [secret]
        await svc.events.send(police, source="partners")
        await svc.db.wait_for_partners(police.partner_id)
        signals = [uuid4() for _ in range(3)]
        order: dict[str, list[str]] = defaultdict(list)
        for version, make in enumerate((escalated, overdue, reopened), 2):
            for n, signal_id in enumerate(signals, 1):
                event = await svc.events.send(make(signal_id, police.partner_id, n), sequence=version)
                order[str(signal_id)].append(str(event.id))
            # each type has its own topic: let the service take this one in before the next arrives
            await until_async(functools.partial(_planned, svc, 3 * (version - 1), police.partner_id))

        # barrier: all nine deliveries are delivered (each after its last request arrived) and no other
        # delivery exists: nothing more is sent
        await svc.wait_for_status("delivered", count=9, timeout=30, partnerId=str(police.partner_id))
        assert len(await svc.deliveries(partnerId=str(police.partner_id))) == 9

        assert all(all(r.valid_for) for r in receiver.received)
        ids_per_event: dict[str, set[str]] = defaultdict(set)
        for r in receiver.received:
            ids_per_event[r.event["id"]].add(r.webhook_id)
        assert len(ids_per_event) == 9
        assert all(len(ids) == 1 for ids in ids_per_event.values())
        assert len({r.webhook_id for r in receiver.delivered()}) == 9
        for subject, expected in order.items():
            first_seen: list[str] = []
            for r in receiver.received:
                if r.event["subject"] == subject and r.event["id"] not in first_seen:
                    first_seen.append(r.event["id"])
            assert first_seen == expected
            # a later event of the signal is only tried once the earlier one was delivered
            for earlier, later in itertools.pairwise(expected):
                positions = [i for i, r in enumerate(receiver.received) if r.event["id"] == later]
                delivered_at = [
                    i for i, r in enumerate(receiver.received) if r.event["id"] == earlier and r.status < 300
                ]
                assert delivered_at and min(positions) > delivered_at[0]
        assert any(r.status == 500 for r in receiver.received)


async def test_a_partner_rotating_its_secret_receives_a_signature_for_each_valid_secret(infra: Infra) -> None:
    old, new = new_secret(), new_secret()
    receiver, peers = Receiver([old, new]), InternalPeers()
    async with http_server(receiver) as hook, running(infra, peers) as svc:
        police = partner(webhook_url=f"{hook}/hook")
        peers.secrets[str(police.partner_id)] = [new, old]
        await svc.events.send(police, source="partners")
        await svc.db.wait_for_partners(police.partner_id)
        await svc.events.send(escalated(uuid4(), police.partner_id))
        await until(lambda: len(receiver.received) >= 1)

        got = receiver.received[0]
        assert got.valid_for == [True, True]
        assert len(got.headers["webhook-signature"].split(" ")) == 2


async def test_gone_disables_the_webhook_until_the_partner_registers_another_url(infra: Infra) -> None:
    secret = new_secret()
    gone, fixed, peers = Receiver([secret], answer=lambda n: 410), Receiver([secret]), InternalPeers()
    async with http_server(gone) as old_hook, http_server(fixed) as new_hook, running(infra, peers) as svc:
        police = partner(webhook_url=f"{old_hook}/hook")
        peers.secrets[str(police.partner_id)] = [secret]
        await svc.events.send(police, source="partners")
        await svc.db.wait_for_partners(police.partner_id)
        first = uuid4()
        async with TopicReader(svc.reader_infra(), "notification.failed") as reader:
            await svc.events.send(escalated(first, police.partner_id))
            seen = await reader.events(1)
        assert seen[0][0].data["lastError"] == "http_410"
        [failed] = await svc.deliveries(signalId=str(first), partnerId=str(police.partner_id))
        assert failed["status"] == "failed"
        assert failed["attempts"] == 1

        second = uuid4()
        skipped = await svc.events.send(escalated(second, police.partner_id, 2))
        # barrier: the escalation is handled (its inbox row commits with any delivery it plans)
        await until_async(functools.partial(_handled, svc, skipped.id))
        assert await svc.deliveries(signalId=str(second), partnerId=str(police.partner_id)) == []
        assert len(gone.received) == 1

        moved = police.model_copy(update={"webhook_url": f"{new_hook}/hook", "version": 2})
        await svc.events.send(moved, source="partners", sequence=2)
        await svc.db.wait_for_partners(police.partner_id, version=2)
        await svc.events.send(escalated(uuid4(), police.partner_id, 3))
        await until(lambda: len(fixed.delivered()) == 1)
        assert len(gone.received) == 1


async def test_a_replayed_event_notifies_nobody_twice(infra: Infra) -> None:
    secret = new_secret()
    receiver, peers = Receiver([secret]), InternalPeers()
    async with http_server(receiver) as hook, running(infra, peers) as svc:
        police = partner(webhook_url=f"{hook}/hook")
        peers.secrets[str(police.partner_id)] = [secret]
        await svc.events.send(police, source="partners")
        await svc.db.wait_for_partners(police.partner_id)
        signal_id = uuid4()
        event = await svc.events.send(escalated(signal_id, police.partner_id))
        await until(lambda: len(receiver.received) == 1)
        await svc.events.resend(event)
        await svc.events.resend(event)
        later = uuid4()
        await svc.events.send(escalated(later, police.partner_id, 2))
        # barrier: the topic has one partition, read in order: the later escalation delivered means both
        # replays were consumed before it, and the first signal's only delivery is delivered (never resent)
        await svc.wait_for_status("delivered", signalId=str(later), partnerId=str(police.partner_id))
        [delivery] = await svc.deliveries(signalId=str(signal_id), partnerId=str(police.partner_id))
        assert delivery["status"] == "delivered"

        assert [r.event["subject"] for r in receiver.received] == [str(signal_id), str(later)]


async def test_an_escalation_read_before_its_partner_is_delivered_once_the_partner_arrives(
    infra: Infra, monkeypatch: pytest.MonkeyPatch
) -> None:
    deferred: list[UUID] = []
    plan = handlers.plan_deliveries

    async def watched(uow: UnitOfWork, event: EventToDeliver, clock: Clock, *, public_base_url: str) -> list[UUID]:
        try:
            return await plan(uow, event, clock, public_base_url=public_base_url)
        except NotYet:
            deferred.append(event.event_id)
            raise

    monkeypatch.setattr(handlers, "plan_deliveries", watched)
    secret = new_secret()
    receiver, peers = Receiver([secret]), InternalPeers()
    async with http_server(receiver) as hook, running(infra, peers) as svc:
        police = partner(webhook_url=f"{hook}/hook")
        peers.secrets[str(police.partner_id)] = [secret]
        signal_id = uuid4()
        event = await svc.events.send(escalated(signal_id, police.partner_id))  # topics are read independently
        # barrier: the escalation was read and put off, so it really came before its partner
        await until(lambda: event.id in deferred)
        assert receiver.received == []
        await svc.events.send(police, source="partners")
        # barrier: its only delivery is delivered (after the webhook arrived) and is never sent again
        [delivery] = await svc.wait_for_status(
            "delivered", timeout=30, signalId=str(signal_id), partnerId=str(police.partner_id)
        )
        assert len(await svc.deliveries(partnerId=str(police.partner_id))) == 1
        assert len(receiver.received) == 1
        assert receiver.received[0].event["subject"] == str(signal_id)
        assert receiver.received[0].webhook_id == delivery["id"]


async def test_retries_end_in_failed_and_a_resend_delivers_with_the_same_webhook_id(infra: Infra) -> None:
    secret = new_secret()
    healthy = False
    receiver = Receiver([secret], answer=lambda n: 204 if healthy else 503)
    peers = InternalPeers()
    async with http_server(receiver) as hook, running(infra, peers, delivery_retry_schedule="0.1,0.1") as svc:
        police = partner(webhook_url=f"{hook}/hook")
        peers.secrets[str(police.partner_id)] = [secret]
        await svc.events.send(police, source="partners")
        await svc.db.wait_for_partners(police.partner_id)
        signal_id = uuid4()
        async with TopicReader(svc.reader_infra(), "notification.failed") as reader:
            await svc.events.send(escalated(signal_id, police.partner_id))
            [(failed_event, _, _)] = await reader.events(1)
        assert failed_event.data["attempts"] == 3
        [delivery] = await svc.wait_for_status("failed", signalId=str(signal_id), partnerId=str(police.partner_id))
        assert delivery["attempts"] == 3
        attempts = (
            await svc.client.get(f"/v1/deliveries/{delivery['id']}/attempts", headers=infra.headers("coordinator"))
        ).json()["results"]
        assert [a["statusCode"] for a in attempts] == [503, 503, 503]
        assert len(receiver.received) == 3

        healthy = True
        r = await svc.client.post(f"/v1/deliveries/{delivery['id']}/resend", headers=infra.headers("coordinator"))
        assert r.status_code == 200, r.text
        await svc.wait_for_status("delivered", signalId=str(signal_id), partnerId=str(police.partner_id))
        assert len({x.webhook_id for x in receiver.received}) == 1
        assert receiver.received[-1].status == 204


async def test_a_url_that_now_reaches_a_private_address_is_not_called(infra: Infra) -> None:
    peers = InternalPeers()
    async with running(infra, peers) as svc:
        police = partner(webhook_url="https://10.20.30.40/hook")
        peers.secrets[str(police.partner_id)] = [new_secret()]
        await svc.events.send(police, source="partners")
        await svc.db.wait_for_partners(police.partner_id)
        signal_id = uuid4()
        await svc.events.send(escalated(signal_id, police.partner_id))
        [delivery] = await svc.wait_for_status("failed", signalId=str(signal_id), partnerId=str(police.partner_id))
        attempts = (
            await svc.client.get(f"/v1/deliveries/{delivery['id']}/attempts", headers=infra.headers("coordinator"))
        ).json()["results"]
        assert [(a["statusCode"], a["error"]) for a in attempts] == [(None, "unsafe_url")]
