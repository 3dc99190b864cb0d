"""The identity provider's signing keys, fetched from its JWKS URL without blocking the event loop.

- Keys expire `lifespan` seconds after they were fetched: a key the identity provider removed stops
  being trusted within that time (while the provider cannot be reached, the last keys stay in use for
  at most `max_stale` seconds, then every token is refused: fail closed).
- A token with a `kid` not in the set makes one refetch at most every `refetch_interval` seconds,
  whoever sends it: random `kid`s from unauthenticated callers cost nothing more than a dict look-up.
- Fetches are asynchronous with a short `timeout` and single-flight: one fetch at a time, the others
  wait on it; a slow identity provider slows only the callers whose key is unknown.

Protocol time (like JWT expiry) is the machine's monotonic clock, not the domain clock; tests give
their own `now`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx
import jwt

from shared.observability import get_logger

log = get_logger(__name__)


class JwksCache:
    def __init__(
        self,
        url: str,
        *,
        lifespan: float = 300.0,
        refetch_interval: float = 30.0,
        timeout: float = 3.0,
        max_stale: float = 3600.0,
        now: Callable[[], float] = time.monotonic,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = url
        self.lifespan = lifespan
        self.refetch_interval = refetch_interval
        self.timeout = timeout
        self.max_stale = max_stale
        self._now = now
        self._transport = transport
        self._keys: dict[str, Any] = {}
        self._fetched_at: float | None = None  # when the current keys came
        self._attempted_at: float | None = None  # when a fetch last started
        self._inflight: asyncio.Task[None] | None = None
        self.fetches = 0

    def cached(self, kid: str) -> Any | None:
        """The key for `kid` if it is known and not past `max_stale`; never fetches."""
        if self._fetched_at is None or self._now() - self._fetched_at > self.max_stale:
            return None
        return self._keys.get(kid)

    async def key(self, kid: str) -> Any | None:
        """The key for `kid`, fetching the set when it expired or (rate-limited) when `kid` is new."""
        now = self._now()
        expired = self._fetched_at is None or now - self._fetched_at >= self.lifespan
        unknown = kid not in self._keys
        may_refetch = self._attempted_at is None or now - self._attempted_at >= self.refetch_interval
        if not (expired or unknown):
            return self._keys[kid]  # a fetch in flight for someone's random kid does not hold this caller
        if self._inflight is not None or may_refetch:
            await self._refresh()
        return self.cached(kid)

    async def _refresh(self) -> None:
        if self._inflight is None:
            self._attempted_at = self._now()
            self._inflight = asyncio.create_task(self._fetch(), name="jwks-fetch")
            self._inflight.add_done_callback(self._done)
        await asyncio.shield(self._inflight)

    def _done(self, task: asyncio.Task[None]) -> None:
        if self._inflight is task:
            self._inflight = None

    async def _fetch(self) -> None:
        self.fetches += 1
        try:
            async with httpx.AsyncClient(timeout=self.timeout, transport=self._transport) as client:
                answer = await client.get(self.url)
                answer.raise_for_status()
                keys = self._parse(answer.json())
        except (httpx.HTTPError, jwt.PyJWTError, ValueError) as exc:
            log.warning("jwks_fetch_failed", error=type(exc).__name__)
            return
        self._keys = keys
        self._fetched_at = self._now()

    @staticmethod
    def _parse(jwks: Any) -> dict[str, Any]:
        if isinstance(jwks, dict) and jwks.get("keys") == []:
            return {}  # the provider withdrew every key: so do we
        return {key.key_id or "": key.key for key in jwt.PyJWKSet.from_dict(jwks).keys}
