"""The limits every text of this service keeps (CONTRACT.md), checked in one place."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import TypeVar
from uuid import UUID

from shared.errors import FieldErrors

TITLE_MAX = 120
TEXT_MAX = 2000  # body, description, outcome, note, reason
PLACE_MAX = 200
EMAIL_MAX = 254
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
E = TypeVar("E", bound=StrEnum)


def check_text(errors: FieldErrors, field: str, value: str | None, *, limit: int, required: bool) -> str | None:
    """The text when it has 1..limit characters (None when absent and optional)."""
    if value is None or not value.strip():
        if required or value is not None:
            errors.add(field, f"must be 1 to {limit} characters")
        return None
    if len(value) > limit:
        errors.add(field, f"must be at most {limit} characters")
    return value


def check_code(errors: FieldErrors, field: str, value: object, codes: type[E]) -> E | None:
    """One of the lower-case codes of `codes`."""
    try:
        return codes(str(value))
    except ValueError:
        errors.add(field, f"must be one of {', '.join(c.value for c in codes)}")
        return None


def check_id(errors: FieldErrors, field: str, value: str | None) -> UUID | None:
    if value is None:
        return None
    try:
        return UUID(value)
    except ValueError:
        errors.add(field, "must be an id")
        return None


def check_email(errors: FieldErrors, field: str, value: str | None) -> str | None:
    if value is None:
        return None
    if len(value) > EMAIL_MAX or not _EMAIL.fullmatch(value):
        errors.add(field, "must be an e-mail address")
        return None
    return value


def check_aware(errors: FieldErrors, field: str, value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        errors.add(field, "must carry a time zone (RFC 3339)")
        return None
    return value
