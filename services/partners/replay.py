"""Creating with an Idempotency-Key: the same key and body answer the first answer again, another
body is 422 (`shared.idempotency`). A webhook secret is shown in the first answer only: it is never
stored with the answer, and a replay answers without it (whoever lost it rotates the secret), so a
stolen key and body do not reveal it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from shared import idempotency
from shared.auth import Principal
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
    uow: UnitOfWork, claim: IdempotencyClaim | None, create: Callable[[], Awaitable[Created]]
) -> Answer:
    """`create` and commit, or the first answer again (without a secret) when the key was used before
    (`shared.idempotency.create_once`, which keeps the body without the secret)."""
    secret: str | None = None

    async def body() -> dict[str, Any]:
        nonlocal secret
        created = await create()
        secret = created.secret
        return created.body

    once = idempotency.Once(claim.key, claim.request_hash) if claim is not None else idempotency.Once(None, "")
    answer = await idempotency.create_once(uow, once, claim.scope if claim is not None else "", body)
    shown = {k: v for k, v in dict(answer.body).items() if k not in SECRET_FIELDS}
    if secret is not None:
        shown["webhookSecret"] = secret
    return answer.status, shown


SECRET_FIELDS = frozenset({"webhookSecret", "sealedWebhookSecret"})
"""Never in a replayed answer (answers stored before this change kept the secret sealed)."""
