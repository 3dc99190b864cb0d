"""The whole platform for the gateway's tests: the five real services and the gateway, each on a
free port of 127.0.0.1 (uvicorn, lifespans running), on the session's real PostgreSQL and Kafka,
with schemas, topics and consumer groups of their own; plus a partner's webhook receiver.

The gateway's upstream clients go through a counting transport, so tests can prove how many
calls a query made to each service.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import secrets
import socket
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal
from uuid import UUID

import asyncpg
import httpx
import pytest
import pytest_asyncio
import uvicorn

from gateway.app import create_app as create_gateway
from gateway.feed import SignalFeed
from gateway.settings import Settings as GatewaySettings
from services.goals.app import Settings as GoalsSettings
from services.goals.app import create_app as create_goals
from services.neighbourhoods.app import Settings as NeighbourhoodsSettings
from services.neighbourhoods.app import create_app as create_neighbourhoods
from services.neighbourhoods.areas import DEMO_FILE, load_file
from services.notifications.app import Settings as NotificationsSettings
from services.notifications.app import create_app as create_notifications
from services.partners.app import Settings as PartnersSettings
from services.partners.app import create_app as create_partners
from services.signals.app import Settings as SignalsSettings
from services.signals.app import create_app as create_signals
from shared.db import asyncpg_dsn
from shared.kafka import ensure_topics
from tests.support import Infra, eventually

GM = "GM0479"


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextlib.asynccontextmanager
async def uvicorn_on(app: Any, sock: socket.socket, *, lifespan: Literal["on", "off"] = "on") -> AsyncIterator[str]:
    """Serve an ASGI app on a bound socket until the block ends; yields its base URL."""
    config = uvicorn.Config(app, log_level="warning", lifespan=lifespan, access_log=False, ws="websockets-sansio")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    deadline = time.monotonic() + 60
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("server stopped during startup")
        if time.monotonic() > deadline:
            raise RuntimeError("server did not start in time")
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, timeout=30)
        sock.close()


class CountingTransport(httpx.AsyncBaseTransport):
    """Real HTTP to a service, counting each request by (service, method, path)."""

    def __init__(self, service: str, calls: Counter[tuple[str, str, str]]) -> None:
        self.service = service
        self.calls = calls
        self.inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls[(self.service, request.method, request.url.path)] += 1
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


class Receiver:
    """A partner's webhook endpoint: records every request and answers 204."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.paths: list[str] = []  # the path of each request, in the same order

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        self.paths.append(str(scope["path"]))
        self.requests.append((headers, body))
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})


@dataclass
class Platform:
    infra: Infra
    gateway: httpx.AsyncClient
    gateway_url: str
    receiver: Receiver
    receiver_url: str
    schemas: dict[str, str]
    calls: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    feed: SignalFeed | None = None

    async def subscribers(self, count: int) -> None:
        """Wait until exactly `count` subscriptions are registered with the gateway's live feed (one
        registered is sent every event the feed reads from then on)."""
        feed = self.feed
        assert feed is not None, "the gateway runs without subscriptions"

        async def registered() -> bool:
            return len(feed._subscribers) == count

        await eventually(registered, timeout=15, interval=0.02)

    def headers(self, role: str, municipalities: tuple[str, ...] = (GM,), **kw: Any) -> dict[str, str]:
        return self.infra.headers(role, municipalities, **kw)

    async def graphql(self, headers: dict[str, str], query: str, **variables: Any) -> dict[str, Any]:
        response = await self.gateway.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
        body: dict[str, Any] = response.json()
        return body

    async def data(self, headers: dict[str, str], query: str, **variables: Any) -> dict[str, Any]:
        """The answer's data; fails the test on any error."""
        body = await self.graphql(headers, query, **variables)
        assert "errors" not in body, body["errors"]
        data: dict[str, Any] = body["data"]
        return data

    def calls_to(self, service: str) -> int:
        return sum(n for (s, _, _), n in self.calls.items() if s == service)

    async def partner_known_to_signals(self, partner_id: str, version: int = 1) -> None:
        """Routing facts arrive by events: wait until signals' read model holds this version."""
        conn = await asyncpg.connect(
            asyncpg_dsn(self.infra.database_url), server_settings={"search_path": self.schemas["signals"]}
        )
        try:

            async def applied() -> bool:
                found = await conn.fetchval("SELECT version FROM partners WHERE partner_id = $1", UUID(partner_id))
                return found is not None and found >= version

            await eventually(applied, timeout=30)
        finally:
            await conn.close()


_DISTRICTS = list(range(100))
random.SystemRandom().shuffle(_DISTRICTS)


def fresh_area() -> tuple[str, str]:
    """(WK, BU) codes of GM0479 no other test of the session uses (each district once), so reports
    neither merge nor route across tests; the platform's schemas are its own, so other sessions do not count."""
    district = _DISTRICTS.pop()
    return f"WK0479{district:02d}", f"BU0479{district:02d}{secrets.randbelow(100):02d}"


def reserve_district(district: int) -> None:
    """Keep WK0479<district> from fresh_area (call at import, before any test runs): a test module's own."""
    if district in _DISTRICTS:
        _DISTRICTS.remove(district)


@pytest.fixture(scope="session")
def receiver() -> Iterator[Receiver]:
    yield Receiver()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def platform(session_infra: Infra, receiver: Receiver) -> AsyncIterator[Platform]:
    async with running_platform(session_infra, receiver) as running:  # one platform serves the whole session
        yield running


@contextlib.asynccontextmanager
async def running_platform(infra: Infra, receiver: Receiver) -> AsyncIterator[Platform]:
    """The four services and the gateway on topics and schemas of their own, until the block ends."""
    run = f"gw{secrets.token_hex(3)}"
    prefix = f"{infra.topic_prefix}{run}."
    await ensure_topics(infra.kafka, prefix, partitions=3)
    services = ("signals", "partners", "goals", "notifications", "neighbourhoods")
    schemas = {name: f"{run}_{name}" for name in services}
    sockets = {name: free_socket() for name in (*services, "gateway", "hooks")}
    urls = {name: f"http://127.0.0.1:{s.getsockname()[1]}" for name, s in sockets.items()}
    common: dict[str, Any] = {
        "topic_prefix": prefix,
        "consumer_group_prefix": f"{infra.run_id}.{run}.",
        "public_base_url": urls["gateway"],
        "secrets_key": secrets.token_urlsafe(32),
        "resident_ref_key": secrets.token_urlsafe(32),  # one key: goals and neighbourhoods derive the same pseudonym
    }
    hooks = {"webhook_allowed_hosts": "127.0.0.1", "webhook_allow_http_on_allowed": True}
    calls: Counter[tuple[str, str, str]] = Counter()
    gateway_settings = infra.settings(
        GatewaySettings,
        **common,
        **{f"service_urls_{name}": urls[name] for name in schemas},
        rate_limit_per_second=1000.0,
        rate_limit_burst=1000,
    )
    apps = {
        "partners": create_partners(infra.settings(PartnersSettings, db_schema=schemas["partners"], **common, **hooks)),
        "signals": create_signals(
            infra.settings(SignalsSettings, db_schema=schemas["signals"], overdue_interval_seconds=1.0, **common)
        ),
        "goals": create_goals(infra.settings(GoalsSettings, db_schema=schemas["goals"], **common)),
        "notifications": create_notifications(
            infra.settings(
                NotificationsSettings,
                db_schema=schemas["notifications"],
                service_urls_partners=urls["partners"],
                service_urls_signals=urls["signals"],
                delivery_poll_seconds=0.2,
                **common,
                **hooks,
            )
        ),
    }
    neighbourhoods = infra.settings(NeighbourhoodsSettings, db_schema=schemas["neighbourhoods"], **common)
    await load_file(neighbourhoods, DEMO_FILE)  # Zaanstad's CBS 2014 wijken and buurten, with boundaries
    apps["neighbourhoods"] = create_neighbourhoods(neighbourhoods)
    gateway = create_gateway(gateway_settings, transports={name: CountingTransport(name, calls) for name in schemas})
    async with contextlib.AsyncExitStack() as stack:
        receiver_url = await stack.enter_async_context(uvicorn_on(receiver, sockets["hooks"], lifespan="off"))
        for name, app in apps.items():
            await stack.enter_async_context(uvicorn_on(app, sockets[name]))
        gateway_url = await stack.enter_async_context(uvicorn_on(gateway, sockets["gateway"]))
        client = await stack.enter_async_context(httpx.AsyncClient(base_url=gateway_url, timeout=30))
        feed = gateway.state.feed
        await asyncio.wait_for(feed.ready.wait(), timeout=30)
        yield Platform(infra, client, gateway_url, receiver, receiver_url, schemas, calls, feed)
