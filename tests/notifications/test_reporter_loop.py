"""The loop back to reporters and partners passing signals on, over the real PostgreSQL and
Kafka: every step a signal's reporters and its group hear about (e-mail to the reporters' real
SMTP sink, the group's signed webhook and e-mail), and the partner a transfer, an involvement or
an answer concerns."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from services.notifications import handlers
from services.notifications.handlers import EventToDeliver
from shared.clock import Clock
from shared.consumer import NotYet
from shared.db import UnitOfWork
from shared.events.catalog import (
    SignalClosed,
    SignalMerged,
    SignalPartnerInvolved,
    SignalReactionReceived,
    SignalReactionRequested,
    SignalReceived,
    SignalRejected,
    SignalTransferred,
)
from shared.events.codes import Category, PartnerKind, SignalSource, SignalStatus, Urgency
from tests.notifications.support import (
    AREA,
    GM,
    InternalPeers,
    Mailbox,
    Receiver,
    Running,
    http_server,
    new_secret,
    partner,
    running,
    smtp_server,
    until,
)
from tests.support import Infra

REPORTER_ADDRESS = "melder@example.org"
GROUP_ADDRESS = "beheer@buurtapp.example"


def facts(signal_id: UUID, reference: str, status: SignalStatus) -> dict[str, Any]:
    return {
        "signal_id": signal_id,
        "reference": reference,
        "municipality": GM,
        "area": AREA,
        "category": Category.YOUTH_NUISANCE,
        "urgency": Urgency.NORMAL,
        "status": status,
    }


def received(signal_id: UUID, reference: str, group_id: UUID | None) -> SignalReceived:
    return SignalReceived(
        **facts(signal_id, reference, SignalStatus.RECEIVED),
        source=SignalSource.WHATSAPP_GROUP if group_id else SignalSource.APP,
        received_at=datetime.now(UTC),
        group_id=group_id,
        has_contact=True,
    )


class Stage:
    """The service with a police team, youth workers and a WhatsApp group, each with a receiver."""

    def __init__(self, svc: Running, peers: InternalPeers, mailbox: Mailbox) -> None:
        self.svc, self.peers, self.mailbox = svc, peers, mailbox
        self.receivers: dict[UUID, Receiver] = {}
        self.police = self.youth = self.group = uuid4()

    async def settled(self, subject: UUID, count: int) -> list[dict[str, Any]]:
        """Barrier: the subject's `count` deliveries are delivered (an event's are planned in one
        transaction; a delivered one is never sent again): receivers and mailbox are final for them."""
        await self.svc.wait_for_status("delivered", count=count, signalId=str(subject))
        listed = await self.svc.deliveries(signalId=str(subject))
        assert len(listed) == count, listed
        return listed

    def webhooks(self, partner_id: UUID, subject: UUID) -> list[dict[str, Any]]:
        found = [r for r in self.receivers[partner_id].received if r.event["subject"] == str(subject)]
        assert all(all(r.valid_for) for r in found)
        return [r.event for r in found]

    def mails(self, to: str) -> list[Any]:
        return [m for rcpts, m in self.mailbox.messages if to in rcpts]


@contextlib.asynccontextmanager
async def stage(infra: Infra) -> AsyncIterator[Stage]:
    peers = InternalPeers()
    with smtp_server() as (mailbox, port):
        async with running(infra, peers, smtp_port=port) as svc, contextlib.AsyncExitStack() as stack:
            s = Stage(svc, peers, mailbox)
            made = []
            for kind, email in (
                (PartnerKind.POLICE, None),
                (PartnerKind.YOUTH_WORK, None),
                (PartnerKind.WHATSAPP_GROUP, GROUP_ADDRESS),
            ):
                secret = new_secret()
                receiver = Receiver([secret])
                url = await stack.enter_async_context(http_server(receiver))
                p = partner(kind=kind, webhook_url=f"{url}/hook", email=email, areas=[AREA])
                peers.secrets[str(p.partner_id)] = [secret]
                s.receivers[p.partner_id] = receiver
                await svc.events.send(p, source="partners")
                made.append(p.partner_id)
            s.police, s.youth, s.group = made
            await svc.db.wait_for_partners(*made)
            yield s


async def test_the_reporters_and_their_group_hear_every_step_and_partners_what_concerns_them(infra: Infra) -> None:
    async with stage(infra) as s:
        svc, now = s.svc, datetime.now(UTC)
        signal_id, reference = uuid4(), "SIG-2026-000100"
        s.peers.contacts[str(signal_id)] = [{"reporter": "resident-1", "email": REPORTER_ADDRESS}]
        await svc.events.send(received(signal_id, reference, s.group))
        await _until_seen(svc, signal_id)
        seq = iter(range(2, 100))

        # a question: the reporters and the group (the partner asked it: it hears nothing)
        asked = SignalReactionRequested(
            **facts(signal_id, reference, SignalStatus.REACTION_REQUESTED),
            partner_id=s.police,
            asked_at=now,
            returns_to=SignalStatus.ESCALATED,
            group_id=s.group,
        )
        await svc.events.send(asked, sequence=next(seq))
        listed = await s.settled(signal_id, 3)
        assert sorted((d["target"], d["channel"]) for d in listed) == sorted(
            [("reporter", "email"), (str(s.group), "webhook"), (str(s.group), "email")]
        )
        [mail] = s.mails(REPORTER_ADDRESS)
        assert mail["Subject"] == f"Een vraag over uw melding {reference}"
        assert f"https://gateway.example.nl/v1/signals/{signal_id}" in mail.get_content()
        [hook] = s.webhooks(s.group, signal_id)
        assert hook["type"] == "nl.wijkaanpak.signal.reaction_requested"
        assert hook["data"]["status"] == "reaction_requested" and hook["data"]["partnerId"] == str(s.police)
        assert s.mails(GROUP_ADDRESS)[-1]["Subject"] == f"Vraag over melding {reference} uit uw groep"

        # the answer reaches the partner that asked, with its moved deadline
        answered = SignalReactionReceived(
            **facts(signal_id, reference, SignalStatus.ESCALATED),
            partner_id=s.police,
            asked_at=now,
            answered_at=now,
            acknowledge_by=now + timedelta(hours=2),
        )
        await svc.events.send(answered, sequence=next(seq))
        await s.settled(signal_id, 4)
        [hook] = s.webhooks(s.police, signal_id)
        assert hook["type"] == "nl.wijkaanpak.signal.reaction_received"
        assert hook["data"]["acknowledgeBy"] and hook["data"]["partnerId"] == str(s.police)

        # a transfer reaches the new partner (data as an escalation); an involvement the involved one
        transferred = SignalTransferred(
            **facts(signal_id, reference, SignalStatus.ESCALATED),
            partner_id=s.youth,
            previous_partner_id=s.police,
            escalated_at=now,
            acknowledge_by=now + timedelta(hours=1),
            group_id=s.group,
        )
        await svc.events.send(transferred, sequence=next(seq))
        await s.settled(signal_id, 5)
        [hook] = s.webhooks(s.youth, signal_id)
        assert hook["type"] == "nl.wijkaanpak.signal.transferred"
        assert set(hook["data"]) == {
            "signalId",
            "reference",
            "municipality",
            "area",
            "category",
            "urgency",
            "partnerId",
            "acknowledgeBy",
            "status",
        }
        assert hook["data"]["partnerId"] == str(s.youth)
        involved = SignalPartnerInvolved(
            **facts(signal_id, reference, SignalStatus.ESCALATED),
            partner_id=s.police,
            escalated_partner_id=s.youth,
            involved_at=now,
            group_id=s.group,
        )
        await svc.events.send(involved, sequence=next(seq))
        await s.settled(signal_id, 6)
        assert [h["type"] for h in s.webhooks(s.police, signal_id)] == [
            "nl.wijkaanpak.signal.reaction_received",
            "nl.wijkaanpak.signal.partner_involved",
        ]
        assert s.webhooks(s.police, signal_id)[-1]["data"]["partnerId"] == str(s.police)

        # closing: the partner, the reporters and the group (the event does not name the group: the
        # signals read model does)
        closed = SignalClosed(**facts(signal_id, reference, SignalStatus.CLOSED), closed_at=now, partner_id=s.youth)
        await svc.events.send(closed, sequence=next(seq))
        listed = await s.settled(signal_id, 10)
        assert sorted(d["target"] for d in listed[6:]) == sorted(["reporter", str(s.group), str(s.group), str(s.youth)])
        assert s.mails(REPORTER_ADDRESS)[-1]["Subject"] == f"Uw melding {reference} is gesloten"
        assert s.webhooks(s.group, signal_id)[-1]["type"] == "nl.wijkaanpak.signal.closed"
        assert s.mails(GROUP_ADDRESS)[-1]["Subject"] == f"Melding {reference} uit uw groep is gesloten"
        # the group heard the question and the closing, never the partners' own business
        assert [h["type"] for h in s.webhooks(s.group, signal_id)] == [
            "nl.wijkaanpak.signal.reaction_requested",
            "nl.wijkaanpak.signal.closed",
        ]
        assert len(s.mails(REPORTER_ADDRESS)) == 2
        every = b"".join(r.body for receiver in s.receivers.values() for r in receiver.received)
        assert b"@" not in every


async def test_a_rejection_reaches_the_reporters_and_the_group_and_names_no_reason(infra: Infra) -> None:
    async with stage(infra) as s:
        svc, now = s.svc, datetime.now(UTC)
        signal_id, reference = uuid4(), "SIG-2026-000200"
        s.peers.contacts[str(signal_id)] = [{"reporter": "resident-2", "email": REPORTER_ADDRESS}]
        await svc.events.send(received(signal_id, reference, s.group))
        await _until_seen(svc, signal_id)
        rejected = SignalRejected(**facts(signal_id, reference, SignalStatus.REJECTED), rejected_at=now)
        await svc.events.send(rejected, sequence=2)
        listed = await s.settled(signal_id, 3)
        assert {d["target"] for d in listed} == {"reporter", str(s.group)}
        [mail] = s.mails(REPORTER_ADDRESS)
        assert mail["Subject"] == f"Uw melding {reference} is niet in behandeling genomen"
        assert "in de app" in mail.get_content()
        [hook] = s.webhooks(s.group, signal_id)
        assert hook["data"]["status"] == "rejected" and hook["data"]["partnerId"] is None
        assert s.webhooks(s.police, signal_id) == [] and s.webhooks(s.youth, signal_id) == []

        # a signal the read model never saw (reported before it existed) is told to its reporters only
        unknown = uuid4()
        s.peers.contacts[str(unknown)] = [{"reporter": "resident-3", "email": "ander@example.org"}]
        await svc.events.send(
            SignalRejected(**facts(unknown, "SIG-2026-000201", SignalStatus.REJECTED), rejected_at=now)
        )
        [only] = await s.settled(unknown, 1)
        assert only["target"] == "reporter"
        assert s.mails("ander@example.org")[0]["Subject"] == "Uw melding SIG-2026-000201 is niet in behandeling genomen"


async def _until_seen(svc: Running, signal_id: UUID) -> None:
    """Barrier: the signals read model (its own consumer) has taken the signal in."""
    deadline = time.monotonic() + 20
    while not await svc.db.fetchval("SELECT count(*) FROM signals_seen WHERE signal_id = $1", signal_id):
        assert time.monotonic() < deadline, "signal.received did not reach the read model"
        await asyncio.sleep(0.05)


async def test_a_report_merged_at_intake_waits_for_its_reception_and_names_the_original(
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
    async with stage(infra) as s:
        svc, now = s.svc, datetime.now(UTC)
        original, duplicate = uuid4(), uuid4()
        await svc.events.send(received(original, "SIG-2026-000300", None))
        await _until_seen(svc, original)
        s.peers.contacts[str(duplicate)] = [{"reporter": "group-admin-1", "email": REPORTER_ADDRESS}]
        merged = SignalMerged(
            **facts(duplicate, "SIG-2026-000301", SignalStatus.MERGED),
            duplicate_of=original,
            merged_at=now,
            automatic=True,
        )
        event = await svc.events.send(merged, sequence=2)
        # barrier: the merge was read and put off: its signal.received had not arrived yet
        await until(lambda: event.id in deferred)
        assert await svc.deliveries(signalId=str(duplicate)) == []
        await svc.events.send(received(duplicate, "SIG-2026-000301", s.group))
        listed = await s.settled(duplicate, 3)
        assert sorted((d["target"], d["channel"]) for d in listed) == sorted(
            [("reporter", "email"), (str(s.group), "webhook"), (str(s.group), "email")]
        )
        [mail] = s.mails(REPORTER_ADDRESS)
        assert mail["Subject"] == "Uw melding SIG-2026-000301 is samengevoegd"
        assert "melding SIG-2026-000300" in mail.get_content()
        [hook] = s.webhooks(s.group, duplicate)
        assert hook["data"]["duplicateOf"] == str(original) and hook["data"]["status"] == "merged"
        assert "originalReference" not in hook["data"]
        assert "SIG-2026-000300" in s.mails(GROUP_ADDRESS)[0].get_content()
