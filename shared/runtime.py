"""What runs inside every service process besides its HTTP API, wired in one place.

`ServiceRuntime` owns the database, the relay's producer, the outbox relay, the consumers and
periodic tasks of one service (among them `messaging-retention`, registered for every service: see
shared.retention); `lifespan` starts them after migrations and, on shutdown
(SIGTERM through uvicorn), stops taking new work, drains what is in flight and closes, all within
`shutdown_seconds`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar

from aiokafka import AIOKafkaProducer
from fastapi import Depends, FastAPI, Request

from shared import retention
from shared.auth import ServiceTokens, authenticator_for
from shared.clock import SYSTEM_CLOCK, Clock
from shared.consumer import ConsumerRunner, Handler
from shared.db import Database, UnitOfWork
from shared.kafka import idempotent_producer
from shared.metrics import kafka_reachable
from shared.observability import configure_logging, get_logger
from shared.outbox import OutboxRelay
from shared.settings import ServiceSettings
from shared.tasks import every, sleep_or_stop

log = get_logger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class Periodic:
    name: str
    seconds: float
    tick: Callable[[], Awaitable[object]]


class ServiceRuntime:
    def __init__(
        self,
        settings: ServiceSettings,
        *,
        migrations: Path | None = None,
        configure_logs: bool = True,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.name = settings.service_name
        self.migrations = migrations
        self.db = Database(settings.database_url, settings.db_schema_name, pool_size=settings.db_pool_size)
        self.authenticator = authenticator_for(settings)
        self.service_tokens = ServiceTokens(
            self.name,
            issuer=settings.auth_issuer,
            audience=settings.auth_audience,
            key_path=settings.service_token_key_path,
            token=settings.service_token,
        )
        self.producer: AIOKafkaProducer | None = None
        self.relay: OutboxRelay | None = None
        self.consumers: list[ConsumerRunner] = []
        self._consumer_specs: list[tuple[str, dict[str, Handler], bool]] = []
        self.periodic: list[Periodic] = []
        self.stop = asyncio.Event()
        self.booted = False  # migrations ran: the API can serve
        self.messaging = False  # producer, relay and consumers started
        self._boot: asyncio.Task[None] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        if configure_logs:
            configure_logging(self.name, settings.log_level)
        self.every("messaging-retention", settings.messaging_retention_interval_seconds, self.purge_messaging)
        self.every("kafka-probe", settings.kafka_probe_seconds, self._probe_kafka)

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.db, self.settings.source, self.settings.topic_prefix, self.clock)

    async def run(self, task: Callable[..., Awaitable[T]], *args: Any) -> T:
        """A periodic task's handler in a unit of work of its own: `task(uow, clock, *args)`."""
        async with self.uow() as uow:
            return await task(uow, self.clock, *args)

    async def purge_messaging(self) -> dict[str, int]:
        """Delete what outlived its retention in the outbox, inbox and idempotency tables."""
        return await retention.purge(
            self.run,
            self.clock,
            retention.sweeps(self.settings),
            batch_size=self.settings.messaging_retention_batch_size,
            service=self.name,
            stop=self.stop,
        )

    def consume(self, consumer: str, handlers: dict[str, Handler], *, ordered: bool = False) -> None:
        """Register a consumer (its own group) for these event types; `ordered`: each aggregate's events
        are applied in `sequence` order across the types (see shared.consumer)."""
        self._consumer_specs.append((consumer, handlers, ordered))

    def every(self, name: str, seconds: float, tick: Callable[[], Awaitable[object]]) -> None:
        self.periodic.append(Periodic(name, seconds, tick))

    async def start(self, wait_seconds: float = 30.0) -> None:
        """Boot in the background: migrations, then messaging (producer, relay, consumers) and the
        periodic tasks.

        The API serves as soon as the migrations ran: intake writes to the outbox, which is the
        point of having one, so a broker that is away delays publishing but never a request.
        Waits up to `wait_seconds` for the database; while it is away the process serves
        `/healthz` and an unready `/readyz` and the boot keeps retrying.
        """
        self._boot = asyncio.create_task(self._boot_with_retry(), name=f"{self.name}:boot")
        await asyncio.wait({self._boot}, timeout=wait_seconds)

    async def _boot_with_retry(self) -> None:
        await self._retrying("service_boot_retry", self._migrate)
        if self.stop.is_set():
            return
        self.booted = True
        for task in self.periodic:
            self._spawn(task.name, every(self.stop, task.seconds, task.tick, task.name))
        await self._retrying("messaging_start_retry", self._start_messaging)
        log.info("service_started", service=self.name, consumers=[c.name for c in self.consumers])

    async def _retrying(self, what: str, step: Callable[[], Awaitable[None]]) -> None:
        delay = self.settings.retry_initial_seconds
        while not self.stop.is_set():
            try:
                await step()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning(what, service=self.name, error=type(exc).__name__, delay=delay)
                if self.producer is not None:
                    with contextlib.suppress(Exception):
                        await self.producer.stop()
                    self.producer = None
                if await sleep_or_stop(self.stop, delay):
                    return
                delay = min(delay * 2, self.settings.retry_max_seconds)

    async def _migrate(self) -> None:
        await self.db.migrate(*([self.migrations] if self.migrations else []))

    async def _start_messaging(self) -> None:
        s = self.settings
        self.producer = idempotent_producer(s.kafka_bootstrap_servers, client_id=f"{self.name}-relay")
        await self.producer.start()
        self.relay = OutboxRelay(
            self.db,
            self.producer,
            service=self.name,
            batch_size=s.relay_batch_size,
            poll_seconds=s.relay_poll_seconds,
            standby_seconds=s.relay_standby_seconds,
            retry_max_seconds=s.retry_max_seconds,
            producer_factory=lambda: idempotent_producer(s.kafka_bootstrap_servers, client_id=f"{self.name}-relay"),
        )
        self._spawn("relay", self.relay.run(self.stop))
        for consumer, handlers, ordered in self._consumer_specs:
            runner = ConsumerRunner(
                name=f"{self.name}.{consumer}",
                db=self.db,
                source=s.source,
                bootstrap=s.kafka_bootstrap_servers,
                group_id=s.consumer_group(consumer),
                handlers=handlers,
                topic_prefix=s.topic_prefix,
                batch_size=s.consumer_batch_size,
                retry_initial_seconds=s.retry_initial_seconds,
                retry_max_seconds=s.retry_max_seconds,
                dlq_producer=self.current_producer,
                clock=self.clock,
                ordered=ordered,
                wait_retry_max_seconds=s.consumer_wait_retry_max_seconds,
                wait_deadline_seconds=s.consumer_wait_deadline_hours * 3600,
            )
            self.consumers.append(runner)
            self._spawn(f"consumer:{consumer}", runner.run(self.stop))
        self.messaging = True

    async def _probe_kafka(self) -> None:
        """`wijkaanpak_kafka_reachable`: a metric and an alert, not a readiness check (see readiness)."""
        try:
            await self.kafka_ready()
        except Exception:
            kafka_reachable.labels(self.name).set(0)
        else:
            kafka_reachable.labels(self.name).set(1)

    def _spawn(self, name: str, coro: Awaitable[None]) -> None:
        async def guarded() -> None:
            try:
                await coro
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("background_task_died", task=name)

        self._tasks.append(asyncio.create_task(guarded(), name=f"{self.name}:{name}"))

    async def close(self, drain_seconds: float | None = None) -> None:
        """Stop taking work, let what is in flight finish, close; all within `shutdown_seconds`.

        Work still running after three quarters of it is cancelled: a consumer's batch not
        committed is redelivered, an outbox row not marked is sent again (consumers dedupe)."""
        budget = self.settings.shutdown_seconds if drain_seconds is None else drain_seconds
        loop = asyncio.get_running_loop()
        deadline = loop.time() + budget
        self.stop.set()
        if self._boot is not None and not self._boot.done():
            self._boot.cancel()
            with contextlib.suppress(BaseException):
                await self._boot
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=budget * 0.75)
            for task in pending:
                task.cancel()
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(
                    asyncio.gather(*pending, return_exceptions=True), max(deadline - loop.time(), 0.1)
                )
            if pending:
                log.warning("service_drain_cut_short", service=self.name, tasks=[t.get_name() for t in pending])
        # a producer flushes on stop, and waits for a broker that may be away: not past the budget
        for closing in ([self.producer.stop()] if self.producer is not None else []) + [self.db.dispose()]:
            try:
                await asyncio.wait_for(closing, max(deadline - loop.time(), 0.5))
            except Exception as exc:
                log.warning("service_close_cut_short", service=self.name, error=type(exc).__name__)
        log.info("service_stopped", service=self.name)

    async def booted_ready(self) -> None:
        if not self.booted:
            raise RuntimeError("still starting: database migrations pending")

    def current_producer(self) -> AIOKafkaProducer:
        """The producer in use: the relay's, which it replaces when the broker lost its state."""
        producer = self.relay.producer if self.relay is not None else self.producer
        if producer is None:
            raise RuntimeError("producer not started")
        return producer

    async def kafka_ready(self) -> None:
        await asyncio.wait_for(self.current_producer().client.fetch_all_metadata(), timeout=3)

    def readiness(self) -> dict[str, Callable[[], Awaitable[None]]]:
        """Ready means "this pod can serve its own API": migrated, and its database answers on the
        probe's own connection (a saturated pool is load, not unreadiness). Kafka is not asked:
        while the broker is away the outbox holds the events, and `wijkaanpak_kafka_reachable`
        with its alert tells the operator."""
        return {"started": self.booted_ready, "database": self.db.probe}

    def lifespan(self) -> Callable[[FastAPI], contextlib.AbstractAsyncContextManager[None]]:
        @contextlib.asynccontextmanager
        async def run(app: FastAPI) -> AsyncIterator[None]:
            app.state.runtime = self
            app.state.clock = self.clock
            app.state.authenticator = self.authenticator
            await self.start(self.settings.startup_wait_seconds)
            try:
                yield
            finally:
                await self.close()

        return run


async def get_runtime(request: Request) -> ServiceRuntime:
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[ServiceRuntime, Depends(get_runtime)]
