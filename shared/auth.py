"""Bearer JWTs verified against a JWKS (file or URL), issuer and audience.

A principal carries roles, the municipalities its holder may act in, and the partner it acts
for. `demand` is the one helper to require a role within a municipality; another
municipality's objects answer 404 (their existence is not revealed), see `visible_in`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
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
from shared.jwks import JwksCache
from shared.observability import actor_var
from shared.settings import ServiceSettings


@dataclass(frozen=True)
class Principal:
    sub: str
    roles: frozenset[str]
    municipalities: frozenset[str]
    partner_id: str | None = None
    token: str = field(default="", repr=False)
    auth_time: float | None = None  # when the person signed in (OIDC `auth_time`), if the token says

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
        jwks: JwksCache | None = None,
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self.jwks = jwks or (JwksCache(jwks_url) if jwks_url else None)
        self._keys: dict[str, Any] = {}
        if jwks_path:
            self.load_jwks(json.loads(Path(jwks_path).read_text()))
        self._cache: OrderedDict[str, tuple[float, Any, Principal]] = OrderedDict()
        self._cache_size = cache_size

    def load_jwks(self, jwks: dict[str, Any]) -> None:
        for key in jwt.PyJWKSet.from_dict(jwks).keys:
            self._keys[key.key_id or ""] = key.key

    @staticmethod
    def _kid(token: str) -> str:
        try:
            return str(jwt.get_unverified_header(token).get("kid") or "")
        except jwt.PyJWTError as exc:
            raise Unauthenticated("invalid token") from exc

    def _key_for(self, kid: str) -> Any:
        """The key already at hand for `kid` (never fetches): static keys, then the JWKS URL's cache."""
        if kid in self._keys:
            return self._keys[kid]
        if self.jwks is not None:
            return self.jwks.cached(kid)
        if len(self._keys) == 1:  # the kid is only a hint; the signature is what is checked
            return next(iter(self._keys.values()))
        return None

    async def authenticate(self, token: str) -> Principal:
        """`verify`, after fetching the JWKS URL's keys when they expired or `kid` is new (non-blocking)."""
        if self.jwks is not None:
            kid = self._kid(token)
            if kid not in self._keys:
                await self.jwks.key(kid)
        return self.verify(token)

    def verify(self, token: str) -> Principal:
        """Verify against keys at hand; a token whose key was since removed is no longer accepted."""
        kid = self._kid(token)
        key = self._key_for(kid)
        if key is None:
            raise Unauthenticated("unknown signing key")
        cached = self._cache.get(token)
        if cached is not None and cached[0] > time.time() and cached[1] is key:
            return cached[2]
        try:
            claims = jwt.decode(
                token,
                key,
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
            auth_time=float(claims["auth_time"]) if isinstance(claims.get("auth_time"), int | float) else None,
        )
        self._cache[token] = (float(claims["exp"]), key, principal)
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return principal


def authenticator_for(settings: ServiceSettings) -> Authenticator:
    jwks = None
    if settings.auth_jwks_url:
        jwks = JwksCache(
            settings.auth_jwks_url,
            lifespan=settings.auth_jwks_lifespan_seconds,
            refetch_interval=settings.auth_jwks_refetch_seconds,
            timeout=settings.auth_jwks_timeout_seconds,
            max_stale=settings.auth_jwks_max_stale_seconds,
        )
    return Authenticator(
        issuer=settings.auth_issuer, audience=settings.auth_audience, jwks_path=settings.auth_jwks_path, jwks=jwks
    )


def bearer_token(request: Request) -> str:
    value = request.headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("bearer token required")
    return token.strip()


async def current_principal(request: Request) -> Principal:
    authenticator: Authenticator = request.app.state.authenticator
    principal = await authenticator.authenticate(bearer_token(request))
    actor_var.set(log_actor(principal))
    return principal


# Per process: one pod's log lines link one caller's requests (enough to follow an incident with
# the trace id), but a log store never holds a subject, which may be an e-mail address.
_LOG_SALT = secrets.token_bytes(16)


def log_actor(principal: Principal) -> str:
    """How a caller appears in logs: the role and a salted digest of the subject, never the subject
    (a calling service, whose subject is its name, by that name)."""
    if principal.has(Role.SERVICE):
        return f"service:{principal.sub}"
    role = min(principal.roles) if principal.roles else "none"
    return f"{role}:{hmac.new(_LOG_SALT, principal.sub.encode(), hashlib.sha256).hexdigest()[:12]}"


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
