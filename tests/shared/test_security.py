"""Auth, the SSRF rule for webhook targets, and encryption at rest (pure, no network)."""

from __future__ import annotations

import time

import jwt
import pytest

from shared.auth import Authenticator, Principal, ServiceTokens, demand, visible_in
from shared.crypto import SecretBox
from shared.errors import Forbidden, NotFound, Unauthenticated
from shared.ssrf import UnsafeUrl, check_webhook_url, is_public_address, parse_target
from tests.support import AUDIENCE, ISSUER, Infra, Keys


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return Keys.generate(tmp_path_factory.mktemp("auth"))


def authenticator(keys: Keys) -> Authenticator:
    return Authenticator(issuer=ISSUER, audience=AUDIENCE, jwks_path=str(keys.jwks_path))


def infra_for(keys: Keys) -> Infra:
    return Infra("", "", "", "", keys, "unit")


def test_a_valid_token_gives_roles_municipalities_and_partner(keys: Keys) -> None:
    token = infra_for(keys).token("partner_agent", ["GM0479", "GM0453"], partner_id="p-1", sub="agent-7")
    principal = authenticator(keys).verify(token)
    assert principal.sub == "agent-7"
    assert principal.roles == {"partner_agent"}
    assert principal.municipalities == {"GM0479", "GM0453"}
    assert principal.partner_id == "p-1"


@pytest.mark.parametrize(
    "change",
    [{"issuer": "someone-else"}, {"audience": "other-api"}, {"ttl": -10}],
    ids=["wrong issuer", "wrong audience", "expired"],
)
def test_tokens_with_wrong_issuer_audience_or_expiry_are_refused(keys: Keys, change: dict[str, object]) -> None:
    token = infra_for(keys).token("resident", **change)  # type: ignore[arg-type]
    with pytest.raises(Unauthenticated):
        authenticator(keys).verify(token)


def test_a_token_signed_by_another_key_is_refused(keys: Keys, tmp_path: object) -> None:
    import pathlib

    other = Keys.generate(pathlib.Path(str(tmp_path)) / "other")
    token = infra_for(other).token("coordinator")
    with pytest.raises(Unauthenticated):
        authenticator(keys).verify(token)


def test_an_hs256_token_is_refused_whatever_its_secret(keys: Keys) -> None:
    forged = jwt.encode(
        {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": int(time.time()) + 60, "roles": ["region_admin"]},
        "a-shared-secret-of-thirty-two-bytes!",
        algorithm="HS256",
    )
    with pytest.raises(Unauthenticated):
        authenticator(keys).verify(forged)


def test_service_tokens_are_accepted_with_role_service(keys: Keys) -> None:
    tokens = ServiceTokens(
        "notifications", issuer=ISSUER, audience=AUDIENCE, key_path=str(keys.private_path), token=None
    )
    principal = authenticator(keys).verify(tokens.token())
    assert principal.is_service and principal.sub == "notifications"


def test_demand_hides_other_municipalities_and_refuses_missing_roles() -> None:
    resident = Principal("r", frozenset({"resident"}), frozenset({"GM0479"}))
    with pytest.raises(NotFound):
        demand(resident, "resident", municipality="GM0453")
    with pytest.raises(Forbidden):
        demand(resident, "coordinator", municipality="GM0479")
    demand(resident, "resident", "group_admin", municipality="GM0479")
    with pytest.raises(NotFound):
        visible_in(resident, ["GM0453"])


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
     "224.0.0.1", "::1", "fe80::1", "fc00::1", "::ffff:10.0.0.1", "::ffff:127.0.0.1", "2002:0a00:0001::1"],
)  # fmt: skip
def test_non_public_addresses_are_refused(address: str) -> None:
    assert not is_public_address(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "145.97.39.155", "2001:4860:4860::8888", "::ffff:8.8.8.8"])
def test_public_addresses_pass(address: str) -> None:
    assert is_public_address(address)


async def test_webhook_urls_must_be_https_to_public_hosts() -> None:
    for url in ["http://8.8.8.8/hook", "ftp://example.org/", "https://user:pw@8.8.8.8/", "https:///nohost"]:
        with pytest.raises(UnsafeUrl):
            await check_webhook_url(url)
    for url in ["https://127.0.0.1/hook", "https://[::ffff:192.168.0.1]/x", "https://localhost/hook"]:
        with pytest.raises(UnsafeUrl):
            await check_webhook_url(url)  # localhost resolves to loopback: refused by resolution
    assert await check_webhook_url("https://8.8.8.8/hook") == ["8.8.8.8"]


async def test_allow_listed_local_receivers_may_use_plain_http() -> None:
    url = "http://127.0.0.1:9999/hook"
    with pytest.raises(UnsafeUrl):
        parse_target(url, allowed_hosts=["127.0.0.1"])
    assert await check_webhook_url(url, allowed_hosts=["127.0.0.1"], allow_http_on_allowed=True) == []


def test_secret_box_round_trips_and_detects_tampering_and_wrong_context() -> None:
    box = SecretBox("a passphrase for the local stack")
    sealed = box.seal("whsec_abc", context="partner-1")
    assert b"whsec_abc" not in sealed
    assert box.open(sealed, context="partner-1") == "whsec_abc"
    with pytest.raises(Exception):  # noqa: B017
        box.open(sealed, context="partner-2")
    with pytest.raises(Exception):  # noqa: B017
        box.open(sealed[:-1] + bytes([sealed[-1] ^ 1]), context="partner-1")


def test_logs_name_a_caller_by_role_and_digest_never_by_subject() -> None:
    from shared.auth import Principal, log_actor

    resident = Principal(sub="jan.jansen@example.nl", roles=frozenset({"resident"}), municipalities=frozenset())
    shown = log_actor(resident)
    assert shown.startswith("resident:") and "jansen" not in shown and "@" not in shown
    assert log_actor(resident) == shown  # one caller's requests stay linkable within the process
    other = Principal(sub="piet@example.nl", roles=frozenset({"resident"}), municipalities=frozenset())
    assert log_actor(other) != shown
    service = Principal(sub="notifications", roles=frozenset({"service"}), municipalities=frozenset())
    assert log_actor(service) == "service:notifications"
