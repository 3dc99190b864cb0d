"""Webhook targets must be public. Nothing here sends traffic: literals are classified, and names
are either resolved from the hosts file (`localhost`) or through an injected resolver."""

from __future__ import annotations

import pytest

from services.partners.domain import UrlRules
from services.partners.webhook_targets import webhook_target_problem
from shared import ssrf

NON_PUBLIC = [
    "127.0.0.1",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.10",
    "169.254.169.254",  # cloud metadata
    "100.64.0.1",  # carrier-grade NAT
    "0.0.0.0",
    "224.0.0.1",
    "255.255.255.255",
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "fd12:3456::1",
    "ff02::1",
    "::ffff:127.0.0.1",  # IPv4-mapped IPv6
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "2002:0a00:0001::1",  # 6to4 wrapping 10.0.0.1
    "2001:db8::1",  # documentation
]
PUBLIC = ["93.184.215.14", "8.8.8.8", "2001:4860:4860::8888", "::ffff:8.8.8.8"]


@pytest.mark.parametrize("address", NON_PUBLIC)
def test_private_loopback_link_local_multicast_and_mapped_addresses_are_not_public(address: str) -> None:
    assert not ssrf.is_public_address(address)


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_public(address: str) -> None:
    assert ssrf.is_public_address(address)


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://10.0.0.7:8443/hook",
        "https://[::1]/hook",
        "https://[::ffff:10.0.0.1]/hook",
        "https://[::ffff:7f00:1]/hook",
        "https://[fe80::1]/hook",
        "https://169.254.169.254/latest/meta-data",
    ],
)
async def test_literal_non_public_targets_are_refused(url: str) -> None:
    assert await webhook_target_problem(url, UrlRules()) is not None


async def test_a_public_literal_target_is_accepted() -> None:
    assert await webhook_target_problem("https://93.184.215.14/hook", UrlRules()) is None
    assert await webhook_target_problem("https://[2001:4860:4860::8888]/hook", UrlRules()) is None


async def test_a_name_resolving_to_loopback_is_refused() -> None:
    problem = await webhook_target_problem("https://localhost/hook", UrlRules())
    assert problem is not None and "non-public" in problem


async def test_a_name_resolving_to_a_private_address_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    async def resolves(host: str, port: int | None = None) -> list[str]:
        return {"intranet.example.nl": ["10.20.30.40"], "mixed.example.nl": ["93.184.215.14", "fd00::5"]}[host]

    monkeypatch.setattr(ssrf, "resolve", resolves)
    assert await webhook_target_problem("https://intranet.example.nl/hook", UrlRules()) is not None
    assert await webhook_target_problem("https://mixed.example.nl/hook", UrlRules()) is not None


async def test_a_name_resolving_to_public_addresses_only_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    async def resolves(host: str, port: int | None = None) -> list[str]:
        return ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]

    monkeypatch.setattr(ssrf, "resolve", resolves)
    assert await webhook_target_problem("https://hooks.politie.example.nl/hook", UrlRules()) is None


async def test_a_name_that_does_not_resolve_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    async def fails(host: str, port: int | None = None) -> list[str]:
        raise ssrf.UnsafeUrl(f"host {host!r} does not resolve")

    monkeypatch.setattr(ssrf, "resolve", fails)
    problem = await webhook_target_problem("https://gone.example.nl/hook", UrlRules())
    assert problem is not None and "does not resolve" in problem


async def test_an_allow_listed_host_skips_the_address_check_and_may_use_http() -> None:
    local = UrlRules(("127.0.0.1",), True)
    assert await webhook_target_problem("http://127.0.0.1:9000/hook", local) is None
    assert await webhook_target_problem("https://127.0.0.1:9000/hook", local) is None
    assert await webhook_target_problem("https://127.0.0.2:9000/hook", local) is not None
