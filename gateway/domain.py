"""The gateway's pure rules: how a service's problem becomes an error code, and the rate limit.

No I/O here: everything is unit-tested without servers.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shared import areas

# The codes GraphQL clients see in `extensions.code` (CONTRACT.md "Errors and their order").
UNAUTHENTICATED = "UNAUTHENTICATED"
FORBIDDEN = "FORBIDDEN"
NOT_FOUND = "NOT_FOUND"
BAD_USER_INPUT = "BAD_USER_INPUT"
CONFLICT = "CONFLICT"
INTERNAL = "INTERNAL"
RATE_LIMITED = "RATE_LIMITED"
QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"

PUBLIC_CODES = frozenset({UNAUTHENTICATED, FORBIDDEN, NOT_FOUND, BAD_USER_INPUT, CONFLICT, RATE_LIMITED})
_BY_STATUS = {
    400: BAD_USER_INPUT,
    401: UNAUTHENTICATED,
    403: FORBIDDEN,
    404: NOT_FOUND,
    409: CONFLICT,
    422: BAD_USER_INPUT,
    429: RATE_LIMITED,
}
INTERNAL_MESSAGE = "Internal error"


@dataclass(frozen=True)
class InputProblem:
    field: str
    message: str


@dataclass(frozen=True)
class GatewayProblem:
    """What a caller is told about a failed upstream call: a code, a message, the invalid fields."""

    code: str
    message: str
    status: int
    fields: tuple[InputProblem, ...] = ()

    def extensions(self) -> dict[str, Any]:
        ext: dict[str, Any] = {"code": self.code}
        if self.code == BAD_USER_INPUT:
            ext["fields"] = [{"field": f.field, "message": f.message} for f in self.fields]
        return ext


def problem_from_response(status: int, body: object) -> GatewayProblem:
    """A service's problem+json (RFC 9457) as a gateway problem; anything unexpected is masked."""
    problem: Mapping[str, Any] = body if isinstance(body, Mapping) else {}
    code = _BY_STATUS.get(status, INTERNAL)
    if code == INTERNAL:
        return GatewayProblem(INTERNAL, INTERNAL_MESSAGE, 500 if status < 500 else status)
    stated = problem.get("code")
    if isinstance(stated, str) and stated in PUBLIC_CODES and _BY_STATUS.get(status) == stated:
        code = stated
    detail = problem.get("detail") or problem.get("title")
    message = detail if isinstance(detail, str) and detail else _DEFAULT_MESSAGES[code]
    fields: tuple[InputProblem, ...] = ()
    if code == BAD_USER_INPUT:
        fields = tuple(_input_problems(problem.get("invalidParams")))
    return GatewayProblem(code, message, status, fields)


def _input_problems(raw: object) -> list[InputProblem]:
    if not isinstance(raw, list):
        return []
    result = []
    for item in raw:
        if isinstance(item, Mapping):
            name, reason = item.get("name"), item.get("reason")
            result.append(InputProblem(str(name or "input"), str(reason or "invalid")))
    return result


_DEFAULT_MESSAGES = {
    UNAUTHENTICATED: "Authentication required",
    FORBIDDEN: "Not allowed",
    NOT_FOUND: "Not found",
    BAD_USER_INPUT: "Invalid input",
    CONFLICT: "Conflict with the current state",
    RATE_LIMITED: "Too many requests",
}


@dataclass
class TokenBucket:
    """`rate` tokens per second up to `burst`; each request takes one."""

    rate: float
    burst: float
    tokens: float
    updated: float

    def take(self, now: float) -> bool:
        elapsed = max(0.0, now - self.updated)
        self.tokens = min(self.burst, self.tokens + elapsed * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


@dataclass
class RateLimiter:
    """One token bucket per caller (in memory, per gateway replica); the least recently seen are forgotten."""

    rate: float
    burst: int
    max_clients: int = 100_000
    _buckets: OrderedDict[str, TokenBucket] = field(default_factory=OrderedDict)

    def allow(self, key: str, now: float) -> bool:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = TokenBucket(self.rate, float(self.burst), float(self.burst), now)
            self._buckets[key] = bucket
            if len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
        return bucket.take(now)


def upper_code(code: str) -> str:
    """The GraphQL spelling of a design code (`litter_dumping` -> `LITTER_DUMPING`)."""
    return code.upper()


def connection_page(body: Mapping[str, Any]) -> tuple[list[Any], int, str | None]:
    """(results, totalCount, next cursor) of a service's list answer."""
    results = body.get("results") or []
    total = body.get("totalCount")
    nxt = body.get("next")
    return list(results), int(total) if isinstance(total, int) else len(results), nxt if isinstance(nxt, str) else None


def area_problem(area: str, municipality: str) -> str | None:
    """Why `area` is no CBS area code of `municipality` (None when it is one)."""
    parsed = areas.parse_or_none(area)
    if parsed is None:
        return areas.FORM_RULE
    if not parsed.lies_in(municipality):
        return f"does not lie in {municipality}"
    return None


def area_within(area: str, wanted: str) -> bool:
    """Whether CBS area `area` lies in `wanted` (a BU lies in its WK and GM)."""
    inner, outer = areas.parse_or_none(area), areas.parse_or_none(wanted)
    return inner is not None and outer is not None and outer.contains(inner)
