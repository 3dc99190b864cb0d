"""JSON logs (structlog) with trace id and actor, and W3C trace context carried across hops.

The trace context lives in a context variable: the HTTP middleware sets it from the incoming
`traceparent` (or starts a trace), the outbox stores it with each event, the consumer runner
restores it from the Kafka header, so one trace id follows a signal from intake to webhook.
"""

from __future__ import annotations

import logging
import re
import secrets
import sys
from collections.abc import MutableMapping
from contextvars import ContextVar
from typing import Any

import structlog

_traceparent: ContextVar[str | None] = ContextVar("traceparent", default=None)
actor_var: ContextVar[str | None] = ContextVar("actor", default=None)
_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")


def new_traceparent(trace_id: str | None = None) -> str:
    return f"00-{trace_id or secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


def continue_trace(incoming: str | None) -> str:
    """A child span of `incoming` if it is a valid traceparent, else a new trace."""
    match = _TRACEPARENT.match(incoming or "")
    value = new_traceparent(match.group(1) if match else None)
    _traceparent.set(value)
    return value


def current_traceparent() -> str | None:
    return _traceparent.get()


def set_traceparent(value: str | None) -> None:
    _traceparent.set(value)


def trace_id() -> str | None:
    value = _traceparent.get()
    return value.split("-")[1] if value else None


def _add_context(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    tid = trace_id()
    if tid:
        event.setdefault("trace_id", tid)
    actor = actor_var.get()
    if actor:
        event.setdefault("actor", actor)
    return event


def configure_logging(service: str, level: str = "INFO") -> None:
    logging.basicConfig(stream=sys.stdout, format="%(message)s", level=level.upper(), force=True)
    for noisy in ("aiokafka", "kafka", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _add_context,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stdout),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
