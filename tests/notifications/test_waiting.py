"""Issue 14, item 2, in notifications: an event naming a partner that never arrives waits on its
own (in consumer_waiting, dead-lettered at its deadline); every other notification goes on."""

from __future__ import annotations

from uuid import uuid4

from tests.notifications.support import InternalPeers, Receiver, escalated, http_server, new_secret, partner, running
from tests.support import Infra


async def test_an_escalation_to_a_partner_that_never_arrives_does_not_stop_other_notifications(infra: Infra) -> None:
    secret = new_secret()
    receiver, peers = Receiver([secret]), InternalPeers()
    async with http_server(receiver) as hook, running(infra, peers) as svc:
        police = partner(webhook_url=f"{hook}/hook")
        peers.secrets[str(police.partner_id)] = [secret]
        await svc.events.send(police, source="partners")
        await svc.db.wait_for_partners(police.partner_id)
        stuck = await svc.events.send(escalated(uuid4(), uuid4()))  # its partner is never registered
        later = uuid4()
        await svc.events.send(escalated(later, police.partner_id))  # same topic and partition, after it

        [delivery] = await svc.wait_for_status("delivered", signalId=str(later), partnerId=str(police.partner_id))
        assert [r.webhook_id for r in receiver.received] == [delivery["id"]]
        waits = await svc.db.fetchval(
            "SELECT count(*) FROM consumer_waiting WHERE event_id = $1 AND reason = 'not_yet'", stuck.id
        )
        assert waits == 1
