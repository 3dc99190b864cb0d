"""Wiring of the goals service: settings, consumers, the review-due task, the HTTP API."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from fastapi import FastAPI
from pydantic_settings import SettingsConfigDict

from services.goals import api, consumers, handlers, privacy, privacy_api
from shared.clock import SYSTEM_CLOCK, Clock
from shared.http import create_service_app
from shared.partner_facts import PARTNER_EVENTS
from shared.runtime import ServiceRuntime
from shared.settings import ServiceSettings

MIGRATIONS = Path(__file__).parent / "migrations"


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GOALS_")
    service_name: ClassVar[str] = "goals"

    review_due_interval_seconds: float = 60.0
    review_due_batch_size: int = 200
    erasure_interval_seconds: float = 600.0  # GOALS_ERASURE_INTERVAL_SECONDS: texts of erased proposers


def create_app(settings: Settings | None = None, *, clock: Clock = SYSTEM_CLOCK) -> FastAPI:
    """`clock` is "now" for quarters, years and review-due (tests move it across quarters)."""
    settings = settings or Settings()
    runtime = ServiceRuntime(settings, migrations=MIGRATIONS, clock=clock)
    runtime.consume("partners", dict.fromkeys(PARTNER_EVENTS, consumers.on_partner))
    runtime.consume("statistics", dict.fromkeys(consumers.SIGNAL_EVENTS, consumers.on_signal))
    runtime.consume("residents", dict.fromkeys(consumers.RESIDENT_EVENTS, consumers.on_resident))
    runtime.consume("ratings", dict.fromkeys(consumers.RATING_EVENTS, consumers.on_rating))
    runtime.consume("responsiveness", dict.fromkeys(consumers.RESPONSIVENESS_EVENTS, consumers.on_responsiveness))
    runtime.consume("initiatives", dict.fromkeys(consumers.INITIATIVE_EVENTS, consumers.on_initiative))
    runtime.every(
        "review-due",
        settings.review_due_interval_seconds,
        lambda: tell_reviews_due(runtime, settings.review_due_batch_size),
    )
    runtime.every("erasure", settings.erasure_interval_seconds, lambda: runtime.run(privacy.sweep_erased))
    return create_service_app(
        service="goals",
        title="Wijkaanpak goals",
        api_version="1.0.0",
        description="Shared neighbourhood goals, residents' proposals, quarterly reviews and their measurements.",
        routers=[*api.routers, privacy_api.router],
        lifespan=runtime.lifespan(),
        readiness=runtime.readiness(),
        log_requests=settings.log_requests,
    )


async def tell_reviews_due(runtime: ServiceRuntime, batch_size: int) -> int:
    """Batch after batch, each in a unit of work of its own, until every goal due has been told."""
    told = 0
    while (batch := await runtime.run(handlers.tell_reviews_due, batch_size)) == batch_size:
        told += batch
    return told + batch
