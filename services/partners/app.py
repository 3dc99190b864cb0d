"""Wiring of the partners service: settings, migrations, what the handlers need, and the HTTP app."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import ClassVar, TypeVar

from fastapi import FastAPI
from pydantic_settings import SettingsConfigDict

from services.partners import api, handlers
from services.partners.domain import UrlRules
from shared.clock import SYSTEM_CLOCK, Clock
from shared.crypto import SecretBox
from shared.db import Database, UnitOfWork
from shared.http import create_service_app
from shared.observability import configure_logging
from shared.privacy import shared_tables_router
from shared.runtime import ServiceRuntime
from shared.settings import ServiceSettings

MIGRATIONS = Path(__file__).parent / "migrations"
T = TypeVar("T")


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PARTNERS_")
    service_name: ClassVar[str] = "partners"

    webhook_allowed_hosts: str = ""  # comma-separated (WEBHOOK_ALLOWED_HOSTS); the local stack allows 127.0.0.1
    webhook_allow_http_on_allowed: bool = False
    webhook_secret_overlap_seconds: float = 24 * 3600.0

    @property
    def allowed_hosts(self) -> tuple[str, ...]:
        return tuple(h.strip() for h in self.webhook_allowed_hosts.split(",") if h.strip())

    @property
    def url_rules(self) -> UrlRules:
        return UrlRules(self.allowed_hosts, self.webhook_allow_http_on_allowed)


def config_for(settings: Settings) -> handlers.Config:
    return handlers.Config(
        box=SecretBox(settings.secrets_key),
        rules=settings.url_rules,
        secret_overlap=timedelta(seconds=settings.webhook_secret_overlap_seconds),
    )


def unit_of_work(settings: Settings, db: Database, clock: Clock = SYSTEM_CLOCK) -> UnitOfWork:
    """For the commands (seed, republish), which run without the service's runtime."""
    return UnitOfWork(db, settings.source, settings.topic_prefix, clock)


async def run_command(name: str, work: Callable[[Settings, Database], Awaitable[T]]) -> T:
    """A command (`python -m services.partners.seed`, `.republish`) on the service's migrated schema;
    its events go through the outbox, which the running service's relay publishes."""
    settings = Settings()
    configure_logging(name, settings.log_level)
    db = Database(settings.database_url, settings.db_schema_name, pool_size=2)
    try:
        await db.migrate(MIGRATIONS)
        return await work(settings, db)
    finally:
        await db.dispose()


def create_app(settings: Settings | None = None, *, clock: Clock = SYSTEM_CLOCK) -> FastAPI:
    settings = settings or Settings()
    runtime = ServiceRuntime(settings, migrations=MIGRATIONS, clock=clock)
    app = create_service_app(
        service="partners",
        title="Wijkaanpak partners",
        api_version="1.0.0",
        description=(
            "The directory of the safety partnership's partners: who handles which signals, where and when,"
            " and how they are reached. Changes are published as `partner.*` events."
        ),
        routers=[api.router, api.internal, shared_tables_router()],
        lifespan=runtime.lifespan(),
        readiness=runtime.readiness(),
        log_requests=settings.log_requests,
    )
    app.state.partners = config_for(settings)
    return app
