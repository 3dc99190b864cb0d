"""The gateway's settings (prefix `GATEWAY_`, unprefixed fallback as in every service)."""

from __future__ import annotations

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings

SERVICES: tuple[str, ...] = ("signals", "partners", "goals", "notifications", "neighbourhoods")


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore", env_nested_delimiter="__")
    service_name: ClassVar[str] = "gateway"

    service_urls_signals: str = "http://127.0.0.1:8001"
    service_urls_partners: str = "http://127.0.0.1:8002"
    service_urls_goals: str = "http://127.0.0.1:8003"
    service_urls_notifications: str = "http://127.0.0.1:8004"
    service_urls_neighbourhoods: str = "http://127.0.0.1:8005"

    upstream_timeout_seconds: float = 10.0
    upstream_connect_timeout_seconds: float = 2.0
    upstream_read_retries: int = 2
    upstream_retry_backoff_seconds: float = 0.05
    upstream_max_connections: int = 100

    max_depth: int = 10
    max_aliases: int = 30
    max_tokens: int = 2000
    max_cost: int = 10000
    # What one operation (or one subscription event) may read from the services while it runs
    # (gateway.limits.UpstreamBudget): lists without `first` are bounded here, not in the cost.
    max_upstream_calls: int = 100
    max_upstream_rows: int = 10000
    parser_cache_size: int = 512
    validation_cache_size: int = 512

    rate_limit_per_second: float = 20.0
    rate_limit_burst: int = 60
    rate_limit_max_clients: int = 100_000

    subscriptions_enabled: bool = True
    subscription_queue_size: int = 256
    max_subscriptions_per_caller: int = 10
    feed_group_prefix: str = "gateway-feed"

    def service_url(self, service: str) -> str:
        url: str = getattr(self, f"service_urls_{service}")
        return url.rstrip("/")

    @property
    def is_local(self) -> bool:
        return self.env == "local"
