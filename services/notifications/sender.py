"""The sender: takes due deliveries, sends them, records every attempt, decides what comes next.

Several replicas may run it: a delivery is leased (`FOR UPDATE SKIP LOCKED`, then a lease
time) so only one sender holds it; only the earliest open delivery per (subject, target,
channel) is ever due, so an acknowledgement never overtakes its escalation. A sender that dies
mid-send leaves the lease to run out; the next sender sends again with the same `webhook-id`
(at-least-once, as the contract allows). Sleeps on LISTEN/NOTIFY, polls as a safety net.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any
from uuid import UUID

import aiosmtplib
import asyncpg
import httpx
from prometheus_client import Counter, Histogram
from standardwebhooks import Webhook

from services.notifications import domain, store
from services.notifications.domain import Channel, Outcome, Status
from services.notifications.peers import Peers, PeerUnavailable
from shared.clock import SYSTEM_CLOCK, Clock
from shared.db import Database, UnitOfWork
from shared.events.catalog import NotificationDelivered, NotificationFailed
from shared.observability import get_logger
from shared.ssrf import UnsafeUrl, check_webhook_url
from shared.tasks import sleep_or_stop

log = get_logger(__name__)

attempts_total = Counter(
    "wijkaanpak_notification_attempts_total", "Delivery attempts by channel and outcome", ["channel", "outcome"]
)
attempt_seconds = Histogram(
    "wijkaanpak_notification_attempt_seconds",
    "Duration of one delivery attempt",
    ["channel"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15),
)


@dataclass(frozen=True)
class SenderConfig:
    schema: str
    source: str
    topic_prefix: str
    allowed_hosts: tuple[str, ...]
    allow_http_on_allowed: bool
    webhook_timeout_seconds: float
    retry_schedule: tuple[float, ...]
    concurrency: int
    batch_size: int
    lease_seconds: float
    poll_seconds: float
    smtp_host: str
    smtp_port: int
    smtp_username: str | None
    smtp_password: str | None
    smtp_starttls: bool
    smtp_from: str
    public_base_url: str


@dataclass
class Result:
    outcome: Outcome
    status_code: int | None = None
    error: str | None = None
    done_recipients: list[str] | None = None
    enable_webhook: bool = False


WRITE_BATCH = 500
POOL_SHARD_SIZE = 8


@dataclass
class _Finished:
    delivery: store.Delivery
    record: store.AttemptRecord
    state: domain.NextState
    result: Result
    recorded: asyncio.Future[None]


class Sender:
    def __init__(self, db: Database, peers: Peers, config: SenderConfig, clock: Clock = SYSTEM_CLOCK) -> None:
        self.db = db
        self.clock = clock
        self.peers = peers
        self.config = config
        self.wake = asyncio.Event()
        self._inflight: set[asyncio.Task[None]] = set()
        self._finished: asyncio.Queue[_Finished] = asyncio.Queue()
        # httpcore scans its whole pool on every request: several small pools beat one big one
        shards = max(1, math.ceil(config.concurrency / POOL_SHARD_SIZE))
        self._limits = httpx.Limits(max_connections=POOL_SHARD_SIZE, max_keepalive_connections=POOL_SHARD_SIZE)
        self._shared = [self._client() for _ in range(shards)]
        self._pinned: dict[str, list[httpx.AsyncClient]] = {}
        self._turn = itertools.count()

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            timeout=self.config.webhook_timeout_seconds, follow_redirects=False, limits=self._limits
        )

    def _pick(self, pool: list[httpx.AsyncClient]) -> httpx.AsyncClient:
        return pool[next(self._turn) % len(pool)]

    async def close(self) -> None:
        for pool in [self._shared, *self._pinned.values()]:
            for client in pool:
                await client.aclose()

    # --- the loop --------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        listener = asyncio.create_task(self._listen(stop))
        writer = asyncio.create_task(self._write_finished())
        try:
            await self._loop(stop)
        finally:
            if self._inflight:
                await asyncio.gather(*self._inflight, return_exceptions=True)
            for task in (listener, writer):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _loop(self, stop: asyncio.Event) -> None:
        delay = 0.2
        while not stop.is_set():
            self.wake.clear()
            free = self.config.concurrency - len(self._inflight)
            wait = self.config.poll_seconds
            # claim in batches: one claim query per finished send would cost more than the send
            if free >= max(1, self.config.concurrency // 4) or not self._inflight:
                try:
                    async with UnitOfWork(self.db, self.config.source, self.config.topic_prefix, self.clock) as uow:
                        claimed = await store.claim_due(
                            uow.session, min(free, self.config.batch_size), self.config.lease_seconds, self.clock.now()
                        )
                        await uow.commit()
                        partners = await store.channels_for(
                            uow.session, [d.partner_id for d in claimed if d.partner_id is not None]
                        )
                        if not claimed:
                            next_due = await store.next_due_in(uow.session, self.clock.now())
                            if next_due is not None:
                                wait = min(wait, next_due + 0.01)
                    delay = 0.2
                except Exception as exc:
                    log.warning("delivery_claim_failed", error=type(exc).__name__, delay=delay)
                    await sleep_or_stop(stop, delay)
                    delay = min(delay * 2, 10.0)
                    continue
                for delivery in claimed:
                    partner = partners.get(delivery.partner_id) if delivery.partner_id is not None else None
                    task = asyncio.create_task(self._attempt_and_wake(delivery, partner))
                    self._inflight.add(task)
                    task.add_done_callback(self._inflight.discard)
                if claimed:
                    continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake_or_stop(stop), timeout=wait)

    async def _wake_or_stop(self, stop: asyncio.Event) -> None:
        waiters = [asyncio.create_task(self.wake.wait()), asyncio.create_task(stop.wait())]
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiters:
                w.cancel()

    async def _listen(self, stop: asyncio.Event) -> None:
        """LISTEN on a direct connection: the consumer's NOTIFY arrives when its rows are committed."""
        channel = store.wake_channel(self.config.schema)
        while not stop.is_set():
            conn: asyncpg.Connection | None = None
            try:
                conn = await self.db.connect_raw()
                await conn.add_listener(channel, lambda *_: self.wake.set())
                self.wake.set()
                while not stop.is_set() and not conn.is_closed():
                    await sleep_or_stop(stop, 5.0)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("delivery_listen_failed", error=type(exc).__name__)
                await sleep_or_stop(stop, 1.0)
            finally:
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await conn.close()

    async def _attempt_and_wake(self, delivery: store.Delivery, partner: domain.PartnerChannels | None) -> None:
        try:
            await self.attempt(delivery, partner)
        except Exception:
            log.exception("delivery_attempt_crashed", delivery_id=str(delivery.id))
        finally:
            self.wake.set()

    async def send_now(self, delivery_id: UUID) -> None:
        """Send one delivery at once (ping), if it is due and nobody else holds it."""
        async with UnitOfWork(self.db, self.config.source, self.config.topic_prefix, self.clock) as uow:
            claimed = await store.claim_due(
                uow.session, 1, self.config.lease_seconds, self.clock.now(), only=delivery_id
            )
            await uow.commit()
            partners = await store.channels_for(uow.session, [d.partner_id for d in claimed if d.partner_id])
        for delivery in claimed:
            await self.attempt(delivery, partners.get(delivery.partner_id) if delivery.partner_id else None)

    # --- one attempt -----------------------------------------------------------------------------

    async def attempt(self, delivery: store.Delivery, partner: domain.PartnerChannels | None) -> None:
        """Send once; returns when the attempt is recorded (or recording failed: the lease runs out)."""
        at = self.clock.now()
        started = time.perf_counter()
        result = await self._send(delivery, partner)
        duration_ms = round((time.perf_counter() - started) * 1000, 2)
        attempts_total.labels(delivery.channel, result.outcome).inc()
        attempt_seconds.labels(delivery.channel).observe(duration_ms / 1000)
        state = domain.after_attempt(
            result.outcome,
            round_attempt=delivery.round_attempts + 1,
            now=self.clock.now(),
            schedule=self.config.retry_schedule,
        )
        last_error = None if state.status == Status.DELIVERED else (result.error or _code(result.status_code))
        record = store.AttemptRecord(
            delivery.id,
            delivery.claim_token,
            store.Attempt(at, result.status_code, result.error, duration_ms, str(result.outcome)),
            state.status,
            state.next_attempt_at,
            last_error,
            result.done_recipients,
        )
        finished = _Finished(delivery, record, state, result, asyncio.get_running_loop().create_future())
        await self._finished.put(finished)
        await finished.recorded
        if state.disable_webhook and delivery.partner_id is not None:
            self.peers.forget_secrets(delivery.partner_id)
        log.info(
            "delivery_attempted",
            delivery_id=str(delivery.id),
            event_id=str(delivery.event_id),
            channel=str(delivery.channel),
            outcome=str(result.outcome),
            status_code=result.status_code,
            error=result.error,
            duration_ms=duration_ms,
            status=str(state.status),
        )

    async def _write_finished(self) -> None:
        """Records finished attempts in batches: one transaction for all that finished meanwhile."""
        while True:
            batch = [await self._finished.get()]
            while len(batch) < WRITE_BATCH and not self._finished.empty():
                batch.append(self._finished.get_nowait())
            try:
                kept = await self._record(batch)
            except Exception as exc:
                log.warning("delivery_record_failed", error=type(exc).__name__, count=len(batch))
                for f in batch:
                    if not f.recorded.done():
                        f.recorded.set_exception(exc)
                continue
            for f in batch:
                if f.delivery.id not in kept:
                    log.warning("delivery_lease_lost", delivery_id=str(f.delivery.id))
                if not f.recorded.done():
                    f.recorded.set_result(None)

    async def _record(self, batch: list[_Finished]) -> set[UUID]:
        async with UnitOfWork(self.db, self.config.source, self.config.topic_prefix, self.clock) as uow:
            kept = await store.record_attempts(uow.session, [f.record for f in batch])
            for f in batch:
                delivery, state = f.delivery, f.state
                if delivery.id not in kept:
                    continue
                if delivery.partner_id is not None and delivery.channel == Channel.WEBHOOK:
                    if state.disable_webhook:
                        await store.disable_webhook(uow.session, delivery.partner_id)
                    elif f.result.enable_webhook:
                        await store.enable_webhook(uow.session, delivery.partner_id)
                if state.status in (Status.DELIVERED, Status.FAILED):
                    self._emit_outcome(uow, delivery, state.status, f.record.last_error, f.record.attempt.at)
            await uow.commit()
        return kept

    def _emit_outcome(
        self, uow: UnitOfWork, delivery: store.Delivery, status: Status, last_error: str | None, at: datetime
    ) -> None:
        facts: dict[str, Any] = {
            "delivery_id": delivery.id,
            "event_id": delivery.event_id,
            "event_type_delivered": delivery.event_type,
            "channel": str(delivery.channel),
            "target": delivery.target,
            "partner_id": delivery.partner_id,
            "subject": delivery.subject,
            "municipality": delivery.municipality,
            "attempts": delivery.attempts + 1,
            "at": at,
        }
        event = (
            NotificationDelivered(**facts)
            if status == Status.DELIVERED
            else NotificationFailed(**facts, last_error=last_error)
        )
        uow.emit(event, sequence=delivery.attempts + 1, municipality=delivery.municipality)

    async def _send(self, delivery: store.Delivery, partner: domain.PartnerChannels | None) -> Result:
        try:
            if delivery.target == domain.REPORTER:
                return await self._mail_reporters(delivery)
            if delivery.partner_id is None:
                return Result(Outcome.REFUSED, error="no_target")
            if partner is None or not partner.active:
                return Result(Outcome.REFUSED, error="partner_inactive")
            if delivery.channel == Channel.WEBHOOK:
                return await self._post_webhook(delivery, partner)
            if not partner.email:
                return Result(Outcome.REFUSED, error="no_channel")
            mail = domain.partner_mail(delivery.event_type, delivery.data, self._link(delivery))
            await self._mail(partner.email, mail)
            return Result(Outcome.DELIVERED)
        except PeerUnavailable as exc:
            return Result(Outcome.RETRY, error=f"peer_unavailable:{exc}")
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            return Result(Outcome.RETRY, error=type(exc).__name__)

    def _link(self, delivery: store.Delivery) -> str | None:
        return domain.dataref(self.config.public_base_url, delivery.event_type, delivery.subject)

    async def _post_webhook(self, delivery: store.Delivery, partner: domain.PartnerChannels) -> Result:
        url = partner.webhook_url
        is_ping = delivery.event_type == domain.PING
        if not url:
            return Result(Outcome.REFUSED, error="no_channel")
        if partner.webhook_disabled and not is_ping:
            return Result(Outcome.REFUSED, error="channel_disabled")
        try:
            addresses = await check_webhook_url(
                url,
                allowed_hosts=self.config.allowed_hosts,
                allow_http_on_allowed=self.config.allow_http_on_allowed,
            )
        except UnsafeUrl:
            return Result(Outcome.REFUSED, error="unsafe_url")
        secrets = await self.peers.webhook_secrets(partner.partner_id)
        signers = [w for w in (_signer(s) for s in secrets) if w is not None]
        if not signers:
            return Result(Outcome.RETRY, error="no_secret")
        # the receiver checks this against its own wall clock (Standard Webhooks' replay window)
        timestamp = datetime.now(UTC)
        webhook_id = str(delivery.id)
        headers = {
            "content-type": "application/cloudevents+json",
            "webhook-id": webhook_id,
            "webhook-timestamp": str(int(timestamp.timestamp())),
            "webhook-signature": " ".join(w.sign(webhook_id, timestamp, delivery.body) for w in signers),
        }
        client, target_url, extensions = self._route(url, addresses, headers)
        try:
            response = await client.post(
                target_url, content=delivery.body.encode(), headers=headers, extensions=extensions
            )
        except httpx.HTTPError as exc:
            return Result(Outcome.RETRY, error=type(exc).__name__)
        outcome = domain.classify_response(response.status_code)
        return Result(
            outcome,
            status_code=response.status_code,
            enable_webhook=is_ping and outcome == Outcome.DELIVERED and partner.webhook_disabled,
        )

    def _route(
        self, url: str, addresses: list[str], headers: dict[str, str]
    ) -> tuple[httpx.AsyncClient, str, dict[str, Any]]:
        """Allow-listed hosts go as they are; others to the address just checked (no second lookup)."""
        if not addresses:
            return self._pick(self._shared), url, {}
        target_url, host_header, server_name = domain.pin_to_address(url, addresses[0])
        headers["host"] = host_header
        # one pool per name: a pooled TLS connection was verified for exactly that name
        pool = self._pinned.get(server_name)
        if pool is None:
            pool = self._pinned[server_name] = [self._client() for _ in self._shared]
        client = self._pick(pool)
        return client, target_url, {"sni_hostname": server_name}

    async def _mail_reporters(self, delivery: store.Delivery) -> Result:
        contacts = await self.peers.contacts(delivery.subject)
        done = list(delivery.done_recipients)
        mail = domain.reporter_mail(delivery.event_type, delivery.data, self._link(delivery))
        for contact in contacts:
            if contact.reporter in done:
                continue
            try:
                await self._mail(contact.email, mail)
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                return Result(Outcome.RETRY, error=type(exc).__name__, done_recipients=done)
            done.append(contact.reporter)
        return Result(Outcome.DELIVERED, error=None if contacts else "no_contacts", done_recipients=done)

    async def _mail(self, to: str, mail: domain.Mail) -> None:
        message = EmailMessage()
        message["From"] = self.config.smtp_from
        message["To"] = to
        message["Subject"] = mail.subject
        message.set_content(mail.body)
        c = self.config
        await aiosmtplib.send(
            message,
            hostname=c.smtp_host,
            port=c.smtp_port,
            username=c.smtp_username or None,
            password=c.smtp_password or None,
            start_tls=c.smtp_starttls,
            timeout=c.webhook_timeout_seconds,
        )


def _signer(secret: str) -> Webhook | None:
    try:
        return Webhook(secret)
    except Exception:
        return None


def _code(status_code: int | None) -> str | None:
    return f"http_{status_code}" if status_code is not None else None
