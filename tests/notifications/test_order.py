"""Issue 14, item 6, in notifications: under a backlog a signal's `resolved` (read first: its topic
is not behind) is not delivered before its `acknowledged` (stuck behind the backlog on its own
topic). The deliveries consumer runs `ordered` (docs/services.md, "Order across types")."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from uuid import uuid4

from services.notifications.app import create_app
from shared.events.catalog import SignalResolved
from shared.events.codes import PartnerKind, SignalStatus
from shared.events.envelope import to_json
from tests.notifications.support import (
    Db,
    Events,
    InternalPeers,
    Receiver,
    acknowledged,
    facts,
    http_server,
    new_secret,
    own_topics,
    partner,
    settings,
    until,
)
from tests.support import Infra, serve

BACKLOG = 5000  # several fetches of the acknowledged topic (up to 1 MB and 500 records each)


async def test_resolved_read_before_its_acknowledged_is_delivered_after_it(infra: Infra) -> None:
    secret = new_secret()
    receiver, peers = Receiver([secret]), InternalPeers()
    async with (
        http_server(receiver) as hook,
        own_topics(infra) as prefix,
        http_server(peers) as peers_url,
        Events(infra, prefix) as events,
    ):
        police = partner()
        group = partner(kind=PartnerKind.WHATSAPP_GROUP, webhook_url=f"{hook}/hook")
        peers.secrets[str(group.partner_id)] = [secret]
        config = settings(infra, prefix, peers_url)
        async with serve(create_app(config)):  # the partners in the read model first (then it stops)
            await events.send(police, source="partners")
            await events.send(group, source="partners")
            await Db(infra, config.db_schema_name).wait_for_partners(police.partner_id, group.partner_id)
        # the backlog, all published while the service is down: other signals' acknowledgements first
        # (one event redelivered many times: the inbox makes the copies cheap, the fetches are real)
        filler = await events.send(acknowledged(uuid4(), police.partner_id), sequence=3)
        value = to_json(filler)
        sent = [await events.producer.send(prefix + filler.event_type, value=value) for _ in range(BACKLOG)]
        await asyncio.gather(*sent)
        signal_id = uuid4()
        await events.send(acknowledged(signal_id, police.partner_id, group_id=group.partner_id), sequence=3)
        resolved = SignalResolved(
            **facts(signal_id),
            status=SignalStatus.RESOLVED,
            partner_id=police.partner_id,
            resolved_at=datetime.now(UTC),
            group_id=group.partner_id,
        )
        await events.send(resolved, sequence=4)

        async with serve(create_app(config)):

            def both_arrived() -> bool:
                return len([r for r in receiver.delivered() if r.event["subject"] == str(signal_id)]) == 2

            await until(both_arrived, timeout=90)
        types = [r.event["type"] for r in receiver.delivered() if r.event["subject"] == str(signal_id)]
        assert types == ["nl.wijkaanpak.signal.acknowledged", "nl.wijkaanpak.signal.resolved"]
