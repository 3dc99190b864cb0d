"""Lists: page sizes, opaque keyset cursors (`?first=&after=`, stable under inserts) and batch
reads by id (`?ids=a,b,c`), the same in every service."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson

from shared.errors import FieldError, FieldErrors, ValidationFailed

MAX_PAGE = 200
MAX_IDS = MAX_PAGE
NOT_A_CURSOR = "not a cursor this API gave out"
Keyset = tuple[datetime, UUID]


def encode_cursor(*values: Any) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(list(values))).decode().rstrip("=")


def decode_cursor(cursor: str | None, field: str = "after") -> list[Any] | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = orjson.loads(base64.urlsafe_b64decode(padded))
    except (ValueError, orjson.JSONDecodeError) as exc:
        raise ValidationFailed([FieldError(field, NOT_A_CURSOR)]) from exc
    if not isinstance(values, list):
        raise ValidationFailed([FieldError(field, NOT_A_CURSOR)])
    return values


def encode_keyset(key: Keyset) -> str:
    """The cursor after a row ordered by (time, id)."""
    return encode_cursor(key[0].isoformat(), str(key[1]))


def decode_keyset(cursor: str | None, field: str = "after") -> Keyset | None:
    values = decode_cursor(cursor, field)
    if values is None:
        return None
    try:
        if len(values) != 2:
            raise ValueError("a keyset cursor holds a time and an id")
        return datetime.fromisoformat(str(values[0])), UUID(str(values[1]))
    except ValueError as exc:
        raise ValidationFailed([FieldError(field, NOT_A_CURSOR)]) from exc


def page_size(first: int, field: str = "first") -> int:
    if first < 1 or first > MAX_PAGE:
        raise ValidationFailed([FieldError(field, f"must be between 1 and {MAX_PAGE}")])
    return first


def parse_ids(value: str | None, errors: FieldErrors, field: str = "ids") -> list[UUID] | None:
    """A comma-separated batch of ids (None when not asked); every malformed id and a batch over
    `MAX_IDS` are reported on `field`."""
    if value is None:
        return None
    found: list[UUID] = []
    for part in (p.strip() for p in value.split(",")):
        if not part:
            continue
        try:
            found.append(UUID(part))
        except ValueError:
            errors.add(field, f"not an id: {part[:40]!r}")
    if len(found) > MAX_IDS:
        errors.add(field, f"at most {MAX_IDS} ids at once")
    return found


def listing(results: list[Any], total: int, last: Keyset | None) -> dict[str, Any]:
    """A list answer: the page's results, the count of all, and the cursor after the last one when
    more follow (`last` is None on the last page)."""
    return {"results": results, "totalCount": total, "next": encode_keyset(last) if last is not None else None}
