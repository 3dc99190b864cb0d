from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from services.partners.app import Settings, create_app
from tests.support import Infra, serve

OVERLAP_SECONDS = 1.5
_used: set[str] = {"GM0479"}  # the demo region belongs to the seeding test


def new_municipality() -> str:
    """A municipality no other test of this session uses, so lists and names do not collide."""
    while True:
        code = f"GM{1000 + secrets.randbelow(9000)}"
        if code not in _used:
            _used.add(code)
            return code


def district(municipality: str, n: int = 1) -> str:
    return f"WK{municipality[2:]}{n:02d}"


def neighbourhood(municipality: str, district_n: int = 1, n: int = 1) -> str:
    return f"BU{municipality[2:]}{district_n:02d}{n:02d}"


def registration(municipality: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": f"Wijkteam {secrets.token_hex(3)}",
        "kind": "police",
        "municipalities": [municipality],
        "areas": [district(municipality)],
        "categories": ["burglary", "suspicious_situation"],
        "autoEscalate": ["burglary"],
        "acknowledgeWithinMinutes": 60,
        "acknowledgeWithinMinutesByUrgency": {"acute": 15},
        "availability": [{"weekday": 5, "from": "20:00", "until": "02:00"}],
        "priority": 1,
        "email": "team@politie.example.nl",
    }
    body.update(overrides)
    return body


@dataclass
class Partners:
    client: httpx.AsyncClient
    settings: Settings
    infra: Infra
    _tokens: dict[tuple[Any, ...], dict[str, str]] = field(default_factory=dict)

    def headers(self, role: str, municipalities: list[str], **kw: Any) -> dict[str, str]:
        """Made once per caller: signing a token takes ~80 ms, which would dominate these tests."""
        key = (role, tuple(municipalities), tuple(sorted(kw.items())))
        if key not in self._tokens:
            self._tokens[key] = self.infra.headers(role, municipalities, **kw)
        return dict(self._tokens[key])

    async def register(self, municipality: str, **overrides: Any) -> dict[str, Any]:
        body = registration(municipality, **overrides)
        r = await self.client.post(
            "/v1/partners", json=body, headers=self.headers("coordinator", list(body["municipalities"]))
        )
        assert r.status_code == 201, r.text
        answer: dict[str, Any] = r.json()
        return answer


@pytest.fixture(scope="module")
async def partners(infra: Infra) -> AsyncIterator[Partners]:
    settings = infra.settings(
        Settings,
        db_schema=f"partners_{secrets.token_hex(3)}",
        secrets_key=secrets.token_urlsafe(32),
        webhook_allowed_hosts="127.0.0.1",
        webhook_allow_http_on_allowed=True,
        webhook_secret_overlap_seconds=OVERLAP_SECONDS,
    )
    async with serve(create_app(settings)) as client:
        yield Partners(client, settings, infra)
