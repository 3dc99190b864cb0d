"""Errors are values at the domain boundary; `shared.http` turns them into problem+json once.

Each error carries the machine code the gateway exposes as GraphQL `extensions.code`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


class DomainError(Exception):
    status: int = 400
    code: str = "BAD_REQUEST"
    title: str = "Bad request"

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title


class Unauthenticated(DomainError):
    status, code, title = 401, "UNAUTHENTICATED", "Authentication required"


class Forbidden(DomainError):
    status, code, title = 403, "FORBIDDEN", "Not allowed"


class NotFound(DomainError):
    status, code, title = 404, "NOT_FOUND", "Not found"


class Conflict(DomainError):
    status, code, title = 409, "CONFLICT", "Conflict with the current state"


class IdempotencyMismatch(DomainError):
    status, code, title = 422, "BAD_USER_INPUT", "Idempotency-Key reused with another request body"


class RateLimited(DomainError):
    status, code, title = 429, "RATE_LIMITED", "Too many requests"


class ValidationFailed(DomainError):
    """Every invalid field at once."""

    status, code, title = 400, "BAD_USER_INPUT", "Invalid input"

    def __init__(self, fields: Iterable[FieldError], detail: str = "") -> None:
        self.fields = list(fields)
        super().__init__(detail or "; ".join(f"{f.field}: {f.message}" for f in self.fields) or self.title)


class FieldErrors:
    """Collects field errors during validation, raising them together."""

    def __init__(self) -> None:
        self.items: list[FieldError] = []

    def add(self, field: str, message: str) -> None:
        self.items.append(FieldError(field, message))

    def __bool__(self) -> bool:
        return bool(self.items)

    def raise_if_any(self) -> None:
        if self.items:
            raise ValidationFailed(self.items)
