"""Wiring: the GraphQL schema at /graphql (queries, mutations, graphql-transport-ws subscriptions),
the REST edge under /v1, health and metrics. `uvicorn --factory gateway.app:create_app`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI, Request, WebSocket
from strawberry.exceptions import ConnectionRejectionError
from strawberry.fastapi import GraphQLRouter
from strawberry.http import GraphQLHTTPResponse
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult

from gateway import graphiql, open311, privacy, rest, rest_loopback, review_rest
from gateway.context import GatewayContext
from gateway.csp import PagePolicy
from gateway.errors import coded_all
from gateway.feed import SignalFeed
from gateway.schema import build_schema
from gateway.settings import SERVICES, Settings
from gateway.upstream import Upstream
from shared.auth import Authenticator, authenticator_for
from shared.errors import DomainError
from shared.http import create_service_app
from shared.observability import configure_logging, get_logger

__all__ = ["Settings", "create_app"]
log = get_logger("gateway")
API_VERSION = "1.0.0"


class GatewayRouter(GraphQLRouter[GatewayContext, None]):
    suggestions = False

    @property
    def graphql_ide_html(self) -> str:
        return graphiql.page()  # its scripts and styles served by the gateway: works offline

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        result.errors = coded_all(result.errors, suggestions=self.suggestions)
        return await super().process_result(request, result)

    async def on_ws_connect(self, context: GatewayContext) -> dict[str, object] | None:
        params: Any = context.connection_params or {}
        authorization = params.get("Authorization") or params.get("authorization") if isinstance(params, dict) else None
        try:
            await context.authorize(authorization if isinstance(authorization, str) else None)
        except DomainError as exc:
            raise ConnectionRejectionError({"code": exc.code}) from exc
        return None


@dataclass(frozen=True)
class Parts:
    """What the gateway is made of: one of each per process."""

    settings: Settings
    authenticator: Authenticator
    upstream: Upstream
    feed: SignalFeed | None


def create_app(
    settings: Settings | None = None, transports: Mapping[str, httpx.AsyncBaseTransport] | None = None
) -> FastAPI:
    """The gateway; `transports` binds the upstream clients to in-process apps (tests)."""
    settings = settings or Settings()
    configure_logging("gateway", settings.log_level)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per upstream call, URLs included: too much
    parts = Parts(
        settings,
        authenticator_for(settings),
        Upstream(settings, transports),
        SignalFeed(settings) if settings.subscriptions_enabled else None,
    )
    graphql = _graphql_router(parts)
    app = create_service_app(
        service="gateway",
        title="Wijkaanpak gateway: REST edge for partner systems",
        api_version=API_VERSION,
        routers=[
            rest.router,
            rest_loopback.router,
            review_rest.router,
            privacy.router,
            graphql,
            open311.build_router(graphql.schema),
        ],
        lifespan=_lifespan(parts),
        # Ready on its own: a service that is down fails only the fields it serves (a partial
        # GraphQL error), so the gateway keeps taking reports while e.g. goals is away.
        advisory={service: _service_check(parts.upstream, service) for service in SERVICES},
        log_requests=settings.log_requests,
        description="GraphQL at /graphql (see docs/gateway.md); this document covers the REST edge under /v1.",
    )
    if settings.is_local:
        graphiql.install(app)
    app.add_middleware(PagePolicy, matches=review_rest.is_report, policy=review_rest.REPORT_CSP)
    _expose(app, parts)
    return app


def _graphql_router(parts: Parts) -> GatewayRouter:
    settings = parts.settings

    async def context_getter(request: Request = None, websocket: WebSocket = None) -> GatewayContext:  # type: ignore[assignment]
        connection = request or websocket
        authorization = connection.headers.get("authorization") if connection is not None else None
        context = GatewayContext(
            settings=settings,
            upstream=parts.upstream,
            authenticator=parts.authenticator,
            authorization=authorization,
            feed=parts.feed,
        )
        if authorization is not None:
            await context.authenticate()
        return context

    graphql = GatewayRouter(
        build_schema(settings),
        path="/graphql",
        graphql_ide="graphiql" if settings.is_local else None,
        allow_queries_via_get=False,
        context_getter=context_getter,
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
        allowed_origins=("*",),  # the token travels in connection_init, never in a cookie
        include_in_schema=False,
    )
    graphql.suggestions = settings.is_local
    return graphql


def _lifespan(parts: Parts) -> Callable[[FastAPI], contextlib.AbstractAsyncContextManager[None]]:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        _expose(app, parts)
        stop = asyncio.Event()
        feed = parts.feed
        task = asyncio.create_task(feed.run(stop), name="gateway:feed") if feed is not None else None
        try:
            yield
        finally:
            stop.set()
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await asyncio.wait_for(task, timeout=10)
            await parts.upstream.close()

    return lifespan


def _service_check(upstream: Upstream, service: str) -> Callable[[], Awaitable[None]]:
    async def check() -> None:
        answer = await upstream.send(service, "GET", "/healthz", token=None, retry=False)
        if answer.status_code != 200:
            raise RuntimeError(f"{service} answered {answer.status_code}")

    return check


def _expose(app: FastAPI, parts: Parts) -> None:
    app.state.settings = parts.settings
    app.state.upstream = parts.upstream
    app.state.authenticator = parts.authenticator
    app.state.feed = parts.feed
