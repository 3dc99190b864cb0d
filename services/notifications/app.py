"""Notifications: wiring only (settings, consumers, sender, API).

Retry schedule (`NOTIFICATIONS_DELIVERY_RETRY_SCHEDULE`, seconds after attempt 1, 2, ...):
5 s, 30 s, 2 min, 10 min, 30 min, 1 h, 2 h, 4 h, 8 h, 8 h, each +-25 % jitter: eleven attempts
over about 24 hours, then `notification.failed`. Tests set a schedule of fractions of seconds.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import ClassVar

from fastapi import FastAPI
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.notifications import api, consumers, domain
from services.notifications.peers import Peers
from services.notifications.sender import Sender, SenderConfig
from services.notifications.transport import TransportConfig
from shared.clock import SYSTEM_CLOCK, Clock
from shared.http import create_service_app
from shared.privacy import shared_tables_router
from shared.runtime import ServiceRuntime
from shared.settings import ServiceSettings

MIGRATIONS = Path(__file__).parent / "migrations"


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFICATIONS_")
    service_name: ClassVar[str] = "notifications"

    service_urls_partners: str = "http://127.0.0.1:8002"
    service_urls_signals: str = "http://127.0.0.1:8001"
    service_urls_neighbourhoods: str = "http://127.0.0.1:8005"
    service_urls_goals: str = "http://127.0.0.1:8003"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 2525
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_from: str = "Wijkaanpak <noreply@wijkaanpak.nl>"
    # comma separated (a str, not a list: pydantic-settings would want JSON for a list)
    webhook_allowed_hosts: str = ""
    webhook_allow_http_on_allowed: bool = False
    webhook_timeout_seconds: float = 15.0
    delivery_retry_schedule: str = ",".join(f"{s:g}" for s in domain.DEFAULT_RETRY_SCHEDULE)
    delivery_concurrency: int = Field(default=128, ge=1)
    delivery_batch_size: int = Field(default=200, ge=1)
    delivery_lease_seconds: float = 60.0
    # an attempt (all its mails) is cut off after this, and never after half the lease
    delivery_attempt_deadline_seconds: float = Field(default=25.0, gt=0)
    delivery_poll_seconds: float = 1.0
    secrets_cache_seconds: float = Field(default=60.0, ge=0, le=60)

    @property
    def allowed_hosts(self) -> tuple[str, ...]:
        return tuple(h.strip().lower() for h in self.webhook_allowed_hosts.split(",") if h.strip())

    @property
    def retry_schedule(self) -> tuple[float, ...]:
        return domain.parse_schedule(self.delivery_retry_schedule)


def create_app(settings: Settings | None = None, *, clock: Clock = SYSTEM_CLOCK) -> FastAPI:
    settings = settings or Settings()
    runtime = ServiceRuntime(settings, migrations=MIGRATIONS, clock=clock)
    # httpx logs every request's full url at INFO: a partner's webhook url may carry a token
    logging.getLogger("httpx").setLevel(logging.WARNING)
    runtime.consume("channels", consumers.channel_handlers())
    runtime.consume("signals", consumers.signal_handlers())
    runtime.consume("deliveries", consumers.delivery_handlers(settings.public_base_url), ordered=True)
    peers = Peers(
        partners_url=settings.service_urls_partners,
        signals_url=settings.service_urls_signals,
        neighbourhoods_url=settings.service_urls_neighbourhoods,
        goals_url=settings.service_urls_goals,
        token=runtime.service_tokens.token,
        secrets_cache_seconds=settings.secrets_cache_seconds,
    )
    sender = Sender(
        runtime.db,
        peers,
        SenderConfig(
            schema=settings.db_schema_name,
            source=settings.source,
            topic_prefix=settings.topic_prefix,
            retry_schedule=settings.retry_schedule,
            concurrency=settings.delivery_concurrency,
            batch_size=settings.delivery_batch_size,
            lease_seconds=max(settings.delivery_lease_seconds, settings.webhook_timeout_seconds * 2),
            poll_seconds=settings.delivery_poll_seconds,
            attempt_deadline_seconds=settings.delivery_attempt_deadline_seconds,
            transport=TransportConfig(
                allowed_hosts=settings.allowed_hosts,
                allow_http_on_allowed=settings.webhook_allow_http_on_allowed,
                webhook_timeout_seconds=settings.webhook_timeout_seconds,
                concurrency=settings.delivery_concurrency,
                smtp_host=settings.smtp_host,
                smtp_port=settings.smtp_port,
                smtp_username=settings.smtp_username,
                smtp_password=settings.smtp_password,
                smtp_starttls=settings.smtp_starttls,
                smtp_from=settings.smtp_from,
                public_base_url=settings.public_base_url,
            ),
        ),
        clock,
    )
    # started after the migrations (the runtime's tasks start in order), stopped with the runtime
    runtime.every("sender", 0.05, lambda: _run_once(sender, runtime))
    app = create_service_app(
        service="notifications",
        title="Wijkaanpak notifications",
        api_version="1.0.0",
        routers=[api.router, shared_tables_router()],
        lifespan=runtime.lifespan(),
        readiness=runtime.readiness(),
        log_requests=settings.log_requests,
        description="Deliveries of signed webhooks (CloudEvents, Standard Webhooks) and e-mail.",
    )
    app.state.sender = sender
    app.state.peers = peers
    return app


async def _run_once(sender: Sender, runtime: ServiceRuntime) -> None:
    """The sender runs until the runtime stops; `every` restarts it if it ever returns early."""
    try:
        await sender.run(runtime.stop)
    finally:
        if runtime.stop.is_set():
            await asyncio.shield(_close(sender))


async def _close(sender: Sender) -> None:
    await sender.close()
    await sender.peers.close()
