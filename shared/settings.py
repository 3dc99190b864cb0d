"""Settings through pydantic-settings: one prefix per service, with unprefixed fallbacks.

`SIGNALS_DATABASE_URL` wins over `DATABASE_URL`, `SIGNALS_KAFKA_BOOTSTRAP_SERVERS` over
`KAFKA_BOOTSTRAP_SERVERS`, and so on for every field: a deployment sets what is common once and
overrides per service where it must.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """Settings every service has. Subclass with `service_name` and a matching `env_prefix`."""

    model_config = SettingsConfigDict(extra="ignore", env_nested_delimiter="__")
    service_name: ClassVar[str] = "service"

    env: str = Field(default="local", validation_alias="WK_ENV")
    database_url: str = "postgresql+asyncpg://wijkaanpak:wijkaanpak-dev@127.0.0.1:55432/wijkaanpak"
    db_schema: str = ""
    db_pool_size: int = 10
    kafka_bootstrap_servers: str = "127.0.0.1:59092"
    topic_prefix: str = ""
    consumer_group_prefix: str = ""

    auth_jwks_path: str | None = None
    auth_jwks_url: str | None = None
    auth_issuer: str = "wijkaanpak-dev"
    auth_audience: str = "wijkaanpak"
    # JWKS URL keys (shared.jwks): trusted this long after a fetch; an unknown kid refetches at most
    # this often; a fetch gives up after the timeout; the last keys serve at most max_stale while
    # the identity provider is unreachable.
    auth_jwks_lifespan_seconds: float = Field(default=300.0, gt=0)
    auth_jwks_refetch_seconds: float = Field(default=30.0, ge=0)
    auth_jwks_timeout_seconds: float = Field(default=3.0, gt=0)
    auth_jwks_max_stale_seconds: float = Field(default=3600.0, gt=0)
    service_token_key_path: str | None = None
    service_token: str | None = None

    public_base_url: str = "http://127.0.0.1:8000"
    secrets_key: str = ""
    # One key for the whole platform (unlike SECRETS_KEY): services that meet the same resident
    # (neighbourhoods, goals) derive the same pseudonym from it (shared.crypto.resident_ref).
    resident_ref_key: str = ""

    relay_batch_size: int = 1000
    relay_poll_seconds: float = 1.0
    relay_standby_seconds: float = 2.0
    consumer_batch_size: int = 500
    retry_initial_seconds: float = 0.2
    retry_max_seconds: float = 10.0
    log_level: str = "INFO"
    log_requests: bool = True
    startup_wait_seconds: float = 30.0
    # SIGTERM to exit, all told: within k8s' 30 s grace after the 5 s preStop sleep, with room to spare
    shutdown_seconds: float = Field(default=20.0, gt=0)

    # An event a consumer cannot apply yet waits (shared.waiting), retried with backoff up to
    # consumer_wait_retry_max_seconds, and goes to the DLQ once it waited consumer_wait_deadline_hours.
    consumer_wait_retry_max_seconds: float = Field(default=300.0, gt=0)
    consumer_wait_deadline_hours: float = Field(default=24.0, gt=0)
    kafka_probe_seconds: float = Field(default=10.0, gt=0)  # how often wijkaanpak_kafka_reachable is measured

    # Retention of the messaging tables (shared.retention), in days; 0 keeps rows for ever.
    # The inbox must outlive every redelivery: see shared.retention before shortening it.
    outbox_retention_days: float = Field(default=7.0, ge=0)
    inbox_retention_days: float = Field(default=45.0, ge=0)
    idempotency_retention_days: float = Field(default=2.0, ge=0)
    messaging_retention_interval_seconds: float = Field(default=600.0, gt=0)
    messaging_retention_batch_size: int = Field(default=1000, ge=1)

    @property
    def db_schema_name(self) -> str:
        return self.db_schema or self.service_name

    @property
    def source(self) -> str:
        return f"urn:nld:wijkaanpak:{self.service_name}"

    def topic(self, event_type: str) -> str:
        return f"{self.topic_prefix}{event_type}"

    def consumer_group(self, consumer: str) -> str:
        return f"{self.consumer_group_prefix}{self.service_name}.{consumer}"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        unprefixed = EnvSettingsSource(settings_cls, env_prefix="")
        return init_settings, env_settings, unprefixed, file_secret_settings


def load(settings_cls: type[ServiceSettings], **overrides: Any) -> ServiceSettings:
    """Read settings now (never at import time)."""
    return settings_cls(**overrides)
