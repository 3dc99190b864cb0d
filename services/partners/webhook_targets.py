"""Where a webhook url may point: a public address (allow-listed hosts excepted). I/O (DNS), so
not in the domain, which checks the url's form; nothing is ever sent to the host here."""

from __future__ import annotations

from typing import Any

from services.partners import domain
from services.partners.domain import UrlRules
from shared.errors import FieldErrors
from shared.ssrf import UnsafeUrl, check_webhook_url, parse_target


async def webhook_target_problem(url: Any, rules: UrlRules) -> str | None:
    """Why a well-formed webhook url may not be a target (it resolves to a non-public address).

    A malformed url is None here: the domain reports its form.
    """
    if not isinstance(url, str) or len(url) > domain.URL_MAX:
        return None
    try:
        parse_target(url, allowed_hosts=rules.allowed_hosts, allow_http_on_allowed=rules.allow_http_on_allowed)
    except (UnsafeUrl, ValueError):
        return None
    try:
        await check_webhook_url(
            url, allowed_hosts=rules.allowed_hosts, allow_http_on_allowed=rules.allow_http_on_allowed
        )
    except (UnsafeUrl, ValueError) as exc:
        return str(exc)
    return None


async def check_target(url: Any, rules: UrlRules, errors: FieldErrors) -> None:
    problem = await webhook_target_problem(url, rules)
    if problem:
        errors.add("webhookUrl", problem)
