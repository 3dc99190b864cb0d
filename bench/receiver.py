"""A partner's webhook endpoint for the benchmarks and fault injection: a real HTTP server on 127.0.0.1.

Every request to `/hooks/<name>` is verified with `standardwebhooks` against the secret of the
partner registered under that name (as a partner's system would), and recorded: webhook-id,
event type, subject, arrival time, the answer given. `fail_for(seconds)` makes it answer 500
for a while (the retries then reuse the webhook-id; a second id for one event would be a
duplicated effect).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError


@dataclass(frozen=True)
class Arrival:
    webhook_id: str
    event_type: str
    subject: str
    target: str
    at: float  # wall clock, time.time()
    status: int  # what the receiver answered
    valid: bool  # the signature verified


@dataclass
class Receiver:
    secrets: dict[str, str] = field(default_factory=dict)  # target name -> whsec_ secret
    arrivals: list[Arrival] = field(default_factory=list)
    failing_until: float = 0.0

    def fail_for(self, seconds: float) -> None:
        self.failing_until = time.time() + seconds

    def healthy(self) -> None:
        self.failing_until = 0.0

    def delivered(self) -> list[Arrival]:
        """The attempts that were answered 2xx and carried a valid signature."""
        return [a for a in self.arrivals if a.valid and a.status < 300]

    def invalid(self) -> int:
        return sum(1 for a in self.arrivals if not a.valid)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if scope["path"] == "/ping":  # the receiver's own ceiling, for the webhook baseline; not recorded
            await send({"type": "http.response.start", "status": 204, "headers": [(b"content-length", b"0")]})
            await send({"type": "http.response.body", "body": b""})
            return
        now = time.time()
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        target = scope["path"].rsplit("/", 1)[-1]
        secret = self.secrets.get(target)
        valid = False
        event: dict[str, Any] = {}
        if secret is not None:
            try:
                event = Webhook(secret).verify(body, headers)
                valid = True
            except (WebhookVerificationError, ValueError):
                valid = False
        status = 500 if now < self.failing_until else (204 if valid else 400)
        self.arrivals.append(
            Arrival(
                webhook_id=headers.get("webhook-id", ""),
                event_type=str(event.get("type", "")).removeprefix("nl.wijkaanpak."),
                subject=str(event.get("subject", "")),
                target=target,
                at=now,
                status=status,
                valid=valid,
            )
        )
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})


def bound_socket(port: int = 0) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    return sock


@contextlib.asynccontextmanager
async def serving(receiver: Receiver) -> AsyncIterator[str]:
    """The receiver on a free port of 127.0.0.1 until the block ends; yields its base URL."""
    sock = bound_socket()
    config = uvicorn.Config(receiver, log_level="warning", lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("webhook receiver stopped during start-up")
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, timeout=10)
        sock.close()
