"""JSON logs (structlog) with trace id and actor, and W3C trace context carried across hops.

The trace context lives in a context variable: the HTTP middleware sets it from the incoming
`traceparent` (or starts a trace), the outbox stores it with each event, the consumer runner
restores it from the Kafka header, so one trace id follows a signal from intake to webhook.

OpenTelemetry spans (OTLP) only when `OTEL_EXPORTER_OTLP_ENDPOINT` is set (`configure_tracing`):
then the upstream instrumentation of FastAPI, httpx, asyncpg and aiokafka records the spans and
the trace context above is the current span's. Off, nothing of OpenTelemetry is even imported.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import secrets
import sys
from collections.abc import Iterator, MutableMapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

import structlog

_traceparent: ContextVar[str | None] = ContextVar("traceparent", default=None)
actor_var: ContextVar[str | None] = ContextVar("actor", default=None)
_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
_tracer_provider: Any = None  # an opentelemetry TracerProvider while tracing is on

if TYPE_CHECKING:
    from fastapi import FastAPI


def new_traceparent(trace_id: str | None = None) -> str:
    return f"00-{trace_id or secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


def continue_trace(incoming: str | None) -> str:
    """A child span of `incoming` if it is a valid traceparent, else a new trace."""
    match = _TRACEPARENT.match(incoming or "")
    value = new_traceparent(match.group(1) if match else None)
    _traceparent.set(value)
    return value


def current_traceparent() -> str | None:
    if _tracer_provider is not None:
        from opentelemetry import trace

        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            return f"00-{span.trace_id:032x}-{span.span_id:016x}-{int(span.trace_flags):02x}"
    return _traceparent.get()


def set_traceparent(value: str | None) -> None:
    _traceparent.set(value)


def trace_id() -> str | None:
    value = current_traceparent()
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


# --- OpenTelemetry ----------------------------------------------------------------------------------


def tracing_enabled() -> bool:
    return _tracer_provider is not None


def configure_tracing(service: str, provider: Any = None) -> bool:
    """Turn tracing on for this process when `OTEL_EXPORTER_OTLP_ENDPOINT` is set (the OTLP/HTTP
    exporter reads the OTEL_* variables) or a TracerProvider is given (tests); True when on.
    httpx, asyncpg and aiokafka are instrumented once per process; FastAPI apps by `instrument_app`."""
    global _tracer_provider
    if _tracer_provider is not None:
        return True
    if provider is None:
        if not os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
            return False
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        name = os.environ.get("OTEL_SERVICE_NAME") or f"wijkaanpak-{service}"
        provider = TracerProvider(resource=Resource.create({"service.name": name}))
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    for instrumentor in _instrumentors():
        instrumentor.instrument(tracer_provider=provider)
    _tracer_provider = provider
    return True


def _instrumentors() -> tuple[Any, ...]:
    from opentelemetry.instrumentation.aiokafka import AIOKafkaInstrumentor
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    return HTTPXClientInstrumentor(), AsyncPGInstrumentor(), AIOKafkaInstrumentor()  # type: ignore[no-untyped-call]


def stop_tracing() -> None:
    """Undo `configure_tracing` (tests); spans still buffered are flushed first."""
    global _tracer_provider
    if _tracer_provider is None:
        return
    for instrumentor in _instrumentors():
        instrumentor.uninstrument()
    _tracer_provider.force_flush()
    _tracer_provider = None


def instrument_app(app: FastAPI) -> None:
    """Server spans for a FastAPI app while tracing is on (health and metrics left out)."""
    if _tracer_provider is None:
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=_tracer_provider,
        excluded_urls="healthz,readyz,metrics",
        exclude_spans=["receive", "send"],  # one span per request, not one per ASGI message
    )


def kafka_trace_headers(traceparent: str | None) -> list[tuple[str, bytes]]:
    """The outbox row's trace context as a Kafka header; with tracing on the aiokafka
    instrumentation writes it (its producer span's, a child of the row's: see `resumed`)."""
    if not traceparent or _tracer_provider is not None:
        return []
    return [("traceparent", traceparent.encode())]


@contextlib.contextmanager
def resumed(traceparent: str | None) -> Iterator[None]:
    """Continue the trace of `traceparent` in this block (the relay sending an outbox row)."""
    if _tracer_provider is None or not traceparent:
        yield
        return
    from opentelemetry import context, propagate

    token = context.attach(propagate.extract({"traceparent": traceparent}))
    try:
        yield
    finally:
        context.detach(token)


@contextlib.contextmanager
def consuming(topic: str, traceparent: str | None) -> Iterator[None]:
    """Handle one consumed event in the trace its Kafka header carried (a span `process <topic>`)."""
    set_traceparent(traceparent)
    if _tracer_provider is None:
        yield
        return
    from opentelemetry import propagate, trace

    parent = propagate.extract({"traceparent": traceparent} if traceparent else {})
    tracer = _tracer_provider.get_tracer("wijkaanpak.consumer")
    with tracer.start_as_current_span(f"process {topic}", context=parent, kind=trace.SpanKind.CONSUMER):
        yield
