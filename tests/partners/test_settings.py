"""Settings come from the environment at call time, with the local stack's variable names."""

from __future__ import annotations

import pytest

from services.partners.app import Settings


def test_allowed_webhook_hosts_are_a_comma_separated_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBHOOK_ALLOWED_HOSTS", "127.0.0.1, ::1,,hooks.example.nl ")
    monkeypatch.setenv("WEBHOOK_ALLOW_HTTP_ON_ALLOWED", "true")
    settings = Settings()
    assert settings.allowed_hosts == ("127.0.0.1", "::1", "hooks.example.nl")
    assert settings.url_rules.allow_http_on_allowed is True


def test_the_partners_prefix_wins_over_the_common_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBHOOK_SECRET_OVERLAP_SECONDS", "60")
    monkeypatch.setenv("PARTNERS_WEBHOOK_SECRET_OVERLAP_SECONDS", "120")
    assert Settings().webhook_secret_overlap_seconds == 120


def test_by_default_nothing_is_allow_listed_and_secrets_overlap_a_day(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("WEBHOOK_ALLOWED_HOSTS", "WEBHOOK_ALLOW_HTTP_ON_ALLOWED", "WEBHOOK_SECRET_OVERLAP_SECONDS"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(f"PARTNERS_{name}", raising=False)
    settings = Settings()
    assert settings.allowed_hosts == () and settings.webhook_allow_http_on_allowed is False
    assert settings.webhook_secret_overlap_seconds == 24 * 3600
