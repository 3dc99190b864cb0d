"""Creating with an Idempotency-Key: the same key and body answer the first answer again, another
body is 422 (`shared.idempotency`). A webhook secret in a stored answer is sealed at rest and
unsealed for the replay."""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from shared import idempotency
from shared.auth import Principal
from shared.crypto import SecretBox
from shared.db import UnitOfWork
from shared.errors import FieldError, ValidationFailed

IDEMPOTENCY_KEY_MAX = 200
Answer = tuple[int, dict[str, Any]]


@dataclass(frozen=True)
class IdempotencyClaim:
    scope: str
    key: str
    request_hash: str


@dataclass(frozen=True)
class Created:
    """What a creating use case answers; `secret` is added to the body, and sealed when stored."""

    status: int
    body: dict[str, Any]
    secret: str | None = None


def claim_for(principal: Principal, operation: str, key: str | None, body_hash: str) -> IdempotencyClaim | None:
    """The caller's claim on `key` for `operation` (None without a key); a key of a bad length is 400."""
    if key is None:
        return None
    if not key or len(key) > IDEMPOTENCY_KEY_MAX:
        raise ValidationFailed([FieldError("Idempotency-Key", f"must be 1 to {IDEMPOTENCY_KEY_MAX} characters")])
    return IdempotencyClaim(f"{operation}:{principal.sub}", key, body_hash)


async def create_once(
    uow: UnitOfWork, claim: IdempotencyClaim | None, box: SecretBox, create: Callable[[], Awaitable[Created]]
) -> Answer:
    """`create` and commit, or the first answer again when the claim's key was used before."""
    if claim is not None:
        stored = await idempotency.claim(uow.session, claim.scope, claim.key, claim.request_hash)
        if stored is not None:
            return stored.status_code, _unsealed(box, claim, stored.body)
    created = await create()
    if claim is not None:
        await idempotency.complete(uow.session, claim.scope, claim.key, created.status, _sealed(box, claim, created))
    await uow.commit()
    body = dict(created.body)
    if created.secret is not None:
        body["webhookSecret"] = created.secret
    return created.status, body


def _context(claim: IdempotencyClaim) -> str:
    return f"idempotency:{claim.scope}:{claim.key}"


def _sealed(box: SecretBox, claim: IdempotencyClaim, created: Created) -> dict[str, Any]:
    if created.secret is None:
        return created.body
    sealed = box.seal(created.secret, _context(claim))
    return {**created.body, "sealedWebhookSecret": base64.b64encode(sealed).decode()}


def _unsealed(box: SecretBox, claim: IdempotencyClaim, body: dict[str, Any]) -> dict[str, Any]:
    body = dict(body)
    sealed = body.pop("sealedWebhookSecret", None)
    if sealed is not None:
        body["webhookSecret"] = box.open(base64.b64decode(sealed), _context(claim))
    return body
