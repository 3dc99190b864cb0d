"""The notifications process killed mid-batch (SIGKILL, no drain) and started again."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx

from services.notifications.app import Settings
from tests.notifications.support import (
    Db,
    Events,
    InternalPeers,
    Receiver,
    escalated,
    http_server,
    new_secret,
    own_topics,
    partner,
    settings,
    until,
)
from tests.support import Infra, eventually

ROOT = Path(__file__).resolve().parents[2]


def _env(s: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOTIFICATIONS_")}
    for name, value in s.model_dump().items():
        if value is None or name == "env":
            continue
        env[f"NOTIFICATIONS_{name.upper()}"] = str(value).lower() if isinstance(value, bool) else str(value)
    env["PYTHONPATH"] = str(ROOT)
    return env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _start(s: Settings) -> tuple[asyncio.subprocess.Process, str]:
    port = _free_port()
    factory = "services.notifications.app:create_app"
    process = await asyncio.create_subprocess_exec(
        *[sys.executable, "-m", "uvicorn", "--factory", factory, "--port", str(port)],
        env=_env(s),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    async with httpx.AsyncClient() as client:
        while True:
            try:
                if (await client.get(f"{url}/readyz")).status_code == 200:
                    return process, url
            except httpx.HTTPError:
                pass
            assert process.returncode is None, "notifications exited"
            assert time.monotonic() < deadline, "notifications did not become ready"
            await asyncio.sleep(0.1)


async def test_a_killed_sender_restarted_sends_no_webhook_under_a_second_id(infra: Infra) -> None:
    secret = new_secret()
    receiver, peers = Receiver([secret], delay=0.2), InternalPeers()
    async with (
        own_topics(infra) as prefix,
        http_server(receiver) as hook,
        http_server(peers) as peers_url,
        Events(infra, prefix) as events,
    ):
        s = settings(infra, prefix, peers_url, delivery_concurrency=4, log_level="WARNING")
        first, _ = await _start(s)
        try:
            police = partner(webhook_url=f"{hook}/hook")
            peers.secrets[str(police.partner_id)] = [secret]
            await events.send(police, source="partners")
            await Db(infra, s.db_schema_name).wait_for_partners(police.partner_id)
            sent: list[Any] = [await events.send(escalated(uuid4(), police.partner_id, n)) for n in range(24)]
            await until(lambda: len(receiver.received) >= 6)
        finally:
            first.send_signal(signal.SIGKILL)
            await first.wait()
        killed_at = len(receiver.received)
        assert killed_at < len(sent)

        second, url = await _start(s)
        try:
            expected = {str(e.id) for e in sent}
            await until(lambda: {r.event["id"] for r in receiver.delivered()} >= expected, timeout=40)
            async with httpx.AsyncClient() as client:

                async def all_recorded() -> bool:
                    listed = await client.get(
                        f"{url}/v1/deliveries",
                        params={"status": "delivered", "partnerId": str(police.partner_id)},
                        headers=infra.headers("coordinator"),
                    )
                    return bool(listed.json()["totalCount"] == len(sent))

                await eventually(all_recorded)
        finally:
            second.send_signal(signal.SIGKILL)
            await second.wait()

    ids_per_event: dict[str, set[str]] = defaultdict(set)
    for r in receiver.received:
        ids_per_event[r.event["id"]].add(r.webhook_id)
    assert set(ids_per_event) == {str(e.id) for e in sent}
    assert all(len(ids) == 1 for ids in ids_per_event.values())
    assert all(all(r.valid_for) for r in receiver.received)
