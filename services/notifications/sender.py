"""The sender: takes due deliveries, sends them (`transport`), and has every attempt recorded
(`handlers.record_attempts`, which decides what comes next and announces what is done).

Several replicas may run it: a delivery is leased (`FOR UPDATE SKIP LOCKED`, then a lease
time) so only one sender holds it; only the earliest open delivery per (subject, target,
channel) is ever due, so an acknowledgement never overtakes its escalation. A sender that dies
mid-send leaves the lease to run out; the next sender sends again with the same `webhook-id`
(at-least-once, as the contract allows). Sleeps on LISTEN/NOTIFY, polls as a safety net.

An attempt never outlives its lease: no mail is begun that could end after
`attempt_deadline_seconds` (at most half the lease), and whatever still runs at three quarters of
the lease is cut off; either way the attempt is recorded as a retry, so no other sender takes the
delivery while it is still being sent. Each reporter mailed is recorded the moment the SMTP
server took the mail (the delivery's `done_recipients`), so a retry, a takeover or a crash
mid-attempt never mails them twice. (A mail the server took after we gave up waiting cannot be
known, as with any SMTP client; so a mail is never cut off by the deadline, only by its timeout.)
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from uuid import UUID

import asyncpg
from prometheus_client import Counter, Histogram

from services.notifications import handlers
from services.notifications.domain import REPORTER, Attempt, Delivery, Outcome, PartnerChannels
from services.notifications.peers import Peers
from services.notifications.store import channels, queue
from services.notifications.transport import Result, Transport, TransportConfig
from shared.clock import SYSTEM_CLOCK, Clock
from shared.db import Database, UnitOfWork
from shared.observability import get_logger
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

WRITE_BATCH = 500


@dataclass(frozen=True)
class SenderConfig:
    schema: str
    source: str
    topic_prefix: str
    retry_schedule: tuple[float, ...]
    concurrency: int
    batch_size: int
    lease_seconds: float
    poll_seconds: float
    transport: TransportConfig
    attempt_deadline_seconds: float = 0.0  # 0 or more than half the lease: half the lease

    @property
    def attempt_deadline(self) -> float:
        half = self.lease_seconds / 2
        return min(self.attempt_deadline_seconds, half) if self.attempt_deadline_seconds > 0 else half


@dataclass
class _Finished:
    attempted: handlers.Attempted
    recorded: asyncio.Future[handlers.Recorded]


class Sender:
    def __init__(self, db: Database, peers: Peers, config: SenderConfig, clock: Clock = SYSTEM_CLOCK) -> None:
        self.db = db
        self.clock = clock
        self.peers = peers
        self.config = config
        self.transport = Transport(peers, config.transport)
        self.wake = asyncio.Event()
        self._inflight: set[asyncio.Task[None]] = set()
        self._finished: asyncio.Queue[_Finished] = asyncio.Queue()

    def _uow(self) -> UnitOfWork:
        return UnitOfWork(self.db, self.config.source, self.config.topic_prefix, self.clock)

    async def close(self) -> None:
        await self.transport.close()

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
                    claimed, partners, next_due = await self._claim(min(free, self.config.batch_size))
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

    async def _claim(
        self, limit: int, only: UUID | None = None
    ) -> tuple[list[Delivery], dict[UUID, PartnerChannels], float | None]:
        """Lease due deliveries (committed at once), their partners' channels, and, when none is
        due, the seconds until the next one is."""
        async with self._uow() as uow:
            claimed = await queue.claim_due(uow.session, limit, self.config.lease_seconds, self.clock.now(), only)
            await uow.commit()
            partners = await channels.channels_for(
                uow.session, [d.partner_id for d in claimed if d.partner_id is not None]
            )
            next_due = None
            if not claimed and only is None:
                next_due = await queue.next_due_in(uow.session, self.clock.now())
        return claimed, partners, next_due

    async def _wake_or_stop(self, stop: asyncio.Event) -> None:
        waiters = [asyncio.create_task(self.wake.wait()), asyncio.create_task(stop.wait())]
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiters:
                w.cancel()

    async def _listen(self, stop: asyncio.Event) -> None:
        """LISTEN on a direct connection: the consumer's NOTIFY arrives when its rows are committed."""
        channel = queue.wake_channel(self.config.schema)
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

    async def _attempt_and_wake(self, delivery: Delivery, partner: PartnerChannels | None) -> None:
        try:
            await self.attempt(delivery, partner)
        except Exception:
            log.exception("delivery_attempt_crashed", delivery_id=str(delivery.id))
        finally:
            self.wake.set()

    async def send_now(self, delivery_id: UUID) -> None:
        """Send one delivery at once (ping), if it is due and nobody else holds it."""
        claimed, partners, _ = await self._claim(1, only=delivery_id)
        for delivery in claimed:
            await self.attempt(delivery, partners.get(delivery.partner_id) if delivery.partner_id else None)

    # --- one attempt -----------------------------------------------------------------------------

    async def attempt(self, delivery: Delivery, partner: PartnerChannels | None) -> None:
        """Send once; returns when the attempt is recorded (or recording failed: the lease runs out)."""
        at = self.clock.now()
        started = time.perf_counter()
        result = await self._send_within_deadline(delivery, partner)
        duration_ms = round((time.perf_counter() - started) * 1000, 2)
        attempts_total.labels(delivery.channel, result.outcome).inc()
        attempt_seconds.labels(delivery.channel).observe(duration_ms / 1000)
        attempt = Attempt(at, result.status_code, result.error, duration_ms, str(result.outcome))
        attempted = handlers.Attempted(delivery, attempt, result.done_recipients, result.enable_webhook)
        finished = _Finished(attempted, asyncio.get_running_loop().create_future())
        await self._finished.put(finished)
        recorded = await finished.recorded
        if recorded.state.disable_webhook and delivery.partner_id is not None:
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
            status=str(recorded.state.status),
        )

    async def _send_within_deadline(self, delivery: Delivery, partner: PartnerChannels | None) -> Result:
        """The transport's send, cut off at the attempt deadline (then a retry, with whom it mailed)."""
        done = list(delivery.done_recipients)

        async def mailed(reporter: str) -> None:
            done.append(reporter)
            async with self._uow() as uow:
                await queue.record_recipient(uow.session, delivery.id, reporter)
                await uow.commit()

        # mails stop being begun at the deadline; anything else still running is cut off well
        # before the lease ends (the deadline is at most half the lease)
        deadline = time.monotonic() + self.config.attempt_deadline
        try:
            async with asyncio.timeout(self.config.lease_seconds * 0.75):
                return await self.transport.send(delivery, partner, mailed, deadline)
        except TimeoutError:
            log.warning("delivery_attempt_deadline", delivery_id=str(delivery.id), seconds=self.config.attempt_deadline)
            return Result(
                Outcome.RETRY,
                error="attempt_deadline",
                done_recipients=done if delivery.target == REPORTER else None,
            )

    async def _write_finished(self) -> None:
        """Records finished attempts in batches: one transaction for all that finished meanwhile."""
        while True:
            batch = [await self._finished.get()]
            while len(batch) < WRITE_BATCH and not self._finished.empty():
                batch.append(self._finished.get_nowait())
            try:
                async with self._uow() as uow:
                    recorded = await handlers.record_attempts(
                        uow, [f.attempted for f in batch], self.clock, schedule=self.config.retry_schedule
                    )
            except Exception as exc:
                log.warning("delivery_record_failed", error=type(exc).__name__, count=len(batch))
                for f in batch:
                    if not f.recorded.done():
                        f.recorded.set_exception(exc)
                continue
            for f, r in zip(batch, recorded, strict=True):
                if not r.kept:
                    log.warning("delivery_lease_lost", delivery_id=str(f.attempted.delivery.id))
                if not f.recorded.done():
                    f.recorded.set_result(r)
