"""Wiring of the signals service: settings, migrations, consumers, periodic tasks, the API."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import ClassVar

from fastapi import FastAPI
from pydantic_settings import SettingsConfigDict

from services.signals import api, consumers, handlers, privacy, privacy_api
from shared.clock import SYSTEM_CLOCK, Clock
from shared.http import create_service_app
from shared.runtime import ServiceRuntime
from shared.settings import ServiceSettings

MIGRATIONS = Path(__file__).parent / "migrations"
DAY = 86400.0


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SIGNALS_")
    service_name: ClassVar[str] = "signals"

    overdue_interval_seconds: float = 30.0
    close_interval_seconds: float = 600.0
    retention_interval_seconds: float = 3600.0
    question_interval_seconds: float = 60.0
    chain_interval_seconds: float = 30.0  # a chain passes a signal on within 60 s of its step's time
    close_after_seconds: float = 14 * DAY
    question_expiry_seconds: float = 7 * DAY
    reopen_window_seconds: float = 14 * DAY
    contact_retention_seconds: float = 30 * DAY
    description_retention_seconds: float = 365 * DAY


def create_app(settings: Settings | None = None, *, clock: Clock = SYSTEM_CLOCK) -> FastAPI:
    settings = settings or Settings()
    runtime = ServiceRuntime(settings, migrations=MIGRATIONS, clock=clock)
    runtime.consume("routing", dict(consumers.HANDLERS))
    close_after = timedelta(seconds=settings.close_after_seconds)
    contacts_after = timedelta(seconds=settings.contact_retention_seconds)
    descriptions_after = timedelta(seconds=settings.description_retention_seconds)
    runtime.every("overdue", settings.overdue_interval_seconds, lambda: runtime.run(handlers.report_overdue))
    runtime.every("close", settings.close_interval_seconds, lambda: runtime.run(handlers.close_resolved, close_after))
    question_expiry = timedelta(seconds=settings.question_expiry_seconds)
    runtime.every(
        "questions",
        settings.question_interval_seconds,
        lambda: runtime.run(handlers.expire_questions, question_expiry),
    )
    runtime.every("chains", settings.chain_interval_seconds, lambda: runtime.run(handlers.pass_on_chains))
    runtime.every(
        "retention",
        settings.retention_interval_seconds,
        lambda: runtime.run(handlers.apply_retention, contacts_after, descriptions_after),
    )
    runtime.every("erasure", settings.retention_interval_seconds, lambda: runtime.run(privacy.sweep_erased))
    return create_service_app(
        service="signals",
        title="Wijkaanpak signals",
        api_version="1.0.0",
        routers=[api.router, privacy_api.router],
        lifespan=runtime.lifespan(),
        readiness=runtime.readiness(),
        log_requests=settings.log_requests,
        description="Intake, routing, duplicates, escalation and feedback of residents' signals.",
    )
