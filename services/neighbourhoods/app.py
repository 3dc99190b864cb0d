"""Wiring of the neighbourhoods service: settings, migrations, consumers, the HTTP API."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from fastapi import FastAPI
from pydantic_settings import SettingsConfigDict

from services.neighbourhoods import api, consumers, privacy, privacy_api
from shared.clock import SYSTEM_CLOCK, Clock
from shared.http import create_service_app
from shared.runtime import ServiceRuntime
from shared.settings import ServiceSettings

MIGRATIONS = Path(__file__).parent / "migrations"


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="NEIGHBOURHOODS_")
    service_name: ClassVar[str] = "neighbourhoods"
    erasure_interval_seconds: float = 600.0  # NEIGHBOURHOODS_ERASURE_INTERVAL_SECONDS: texts of erased leaders


def create_app(settings: Settings | None = None, *, clock: Clock = SYSTEM_CLOCK) -> FastAPI:
    """`clock` is "now" for memberships, messages' expiry and initiatives (tests pin it)."""
    settings = settings or Settings()
    if not settings.resident_ref_key:
        # Residents are stored and published under this key's pseudonym: without it nothing works.
        raise ValueError("RESIDENT_REF_KEY (or NEIGHBOURHOODS_RESIDENT_REF_KEY) is not set")
    runtime = ServiceRuntime(settings, migrations=MIGRATIONS, clock=clock)
    runtime.consume("partners", dict(consumers.HANDLERS))
    runtime.every("erasure", settings.erasure_interval_seconds, lambda: runtime.run(privacy.sweep_erased))
    return create_service_app(
        service="neighbourhoods",
        title="Wijkaanpak neighbourhoods",
        api_version="1.0.0",
        description="Areas with names and boundaries, the residents who live there, messages and initiatives.",
        routers=[*api.routers, privacy_api.router],
        lifespan=runtime.lifespan(),
        readiness=runtime.readiness(),
        log_requests=settings.log_requests,
    )
