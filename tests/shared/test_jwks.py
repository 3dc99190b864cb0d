"""Signing keys from a JWKS URL: they expire, unknown kids refetch rarely, a slow provider blocks nobody.

Against a real HTTP endpoint on its own thread (tests/shared/jwks_server.py)."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from shared.auth import Authenticator
from shared.errors import Unauthenticated
from shared.jwks import JwksCache
from tests.shared.jwks_server import JwksEndpoint, jwk_of, jwks_endpoint
from tests.support import AUDIENCE, ISSUER


class Ticks:
    """The cache's monotonic time, moved by the test."""

    def __init__(self) -> None:
        self.at = 1000.0

    def __call__(self) -> float:
        return self.at


@pytest.fixture(scope="module")
def signing() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def endpoint(signing: rsa.RSAPrivateKey) -> Iterator[JwksEndpoint]:
    with jwks_endpoint([jwk_of(signing, "k1")]) as e:
        yield e


def token(key: Any, kid: str, sub: str = "resident-1") -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": sub, "roles": ["resident"], "iat": now, "exp": now + 600}
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})


def authenticator(
    endpoint: JwksEndpoint, ticks: Ticks, *, timeout: float = 1, max_stale: float = 3600
) -> Authenticator:
    cache = JwksCache(endpoint.url, now=ticks, lifespan=300, refetch_interval=30, timeout=timeout, max_stale=max_stale)
    return Authenticator(issuer=ISSUER, audience=AUDIENCE, jwks=cache)


async def test_a_key_removed_at_the_identity_provider_is_refused_once_the_keys_expire(
    endpoint: JwksEndpoint, signing: rsa.RSAPrivateKey
) -> None:
    ticks = Ticks()
    auth = authenticator(endpoint, ticks)
    signed = token(signing, "k1")
    assert (await auth.authenticate(signed)).sub == "resident-1"
    endpoint.keys = []  # the provider rotates k1 out
    ticks.at += 299
    assert (await auth.authenticate(signed)).sub == "resident-1"  # still within the keys' lifespan
    ticks.at += 2
    with pytest.raises(Unauthenticated):
        await auth.authenticate(signed)  # the verified-token cache does not outlive the key
    assert endpoint.fetches == 2


async def test_random_kids_refetch_at_most_once_per_interval(
    endpoint: JwksEndpoint, signing: rsa.RSAPrivateKey
) -> None:
    ticks = Ticks()
    auth = authenticator(endpoint, ticks)
    await auth.authenticate(token(signing, "k1"))
    ticks.at += 31
    for _ in range(50):
        with pytest.raises(Unauthenticated):
            await auth.authenticate(token(signing, secrets.token_hex(8)))
    assert endpoint.fetches == 2  # the first fetch, and one refetch for all fifty unknown kids
    ticks.at += 31
    with pytest.raises(Unauthenticated):
        await auth.authenticate(token(signing, "random"))
    assert endpoint.fetches == 3


async def test_a_new_key_at_the_provider_is_found_by_its_kid(
    endpoint: JwksEndpoint, signing: rsa.RSAPrivateKey
) -> None:
    ticks = Ticks()
    auth = authenticator(endpoint, ticks)
    await auth.authenticate(token(signing, "k1"))
    rotated = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    endpoint.keys = [jwk_of(signing, "k1"), jwk_of(rotated, "k2")]
    ticks.at += 31
    assert (await auth.authenticate(token(rotated, "k2", sub="resident-2"))).sub == "resident-2"


async def test_a_hanging_provider_times_out_and_does_not_hold_callers_whose_key_is_known(
    endpoint: JwksEndpoint, signing: rsa.RSAPrivateKey
) -> None:
    ticks = Ticks()
    auth = authenticator(endpoint, ticks, timeout=5)
    known = token(signing, "k1")
    await auth.authenticate(known)
    endpoint.hang.set()
    ticks.at += 31
    stranger = asyncio.create_task(auth.authenticate(token(signing, "random-kid")))
    await asyncio.to_thread(endpoint.waiting.wait, 10)  # the refetch is hanging at the provider
    assert (await auth.authenticate(known)).sub == "resident-1"
    assert not stranger.done()
    with pytest.raises(Unauthenticated):
        await stranger  # given up after the timeout (5 s), not the old 30 s
    endpoint.release.set()


async def test_while_the_provider_is_down_the_last_keys_serve_until_max_stale(
    endpoint: JwksEndpoint, signing: rsa.RSAPrivateKey
) -> None:
    ticks = Ticks()
    auth = authenticator(endpoint, ticks, timeout=0.5, max_stale=3600)
    known = token(signing, "k1")
    await auth.authenticate(known)
    endpoint.hang.set()
    ticks.at += 301
    assert (await auth.authenticate(known)).sub == "resident-1"  # refetch timed out; old keys still serve
    ticks.at += 3300
    with pytest.raises(Unauthenticated):
        await auth.authenticate(known)
    endpoint.release.set()
