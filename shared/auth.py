"""Bearer JWTs verified against a JWKS (file or URL), issuer and audience.

A principal carries roles, the municipalities its holder may act in, and the partner it acts
for. `demand` is the one helper to require a role within a municipality; another
municipality's objects answer 404 (their existence is not revealed), see `visible_in`.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request

from shared.errors import Forbidden, NotFound, Unauthenticated
from shared.events.codes import Role
from shared.observability import actor_var


@dataclass(frozen=True)
class Principal:
    sub: str
    roles: frozenset[str]
    municipalities: frozenset[str]
    partner_id: str | None = None
    token: str = field(default="", repr=False)

    def has(self, *roles: Role | str) -> bool:
        return any(str(r) in self.roles for r in roles)

    def acts_in(self, municipality: str) -> bool:
        return municipality in self.municipalities

    @property
    def is_service(self) -> bool:
        return Role.SERVICE in self.roles


def demand(principal: Principal, *roles: Role | str, municipality: str | None = None) -> None:
    """The caller must hold one of `roles`, and act in `municipality` when given (404 if not)."""
    if municipality is not None and not principal.acts_in(municipality):
        raise NotFound()
    if roles and not principal.has(*roles):
        raise Forbidden(f"requires role {' or '.join(str(r) for r in roles)}")


def visible_in(principal: Principal, municipalities: Iterable[str]) -> None:
    """404 unless the object belongs to one of the caller's municipalities."""
    if principal.is_service:
        return
    if not principal.municipalities.intersection(municipalities):
        raise NotFound()


class Authenticator:
    """Verifies tokens; caches verified ones until they expire (RS256 checks are not free)."""

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        jwks_path: str | None = None,
        jwks_url: str | None = None,
        cache_size: int = 4096,
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self._jwks_url_client = jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=300) if jwks_url else None
        self._keys: dict[str, Any] = {}
        if jwks_path:
            self.load_jwks(json.loads(Path(jwks_path).read_text()))
        self._cache: OrderedDict[str, tuple[float, Principal]] = OrderedDict()
        self._cache_size = cache_size

    def load_jwks(self, jwks: dict[str, Any]) -> None:
        for key in jwt.PyJWKSet.from_dict(jwks).keys:
            self._keys[key.key_id or ""] = key.key

    def _key_for(self, token: str) -> Any:
        kid = jwt.get_unverified_header(token).get("kid") or ""
        if kid in self._keys:
            return self._keys[kid]
        if self._jwks_url_client is not None:
            return self._jwks_url_client.get_signing_key(kid).key
        if len(self._keys) == 1:  # the kid is only a hint; the signature is what is checked
            return next(iter(self._keys.values()))
        raise Unauthenticated("unknown signing key")

    def verify(self, token: str) -> Principal:
        now = time.time()
        cached = self._cache.get(token)
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            claims = jwt.decode(
                token,
                self._key_for(token),
                algorithms=["RS256", "ES256"],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "sub", "iss", "aud"]},
            )
        except jwt.PyJWTError as exc:
            raise Unauthenticated("invalid token") from exc
        principal = Principal(
            sub=str(claims["sub"]),
            roles=frozenset(str(r) for r in claims.get("roles") or []),
            municipalities=frozenset(str(m) for m in claims.get("municipalities") or []),
            partner_id=str(claims["partner_id"]) if claims.get("partner_id") else None,
            token=token,
        )
        self._cache[token] = (float(claims["exp"]), principal)
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return principal


def bearer_token(request: Request) -> str:
    value = request.headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("bearer token required")
    return token.strip()


async def current_principal(request: Request) -> Principal:
    authenticator: Authenticator = request.app.state.authenticator
    principal = authenticator.verify(bearer_token(request))
    actor_var.set(principal.sub)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


async def service_only(principal: CurrentPrincipal) -> Principal:
    """For the two internal reads: only services' own credentials pass."""
    if not principal.is_service:
        raise Forbidden("service credentials required")
    return principal


ServicePrincipal = Annotated[Principal, Depends(service_only)]


class ServiceTokens:
    """Tokens this service presents to another (role `service`, `sub` = this service).

    In the local stack it signs them with the stack's key; elsewhere a token obtained by
    client credentials is given in settings (`SERVICE_TOKEN`).
    """

    def __init__(self, service: str, *, issuer: str, audience: str, key_path: str | None, token: str | None) -> None:
        self.service = service
        self.issuer = issuer
        self.audience = audience
        self._key = Path(key_path).read_bytes() if key_path else None
        self._static = token
        self._current: tuple[float, str] | None = None

    def token(self) -> str:
        if self._static:
            return self._static
        if self._key is None:
            raise RuntimeError("no service credentials configured (SERVICE_TOKEN or SERVICE_TOKEN_KEY_PATH)")
        now = time.time()
        if self._current is None or self._current[0] - 60 < now:
            exp = now + 900
            claims = {
                "iss": self.issuer,
                "aud": self.audience,
                "sub": self.service,
                "roles": [Role.SERVICE.value],
                "municipalities": [],
                "iat": int(now),
                "exp": int(exp),
            }
            self._current = (exp, jwt.encode(claims, self._key, algorithm="RS256"))
        return self._current[1]
