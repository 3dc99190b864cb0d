"""Dev identity: one RSA key pair for the local stack, a JWKS the services trust, RS256 tokens.

`.stack/keys/private.pem` signs; `.stack/keys/jwks.json` (kid = RFC 7638 thumbprint) verifies;
`.stack/keys/secrets.key` is the services' `SECRETS_KEY`, `.stack/keys/resident-ref.key` the
platform's `RESIDENT_REF_KEY`. All made once, never rotated by `up`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import time
from pathlib import Path
from typing import Any, NamedTuple

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from stack import STACK_DIR

ISSUER = "wijkaanpak-dev"
AUDIENCE = "wijkaanpak"
DEFAULT_TTL_SECONDS = 12 * 3600
ROLES = ("resident", "group_admin", "partner_agent", "coordinator", "region_admin", "integration", "service")
KEYS_DIR = STACK_DIR / "keys"


class KeyPaths(NamedTuple):
    private_pem: Path
    jwks_json: Path
    kid: str


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def public_jwk(public_key: rsa.RSAPublicKey) -> dict[str, str]:
    numbers = public_key.public_numbers()
    e, n = _b64url_uint(numbers.e), _b64url_uint(numbers.n)
    thumbprint_input = json.dumps({"e": e, "kty": "RSA", "n": n}, separators=(",", ":"), sort_keys=True)
    kid = base64.urlsafe_b64encode(hashlib.sha256(thumbprint_input.encode()).digest()).decode().rstrip("=")
    return {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": n, "e": e}


def _write_private(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + f".tmp-{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    tmp.replace(path)


def generate_keypair(directory: Path) -> KeyPaths:
    """Make `private.pem` and `jwks.json` in `directory` unless both are there already (idempotent)."""
    directory.mkdir(parents=True, exist_ok=True)
    private_path, jwks_path = directory / "private.pem", directory / "jwks.json"
    if private_path.exists() and jwks_path.exists():
        return KeyPaths(private_path, jwks_path, read_kid(jwks_path))
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    jwk = public_jwk(key.public_key())
    _write_private(private_path, pem)
    tmp = jwks_path.with_name(f"jwks.json.tmp-{os.getpid()}")
    tmp.write_text(json.dumps({"keys": [jwk]}, indent=2) + "\n")
    tmp.replace(jwks_path)
    return KeyPaths(private_path, jwks_path, jwk["kid"])


def ensure_secrets_key(directory: Path) -> str:
    """A random key made once (`secrets.key`): the services' SECRETS_KEY (urlsafe base64, 32 bytes)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "secrets.key"
    if not path.exists():
        _write_private(path, (base64.urlsafe_b64encode(secrets.token_bytes(32)).decode() + "\n").encode())
    return path.read_text().strip()


def ensure_resident_ref_key(directory: Path) -> str:
    """A random key made once (`resident-ref.key`): the platform's RESIDENT_REF_KEY, shared by the
    services that meet the same resident (shared.crypto.resident_ref)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "resident-ref.key"
    if not path.exists():
        _write_private(path, (base64.urlsafe_b64encode(secrets.token_bytes(32)).decode() + "\n").encode())
    return path.read_text().strip()


def ensure_dev_keys(directory: Path = KEYS_DIR) -> KeyPaths:
    paths = generate_keypair(directory)
    ensure_secrets_key(directory)
    ensure_resident_ref_key(directory)
    return paths


def read_kid(jwks_path: Path) -> str:
    kid: str = json.loads(jwks_path.read_text())["keys"][0]["kid"]
    return kid


def issue_token(
    private_key_pem: bytes,
    kid: str,
    *,
    role: str,
    municipalities: list[str] | tuple[str, ...],
    partner_id: str | None = None,
    sub: str | None = None,
    ttl_seconds: int = DEFAULT_TTL_SECONDS,
    roles: list[str] | None = None,
    issuer: str = ISSUER,
    audience: str = AUDIENCE,
    extra_claims: dict[str, Any] | None = None,
) -> str:
    """An RS256 JWT as the local stack's identity provider would issue it.

    Claims: iss, aud, sub (default `dev-<role>`; for `integration`, `client-<partner>`), iat,
    exp (now + ttl), roles (`roles` or `[role]`), municipalities, partner_id (when given).
    `ttl_seconds` may be negative to make an expired token.
    """
    if sub is None:
        sub = f"client-{partner_id}" if role == "integration" and partner_id else f"dev-{role}"
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "sub": sub,
        "iat": now,
        "exp": now + ttl_seconds,
        "roles": list(roles) if roles is not None else [role],
        "municipalities": list(municipalities),
    }
    if partner_id is not None:
        claims["partner_id"] = partner_id
    if extra_claims:
        claims.update(extra_claims)
    return jwt.encode(claims, private_key_pem, algorithm="RS256", headers={"kid": kid})


def dev_token(
    *,
    role: str,
    municipalities: list[str] | tuple[str, ...],
    partner_id: str | None = None,
    sub: str | None = None,
    ttl_seconds: int = DEFAULT_TTL_SECONDS,
    directory: Path = KEYS_DIR,
) -> str:
    """A token signed with the local stack's key (made if missing)."""
    paths = ensure_dev_keys(directory)
    return issue_token(
        paths.private_pem.read_bytes(),
        paths.kid,
        role=role,
        municipalities=municipalities,
        partner_id=partner_id,
        sub=sub,
        ttl_seconds=ttl_seconds,
    )
