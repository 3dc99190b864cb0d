"""E-mail over a real SMTP server (aiosmtpd) in the test."""

from __future__ import annotations

from collections import Counter
from uuid import uuid4

import orjson

from shared.events.codes import PartnerKind
from tests.notifications.support import GM, InternalPeers, acknowledged, escalated, partner, running, smtp_server
from tests.support import Infra


async def test_feedback_reaches_every_reporter_and_the_whatsapp_group_by_email(infra: Infra) -> None:
    peers = InternalPeers()
    with smtp_server() as (mailbox, port):
        async with running(infra, peers, smtp_port=port) as svc:
            police = partner(email="meldkamer@politie.example")
            group = partner(kind=PartnerKind.WHATSAPP_GROUP, email="buurtapp-beheer@example.org")
            await svc.events.send(police, source="partners")
            await svc.events.send(group, source="partners")
            await svc.db.wait_for_partners(police.partner_id, group.partner_id)
            signal_id = uuid4()
            peers.contacts[str(signal_id)] = [
                {"reporter": "resident-1", "email": "an@example.org"},
                {"reporter": "resident-2", "email": "bo@example.org"},
            ]
            await svc.events.send(acknowledged(signal_id, police.partner_id, group_id=group.partner_id))
            listed = await svc.wait_for_status("delivered", count=2, signalId=str(signal_id))
            # barrier: every delivery of the signal is delivered, and a mail is in the mailbox before its
            # attempt is recorded, while a delivered delivery is never sent again: no mail can still come
            assert len(await svc.deliveries(signalId=str(signal_id))) == 2

            received = Counter(rcpt for rcpts, _ in mailbox.messages for rcpt in rcpts)
            assert received == {"an@example.org": 1, "bo@example.org": 1, "buurtapp-beheer@example.org": 1}
            by_rcpt = {rcpt[0]: message for rcpt, message in mailbox.messages}
            reporter_mail = by_rcpt["an@example.org"]
            assert reporter_mail["Subject"] == "Uw melding SIG-2026-000001 is in behandeling"
            text = reporter_mail.get_content()
            assert f"https://gateway.example.nl/v1/signals/{signal_id}" in text
            assert "an@example.org" not in text
            assert "melding" in by_rcpt["buurtapp-beheer@example.org"]["Subject"].lower()
            assert ("notifications", f"/internal/v1/signals/{signal_id}/contacts") in peers.calls
            assert sorted(d["target"] for d in listed) == sorted(["reporter", str(group.partner_id)])
            assert all(d["channel"] == "email" for d in listed)
            assert b"@" not in orjson.dumps(listed)


async def test_a_partner_with_an_email_channel_gets_a_dutch_mail_on_escalation(infra: Infra) -> None:
    peers = InternalPeers()
    with smtp_server() as (mailbox, port):
        async with running(infra, peers, smtp_port=port) as svc:
            police = partner(email="meldkamer@politie.example")
            await svc.events.send(police, source="partners")
            await svc.db.wait_for_partners(police.partner_id)
            signal_id = uuid4()
            await svc.events.send(escalated(signal_id, police.partner_id))
            # barrier: both deliveries (the partner's, the reporters' who left no contact) are delivered,
            # each recorded after its mail arrived and never sent again
            listed = await svc.wait_for_status("delivered", count=2, signalId=str(signal_id))
            assert sorted(d["target"] for d in listed) == sorted([str(police.partner_id), "reporter"])
            assert len(await svc.deliveries(signalId=str(signal_id))) == 2

            [(rcpt, message)] = mailbox.messages
            assert rcpt == ["meldkamer@politie.example"]
            assert message["Subject"] == "Nieuwe melding SIG-2026-000001 voor uw organisatie"
            assert "afval en dumping" in message.get_content()


async def test_mail_is_retried_while_the_smtp_server_is_away_and_then_delivered(infra: Infra) -> None:
    peers = InternalPeers()
    with smtp_server() as (mailbox, port):
        away_port = port
    async with running(infra, peers, smtp_port=away_port, delivery_retry_schedule="0.3,0.3,0.3,0.3,0.3") as svc:
        police = partner(email="meldkamer@politie.example")
        await svc.events.send(police, source="partners")
        await svc.db.wait_for_partners(police.partner_id)
        signal_id = uuid4()
        await svc.events.send(escalated(signal_id, police.partner_id))
        [delivery] = await svc.wait_for_status("retrying", signalId=str(signal_id), partnerId=str(police.partner_id))
        assert delivery["lastError"]
        assert delivery["status"] == "retrying"
        r = await svc.client.get(f"/v1/deliveries/{delivery['id']}", headers=infra.headers("coordinator", [GM]))
        assert r.json()["nextAttemptAt"] is not None
        with smtp_server(away_port) as (mailbox, _):
            [done] = await svc.wait_for_status("delivered", signalId=str(signal_id), partnerId=str(police.partner_id))
            assert len(mailbox.messages) == 1
        assert done["attempts"] >= 2
