"""The HTTP conventions every service follows (NL API Design Rules).

problem+json (RFC 9457) for every error, all validation errors at once; `API-Version` and
security headers on every response; `/healthz`, `/readyz`, `/metrics`; OpenAPI at
`/v1/openapi.json`; a JSON log line per request with trace id and actor.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

import orjson
from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.consumer import is_transient
from shared.errors import DomainError, FieldError, ValidationFailed
from shared.metrics import http_requests
from shared.observability import (
    actor_var,
    configure_tracing,
    continue_trace,
    current_traceparent,
    get_logger,
    instrument_app,
)

PROBLEM = "application/problem+json"
log = get_logger("http")

_SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"strict-transport-security", b"max-age=31536000; includeSubDomains"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
    (b"cache-control", b"no-store"),
]
_DOCS_CSP = (
    b"default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net;"
    b" style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; img-src 'self' data: https:"
)


class JSONBody(JSONResponse):
    """orjson rendering: several times faster than the standard library on our payloads."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


def problem(status: int, title: str, detail: str, code: str, *, instance: str = "", **extra: Any) -> JSONBody:
    body: dict[str, Any] = {
        "type": f"https://wijkaanpak.nl/problems/{code.lower().replace('_', '-')}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if instance:
        body["instance"] = instance
    body.update(extra)
    return JSONBody(body, status_code=status, media_type=PROBLEM)


def _field_path(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def problem_for(exc: DomainError, instance: str = "") -> JSONBody:
    extra: dict[str, Any] = {}
    if isinstance(exc, ValidationFailed):
        extra["invalidParams"] = [{"name": f.field, "reason": f.message} for f in exc.fields]
    return problem(exc.status, exc.title, exc.detail, exc.code, instance=instance, **extra)


def install_error_handlers(app: FastAPI) -> None:
    async def domain_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, DomainError)
        return problem_for(exc, request.url.path)

    async def validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        fields = []
        for err in exc.errors():
            message = str(err.get("msg", "invalid"))
            fields.append(FieldError(_field_path(err.get("loc", ())), message.removeprefix("Value error, ")))
        return problem_for(ValidationFailed(fields), request.url.path)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        codes = {401: "UNAUTHENTICATED", 403: "FORBIDDEN", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}
        return problem(
            exc.status_code,
            str(exc.detail),
            str(exc.detail),
            codes.get(exc.status_code, "BAD_REQUEST"),
            instance=request.url.path,
        )

    async def unexpected(request: Request, exc: Exception) -> Response:
        if is_transient(exc):  # the database or broker is away: the client may try again
            log.warning("dependency_unavailable", path=request.url.path, error=type(exc).__name__)
            response = problem(
                503,
                "Service unavailable",
                "A dependency is unavailable; try again shortly",
                "UNAVAILABLE",
                instance=request.url.path,
            )
            response.headers["retry-after"] = "1"
            return response
        log.exception("unhandled_error", path=request.url.path)
        return problem(500, "Internal error", "An unexpected error occurred", "INTERNAL", instance=request.url.path)

    app.add_exception_handler(DomainError, domain_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)


class ConventionsMiddleware:
    """Pure ASGI (no BaseHTTPMiddleware overhead): trace context, headers, metrics, access log."""

    def __init__(self, app: ASGIApp, *, service: str, api_version: str, log_requests: bool = True) -> None:
        self.app = app
        self.service = service
        self.api_version = api_version.encode()
        self.log_requests = log_requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = None
        for key, value in scope["headers"]:
            if key == b"traceparent":
                incoming = value.decode("latin-1")
                break
        continue_trace(incoming)
        actor_var.set(None)
        started = time.perf_counter()
        status = 500
        path: str = scope["path"]
        docs = path.startswith("/docs")

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"api-version", self.api_version))
                headers.extend(h for h in _SECURITY_HEADERS if not (docs and h[0] == b"content-security-policy"))
                if docs:
                    headers.append((b"content-security-policy", _DOCS_CSP))
                traceparent = current_traceparent()
                if traceparent:
                    headers.append((b"traceparent", traceparent.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            elapsed = time.perf_counter() - started
            http_requests.labels(self.service, scope["method"], str(status)).observe(elapsed)
            if self.log_requests and path not in ("/healthz", "/readyz", "/metrics"):
                log.info(
                    "request",
                    method=scope["method"],
                    path=path,
                    status=status,
                    duration_ms=round(elapsed * 1000, 2),
                    action=f"{scope['method']} {path}",
                    result="ok" if status < 400 else "error",
                )


ReadinessCheck = Callable[[], Awaitable[None]]


def health_router(
    checks: dict[str, ReadinessCheck], advisory: dict[str, ReadinessCheck] | None = None
) -> APIRouter:
    """`/readyz` fails only on `checks`; `advisory` ones (what this pod depends on but can serve
    without, e.g. the gateway's upstreams) are reported in the body as `degraded`."""
    router = APIRouter(include_in_schema=False)

    @router.get("/healthz")
    async def healthz() -> JSONBody:
        return JSONBody({"status": "ok"})

    async def run(table: dict[str, ReadinessCheck]) -> dict[str, str]:
        results: dict[str, str] = {}
        for name, check in table.items():
            try:
                await check()
                results[name] = "ok"
            except Exception as exc:
                results[name] = f"unavailable: {type(exc).__name__}"
        return results

    @router.get("/readyz")
    async def readyz() -> JSONBody:
        results = await run(checks)
        ready = all(v == "ok" for v in results.values())
        body: dict[str, object] = {"status": "ok" if ready else "unavailable", "checks": results}
        if advisory:
            depends = await run(advisory)
            body["dependencies"] = depends
            if ready and any(v != "ok" for v in depends.values()):
                body["status"] = "degraded"
        return JSONBody(body, status_code=200 if ready else 503)

    @router.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


def create_service_app(
    *,
    service: str,
    title: str,
    api_version: str,
    routers: Sequence[APIRouter],
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]] | None = None,
    readiness: dict[str, ReadinessCheck] | None = None,
    advisory: dict[str, ReadinessCheck] | None = None,
    log_requests: bool = True,
    description: str = "",
) -> FastAPI:
    app = FastAPI(
        title=title,
        version=api_version,
        description=description,
        openapi_url="/v1/openapi.json",
        docs_url="/docs",
        redoc_url=None,
        lifespan=lifespan,
        default_response_class=JSONBody,
    )
    install_error_handlers(app)
    app.include_router(health_router(readiness or {}, advisory))
    for router in routers:
        app.include_router(router)
    app.add_middleware(ConventionsMiddleware, service=service, api_version=api_version, log_requests=log_requests)
    if configure_tracing(service):  # only with OTEL_EXPORTER_OTLP_ENDPOINT (or a test's provider)
        instrument_app(app)
    return app
