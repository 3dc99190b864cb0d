"""Opaque keyset cursors for list endpoints (`?first=&after=`), stable under inserts."""

from __future__ import annotations

import base64
from typing import Any

import orjson

from shared.errors import FieldError, ValidationFailed

MAX_PAGE = 200


def encode_cursor(*values: Any) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(list(values))).decode().rstrip("=")


def decode_cursor(cursor: str | None, field: str = "after") -> list[Any] | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = orjson.loads(base64.urlsafe_b64decode(padded))
    except (ValueError, orjson.JSONDecodeError) as exc:
        raise ValidationFailed([FieldError(field, "not a cursor this API gave out")]) from exc
    if not isinstance(values, list):
        raise ValidationFailed([FieldError(field, "not a cursor this API gave out")])
    return values


def page_size(first: int, field: str = "first") -> int:
    if first < 1 or first > MAX_PAGE:
        raise ValidationFailed([FieldError(field, f"must be between 1 and {MAX_PAGE}")])
    return first
