"""Peers at the edge of the notifications service, real on 127.0.0.1: a partner's webhook
receiver that verifies every signature as a partner would, the two internal endpoints of
partners and signals, and an SMTP server. The database and Kafka are the real ones of `infra`."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import secrets
import socket
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import Message
from email.policy import default as default_policy
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import jwt
import orjson
import uvicorn
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiosmtpd.controller import Controller
from standardwebhooks import Webhook

from services.notifications.app import Settings
from services.notifications.consumers import PARTNER_EVENTS, SIGNAL_EVENTS
from services.notifications.domain import HANDLED_EVENTS
from shared.db import asyncpg_dsn
from shared.events.catalog import (
    EventData,
    PartnerRegistered,
    SignalAcknowledged,
    SignalEscalated,
    SignalOverdue,
    SignalReopened,
    dlq_topic,
)
from shared.events.codes import Category, PartnerKind, SignalStatus, Urgency
from shared.events.envelope import CloudEvent, envelope, to_json
from shared.kafka import catalog_topics
from tests.support import Infra

Scope = dict[str, Any]
GM = "GM0479"
AREA = "BU04790101"


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


@contextlib.asynccontextmanager
async def http_server(app: Any, *, lifespan: bool = False) -> AsyncIterator[str]:
    """An ASGI app served by uvicorn on a free port of 127.0.0.1; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            log_level="warning",
            lifespan="on" if lifespan else "off",
            access_log=False,
            timeout_graceful_shutdown=1,
        )
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:  # noqa: ASYNC110 (uvicorn offers no event for this)
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    status: int
    valid_for: list[bool]

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = orjson.loads(self.body)
        return parsed


@dataclass
class Receiver:
    """A partner's webhook endpoint: verifies each request with every secret it knows."""

    secrets: list[str]
    answer: Callable[[int], int] = lambda n: 204
    delay: float = 0.0
    received: list[Received] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        if self.delay:
            await asyncio.sleep(self.delay)
        valid = []
        for secret in self.secrets:
            try:
                Webhook(secret).verify(body, headers)
                valid.append(True)
            except Exception:
                valid.append(False)
        status = self.answer(len(self.received) + 1)
        self.received.append(Received(headers, body, status, valid))
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    def delivered(self) -> list[Received]:
        return [r for r in self.received if 200 <= r.status < 300]


@dataclass
class InternalPeers:
    """The partners, signals, neighbourhoods and goals services' internal endpoints, answering for
    the test's data as those services would."""

    secrets: dict[str, list[str]] = field(default_factory=dict)
    contacts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    leaders: dict[str, str | None] = field(default_factory=dict)  # initiative id -> the leader's address
    proposers: dict[str, str | None] = field(default_factory=dict)  # proposal id -> the proposer's address
    calls: list[tuple[str, str]] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        token = headers.get("authorization", "").removeprefix("Bearer ")
        claims = jwt.decode(token, options={"verify_signature": False})
        path: str = scope["path"]
        self.calls.append((claims.get("sub", ""), path))
        status: int = 404
        body: dict[str, Any] = {"title": "not found"}
        if "service" not in claims.get("roles", []) or claims.get("sub") != "notifications":
            status, body = 403, {"title": "service credentials required"}
        elif path.startswith("/internal/v1/partners/") and path.endswith("/webhook-secrets"):
            partner = path.split("/")[4]
            if partner in self.secrets:
                status, body = 200, {"secrets": self.secrets[partner]}
        elif path.startswith("/internal/v1/signals/") and path.endswith("/contacts"):
            signal = path.split("/")[4]
            status, body = 200, {"contacts": self.contacts.get(signal, [])}
        elif path.startswith("/v1/initiatives/") and path.endswith("/leader-contact"):
            initiative = path.split("/")[3]
            if initiative in self.leaders:
                status, body = 200, {"email": self.leaders[initiative]}
        elif path.startswith("/internal/v1/goal-proposals/") and path.endswith("/contact"):
            proposal = path.split("/")[4]
            if proposal in self.proposers:
                status, body = 200, {"email": self.proposers[proposal]}
        await send(
            {"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]}
        )
        await send({"type": "http.response.body", "body": orjson.dumps(body)})


class Mailbox:
    """aiosmtpd handler that keeps every message."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Message]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.original_content or envelope.content
        self.messages.append((list(envelope.rcpt_tos), message_from_bytes(content, policy=default_policy)))
        return "250 OK"


@contextlib.contextmanager
def smtp_server(port: int | None = None) -> Any:
    mailbox = Mailbox()
    if port is None:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        sock.close()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()


# what the notifications service consumes and emits, and the dead-letter topics of the first
NOTIFICATION_TOPICS = (*PARTNER_EVENTS, *SIGNAL_EVENTS, *HANDLED_EVENTS)
EMITTED_TOPICS = ("notification.delivered", "notification.failed")


@contextlib.asynccontextmanager
async def own_topics(infra: Infra, *, every_type: bool = False) -> AsyncIterator[str]:
    """A topic prefix of this test's own, so no other test's events reach its service.

    Only the topics the service uses (one partition each; `every_type` for tests that run the
    other services too), deleted afterwards: the broker is shared by every test session.
    Waits until every new partition has a leader: a consumer that subscribes earlier would
    only see the topics at its next metadata refresh (minutes).
    """
    prefix = f"{infra.topic_prefix}n{secrets.token_hex(3)}."
    if every_type:
        wanted = set(catalog_topics(prefix))
    else:
        used = [prefix + t for t in (*NOTIFICATION_TOPICS, *EMITTED_TOPICS)]
        wanted = {*used, *(dlq_topic(prefix + t) for t in NOTIFICATION_TOPICS)}
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.kafka, request_timeout_ms=20000)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name=t, num_partitions=1, replication_factor=1) for t in sorted(wanted)])
        await _leaders(infra, wanted)
        yield prefix
    finally:
        with contextlib.suppress(Exception):
            await admin.delete_topics(sorted(wanted))
        await admin.close()


async def _leaders(infra: Infra, wanted: set[str]) -> None:
    probe = AIOKafkaProducer(bootstrap_servers=infra.kafka)
    await probe.start()
    try:
        deadline = time.monotonic() + 30
        while True:
            cluster = await probe.client.fetch_all_metadata()
            ready = {
                t
                for t in wanted
                if (parts := cluster.partitions_for_topic(t))
                and all((cluster.leader_for_partition(TopicPartition(t, p)) or -1) >= 0 for p in parts)
            }
            if ready == wanted:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"topics without leaders: {sorted(wanted - ready)[:5]}")
            await asyncio.sleep(0.1)
    finally:
        await probe.stop()


def settings(infra: Infra, prefix: str, peers_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "db_schema": f"notifications_{secrets.token_hex(3)}",
        "topic_prefix": prefix,
        "consumer_group_prefix": f"{prefix}",
        "service_urls_partners": peers_url,
        "service_urls_signals": peers_url,
        "service_urls_neighbourhoods": peers_url,
        "service_urls_goals": peers_url,
        "webhook_allowed_hosts": "127.0.0.1",
        "webhook_allow_http_on_allowed": True,
        "webhook_timeout_seconds": 2.0,
        "delivery_retry_schedule": "0.2,0.2,0.2,0.2,0.2,0.2,0.2,0.2",
        "delivery_poll_seconds": 0.2,
        "delivery_lease_seconds": 4.0,
        "public_base_url": "https://gateway.example.nl",
        "smtp_port": 1,
    }
    values.update(overrides)
    return infra.settings(Settings, **values)


class Events:
    """Produces catalog events onto the test's topics, as the other services' relays would."""

    def __init__(self, infra: Infra, prefix: str) -> None:
        self.infra = infra
        self.prefix = prefix
        self.producer = AIOKafkaProducer(bootstrap_servers=infra.kafka, enable_idempotence=True, acks="all")

    async def __aenter__(self) -> Events:
        await self.producer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.producer.stop()

    async def send(self, data: EventData, *, sequence: int = 1, source: str = "signals") -> CloudEvent:
        event = envelope(data, source=f"urn:nld:wijkaanpak:{source}", sequence=sequence, municipality=GM)
        await self.resend(event)
        return event

    async def resend(self, event: CloudEvent) -> None:
        await self.producer.send_and_wait(
            self.prefix + event.event_type, value=to_json(event), key=event.subject.encode()
        )


def partner(
    *,
    kind: PartnerKind = PartnerKind.POLICE,
    webhook_url: str | None = None,
    email: str | None = None,
    version: int = 1,
    partner_id: UUID | None = None,
    areas: list[str] | None = None,
) -> PartnerRegistered:
    return PartnerRegistered(
        partner_id=partner_id or uuid4(),
        name="Politie Zaanstad",
        kind=kind,
        municipalities=[GM],
        areas=areas or [GM],
        categories=[Category.LITTER_DUMPING],
        acknowledge_within_minutes=60,
        registered_at=datetime.now(UTC),
        version=version,
        webhook_url=webhook_url,
        email=email,
    )


def facts(signal_id: UUID, n: int = 1) -> dict[str, Any]:
    return {
        "signal_id": signal_id,
        "reference": f"SIG-2026-{n:06d}",
        "municipality": GM,
        "area": AREA,
        "category": Category.LITTER_DUMPING,
        "urgency": Urgency.HIGH,
    }


def escalated(signal_id: UUID, partner_id: UUID, n: int = 1) -> SignalEscalated:
    now = datetime.now(UTC)
    return SignalEscalated(
        **facts(signal_id, n),
        status=SignalStatus.ESCALATED,
        partner_id=partner_id,
        escalated_at=now,
        acknowledge_by=now + timedelta(hours=1),
    )


def overdue(signal_id: UUID, partner_id: UUID, n: int = 1) -> SignalOverdue:
    now = datetime.now(UTC)
    return SignalOverdue(
        **facts(signal_id, n),
        status=SignalStatus.ESCALATED,
        partner_id=partner_id,
        escalated_at=now - timedelta(hours=1),
        acknowledge_by=now,
    )


def reopened(signal_id: UUID, partner_id: UUID, n: int = 1) -> SignalReopened:
    return SignalReopened(
        **facts(signal_id, n), status=SignalStatus.REOPENED, partner_id=partner_id, reopened_at=datetime.now(UTC)
    )


def acknowledged(signal_id: UUID, partner_id: UUID, group_id: UUID | None = None) -> SignalAcknowledged:
    return SignalAcknowledged(
        **facts(signal_id),
        status=SignalStatus.ACKNOWLEDGED,
        partner_id=partner_id,
        acknowledged_at=datetime.now(UTC),
        group_id=group_id,
    )


class Db:
    """Direct reads of the service's own tables, only to wait for its read model in tests."""

    def __init__(self, infra: Infra, schema: str) -> None:
        self.dsn = asyncpg_dsn(infra.database_url)
        self.schema = schema

    async def fetchval(self, sql: str, *args: Any) -> Any:
        conn = await asyncpg.connect(self.dsn, server_settings={"search_path": self.schema})
        try:
            return await conn.fetchval(sql, *args)
        finally:
            await conn.close()

    async def wait_for_partners(self, *partner_ids: UUID, version: int = 1, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(asyncpg.UndefinedTableError):
                n = await self.fetchval(
                    "SELECT count(*) FROM channels WHERE partner_id = ANY($1::uuid[]) AND version >= $2",
                    list(partner_ids),
                    version,
                )
                if n == len(partner_ids):
                    return
            if time.monotonic() > deadline:
                raise AssertionError("partners did not reach the read model")
            await asyncio.sleep(0.05)


async def until(check: Callable[[], bool], timeout: float = 20, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(interval)


@dataclass
class Running:
    client: Any
    events: Events
    db: Db
    prefix: str
    settings: Settings
    infra: Infra

    def reader_infra(self) -> Infra:
        """`infra` as seen with this test's topic prefix (for `TopicReader`)."""
        return dataclasses.replace(self.infra, topic_prefix=self.prefix)

    async def deliveries(self, role: str = "coordinator", **params: Any) -> list[dict[str, Any]]:
        r = await self.client.get("/v1/deliveries", params=params, headers=self.infra.headers(role, [GM]))
        assert r.status_code == 200, r.text
        results: list[dict[str, Any]] = r.json()["results"]
        return results

    async def wait_for_status(self, status: str, count: int = 1, timeout: float = 20, **params: Any) -> list[Any]:
        deadline = time.monotonic() + timeout
        while True:
            found = [d for d in await self.deliveries(**params) if d["status"] == status]
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"not {count} deliveries {status}: {await self.deliveries(**params)}")
            await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def running(infra: Infra, peers: InternalPeers, **overrides: Any) -> AsyncIterator[Running]:
    """The notifications service on this test's own topics and schema, with peers served."""
    from services.notifications.app import create_app
    from tests.support import serve

    async with own_topics(infra) as prefix, http_server(peers) as peers_url:
        s = settings(infra, prefix, peers_url, **overrides)
        async with serve(create_app(s)) as client, Events(infra, prefix) as events:
            yield Running(client, events, Db(infra, s.db_schema_name), prefix, s, infra)
