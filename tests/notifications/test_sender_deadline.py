"""Issue 14, item 7: an attempt never outlives its lease, and a reporter is never mailed twice.

A slow SMTP server (each mail takes longer than a fraction of the lease) and many reporters: one
attempt cannot mail them all within the lease. The attempt is cut off at its deadline and retried;
every reporter mailed is recorded the moment the server took the mail, so each gets one mail.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections import Counter
from collections.abc import Iterator
from typing import Any
from uuid import uuid4

from aiosmtpd.controller import Controller

from tests.notifications.support import InternalPeers, Mailbox, acknowledged, partner, running
from tests.support import Infra

MAIL_SECONDS = 0.7


class SlowMailbox(Mailbox):
    """Takes a mail only after MAIL_SECONDS (the server answers late, as under load)."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(MAIL_SECONDS)
        return await super().handle_DATA(server, session, envelope)


@contextlib.contextmanager
def slow_smtp_server() -> Iterator[tuple[SlowMailbox, int]]:
    mailbox = SlowMailbox()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()


async def test_reporters_of_an_attempt_longer_than_the_lease_each_get_one_mail(infra: Infra) -> None:
    peers = InternalPeers()
    reporters = {f"resident-{i}": f"r{i}@example.org" for i in range(8)}  # 8 x 0.7 s: beyond the 4 s lease
    with slow_smtp_server() as (mailbox, port):
        schedule = ",".join(["0.1"] * 12)  # one mail per attempt here: enough attempts for all eight
        async with running(
            infra, peers, smtp_port=port, webhook_timeout_seconds=2.0, delivery_retry_schedule=schedule
        ) as svc:
            assert svc.settings.delivery_lease_seconds == 4.0
            police = partner(email=None)
            await svc.events.send(police, source="partners")
            await svc.db.wait_for_partners(police.partner_id)
            signal_id = uuid4()
            peers.contacts[str(signal_id)] = [{"reporter": r, "email": e} for r, e in reporters.items()]
            await svc.events.send(acknowledged(signal_id, police.partner_id))
            [delivery] = await svc.wait_for_status("delivered", timeout=60, signalId=str(signal_id))
            # barrier: delivered is recorded after the last mail, and a delivered delivery is never sent again
            received = Counter(rcpt for rcpts, _ in mailbox.messages for rcpt in rcpts)
            assert received == dict.fromkeys(reporters.values(), 1)
            assert delivery["attempts"] > 1  # it took several attempts: the deadline cut the first one off
