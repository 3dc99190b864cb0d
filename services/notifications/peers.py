"""The internal reads, with this service's own credentials (role `service`).

Webhook secrets come from partners (cached at most `secrets_cache_seconds`, at most 60 s);
reporters' addresses come from signals, an initiative leader's address from neighbourhoods and a
goal proposal's proposer's from goals, at the moment a mail is sent, and are never stored.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

import httpx

MAX_SECRETS_CACHE_SECONDS = 60.0


class PeerUnavailable(Exception):
    """The other service did not answer usefully; the delivery is tried again later."""


@dataclass(frozen=True)
class Contact:
    reporter: str
    email: str
    duplicate: bool = False  # reported a merged duplicate, not the signal itself


class Peers:
    def __init__(
        self,
        *,
        partners_url: str,
        signals_url: str,
        neighbourhoods_url: str = "http://127.0.0.1:8005",
        goals_url: str = "http://127.0.0.1:8003",
        token: Callable[[], str],
        secrets_cache_seconds: float = MAX_SECRETS_CACHE_SECONDS,
        timeout_seconds: float = 5.0,
    ) -> None:
        self.partners_url = partners_url.rstrip("/")
        self.signals_url = signals_url.rstrip("/")
        self.neighbourhoods_url = neighbourhoods_url.rstrip("/")
        self.goals_url = goals_url.rstrip("/")
        self.token = token
        self.cache_seconds = min(secrets_cache_seconds, MAX_SECRETS_CACHE_SECONDS)
        self.client = httpx.AsyncClient(timeout=timeout_seconds, follow_redirects=False)
        self._secrets: dict[UUID, tuple[float, list[str]]] = {}

    async def close(self) -> None:
        await self.client.aclose()

    async def _get(self, url: str) -> dict[str, object]:
        try:
            response = await self.client.get(url, headers={"Authorization": f"Bearer {self.token()}"})
        except httpx.HTTPError as exc:
            raise PeerUnavailable(type(exc).__name__) from exc
        if response.status_code != 200:
            raise PeerUnavailable(f"http_{response.status_code}")
        body = response.json()
        if not isinstance(body, dict):
            raise PeerUnavailable("unexpected_answer")
        return body

    async def webhook_secrets(self, partner_id: UUID) -> list[str]:
        cached = self._secrets.get(partner_id)
        now = time.monotonic()
        if cached is not None and cached[0] > now:
            return cached[1]
        body = await self._get(f"{self.partners_url}/internal/v1/partners/{partner_id}/webhook-secrets")
        raw = body.get("secrets")
        secrets = [s for s in raw if isinstance(s, str) and s] if isinstance(raw, list) else []
        self._secrets[partner_id] = (now + self.cache_seconds, secrets)
        return secrets

    def forget_secrets(self, partner_id: UUID) -> None:
        self._secrets.pop(partner_id, None)

    async def contacts(self, signal_id: str) -> list[Contact]:
        body = await self._get(f"{self.signals_url}/internal/v1/signals/{signal_id}/contacts")
        raw = body.get("contacts")
        found: list[Contact] = []
        for item in raw if isinstance(raw, list) else []:
            if isinstance(item, dict) and item.get("email"):
                email = str(item["email"])
                # the reporter's pseudonymous subject names the recipient; never the address itself
                reporter = str(item.get("reporter") or "anon-" + hashlib.sha256(email.encode()).hexdigest()[:16])
                found.append(Contact(reporter, email, item.get("duplicate") is True))
        return found

    async def leader_contact(self, initiative_id: str) -> str | None:
        """The address the initiative's leader gave (None: they gave none); read for one mail."""
        body = await self._get(f"{self.neighbourhoods_url}/v1/initiatives/{initiative_id}/leader-contact")
        email = body.get("email")
        return email if isinstance(email, str) and email else None

    async def proposer_contact(self, proposal_id: str) -> str | None:
        """The address a goal proposal's proposer gave (None: they gave none); read for one mail."""
        body = await self._get(f"{self.goals_url}/internal/v1/goal-proposals/{proposal_id}/contact")
        email = body.get("email")
        return email if isinstance(email, str) and email else None
