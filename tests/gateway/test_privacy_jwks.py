"""The gateway stays responsive while the identity provider's JWKS endpoint hangs (issue 18, item 4).

A caller without an account sends a token with a random `kid`: the refetch it causes waits at a
real, hanging JWKS endpoint, and meanwhile the gateway answers everyone else."""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from gateway.app import create_app
from gateway.settings import Settings
from tests.gateway.conftest import free_socket, uvicorn_on
from tests.shared.jwks_server import jwk_of, jwks_endpoint
from tests.support import AUDIENCE, ISSUER


def bearer(key: Any, kid: str) -> dict[str, str]:
    now = int(time.time())
    claims = {
        "iss": ISSUER, "aud": AUDIENCE, "sub": "resident-1", "roles": ["resident"],
        "municipalities": ["GM0479"], "iat": now, "exp": now + 600,
    }  # fmt: skip
    return {"Authorization": f"Bearer {jwt.encode(claims, key, algorithm='RS256', headers={'kid': kid})}"}


async def test_a_random_kid_while_the_jwks_endpoint_hangs_does_not_freeze_the_gateway() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with jwks_endpoint([jwk_of(key, "k1")]) as endpoint:
        settings = Settings(
            auth_issuer=ISSUER,
            auth_jwks_url=endpoint.url,
            auth_jwks_refetch_seconds=0,  # every unknown kid may refetch: the worst case for the loop
            auth_jwks_timeout_seconds=8,
            subscriptions_enabled=False,
            log_requests=False,
        )
        gateway = create_app(settings)
        query = {"query": "{ categories { code } }"}  # needs a valid token, no upstream
        async with uvicorn_on(gateway, free_socket()) as url, httpx.AsyncClient(base_url=url, timeout=60) as client:
            known = await client.post("/graphql", json=query, headers=bearer(key, "k1"))
            assert known.status_code == 200 and len(known.json()["data"]["categories"]) == 9

            endpoint.hang.set()
            stranger = asyncio.create_task(
                client.post("/graphql", json=query, headers=bearer(key, secrets.token_hex(8)))
            )
            await asyncio.to_thread(endpoint.waiting.wait, 20)  # the refetch now hangs at the provider
            started = time.monotonic()
            health = await client.get("/healthz")
            again = await client.post("/graphql", json=query, headers=bearer(key, "k1"))
            assert health.status_code == 200
            assert again.status_code == 200 and len(again.json()["data"]["categories"]) == 9
            assert time.monotonic() - started < 2
            assert not stranger.done()  # still waiting on the provider, and nobody else is
            endpoint.release.set()
            refused = await stranger
            assert refused.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
