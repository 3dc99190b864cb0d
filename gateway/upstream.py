"""The services' REST APIs as seen from the gateway: one pooled httpx client per service.

Every call carries the caller's own token (the services authorise it again) and the trace
context; reads are retried on transport errors and 502/503/504, writes never are (a write that
timed out may have happened). A service's problem+json becomes an `UpstreamError`.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from typing import Any

import httpx
import orjson
from prometheus_client import Counter

from gateway.domain import INTERNAL, NOT_FOUND, GatewayProblem, problem_from_response
from gateway.settings import SERVICES, Settings
from shared.observability import current_traceparent, get_logger

log = get_logger("gateway.upstream")
upstream_requests = Counter(
    "wijkaanpak_gateway_upstream_requests_total",
    "Requests from the gateway to a service",
    ["service", "method", "status"],
)
_RETRY_STATUS = frozenset({502, 503, 504})
# ids from callers become path segments: no "/", "?", "%" or dot-segments may reach a service's router
_SAFE_PATH = re.compile(r"^/(?!.*/\.{1,2}(?:/|$))[A-Za-z0-9_./-]*$")
Params = Mapping[str, str | int | bool | None]


class UpstreamError(Exception):
    """A service refused or failed a call; `problem` is what the caller may be told."""

    def __init__(self, problem: GatewayProblem, body: object = None) -> None:
        super().__init__(problem.message)
        self.problem = problem
        self.body = body


class Upstream:
    def __init__(self, settings: Settings, transports: Mapping[str, httpx.AsyncBaseTransport] | None = None) -> None:
        self.settings = settings
        timeout = httpx.Timeout(settings.upstream_timeout_seconds, connect=settings.upstream_connect_timeout_seconds)
        limits = httpx.Limits(
            max_connections=settings.upstream_max_connections,
            max_keepalive_connections=settings.upstream_max_connections,
        )
        self.clients: dict[str, httpx.AsyncClient] = {}
        for service in SERVICES:
            transport = (transports or {}).get(service)
            self.clients[service] = httpx.AsyncClient(
                base_url=settings.service_url(service),
                timeout=timeout,
                limits=limits,
                transport=transport,
                follow_redirects=False,
            )

    async def close(self) -> None:
        await asyncio.gather(*(c.aclose() for c in self.clients.values()))

    def _headers(self, token: str | None, extra: Mapping[str, str] | None) -> dict[str, str]:
        headers = {"accept": "application/json"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        traceparent = current_traceparent()
        if traceparent:
            headers["traceparent"] = traceparent
        if extra:
            headers.update(extra)
        return headers

    async def send(
        self,
        service: str,
        method: str,
        path: str,
        *,
        token: str | None,
        params: Params | None = None,
        json: object = None,
        headers: Mapping[str, str] | None = None,
        retry: bool = True,
    ) -> httpx.Response:
        """The raw answer (any status); raises UpstreamError only when the service cannot be reached."""
        if not _SAFE_PATH.match(path) or "//" in path:
            raise UpstreamError(GatewayProblem(NOT_FOUND, "Not found", 404))
        client = self.clients[service]
        query = {k: _param(v) for k, v in (params or {}).items() if v is not None}
        content = orjson.dumps(json) if json is not None else None
        sent_headers = self._headers(token, headers)
        if content is not None:
            sent_headers["content-type"] = "application/json"
        attempts = 1 + (self.settings.upstream_read_retries if method == "GET" and retry else 0)
        for attempt in range(attempts):
            try:
                response = await client.request(method, path, params=query, content=content, headers=sent_headers)
            except httpx.TransportError as exc:
                upstream_requests.labels(service, method, "unreachable").inc()
                if attempt + 1 < attempts:
                    await asyncio.sleep(self.settings.upstream_retry_backoff_seconds * (2**attempt))
                    continue
                log.warning("upstream_unreachable", upstream=service, method=method, error=type(exc).__name__)
                raise UpstreamError(GatewayProblem(INTERNAL, "A service is unavailable", 503)) from exc
            upstream_requests.labels(service, method, str(response.status_code)).inc()
            if response.status_code in _RETRY_STATUS and attempt + 1 < attempts:
                await asyncio.sleep(self.settings.upstream_retry_backoff_seconds * (2**attempt))
                continue
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    async def call(
        self,
        service: str,
        method: str,
        path: str,
        *,
        token: str | None,
        params: Params | None = None,
        json: object = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """The decoded JSON answer of a successful call, else UpstreamError with the mapped problem."""
        response = await self.send(service, method, path, token=token, params=params, json=json, headers=headers)
        if response.status_code < 300:
            return orjson.loads(response.content) if response.content else None
        body = _json_or_none(response)
        problem = problem_from_response(response.status_code, body)
        if problem.code == INTERNAL:
            log.warning("upstream_failed", upstream=service, method=method, status=response.status_code)
        raise UpstreamError(problem, body)

    async def get(self, service: str, path: str, *, token: str | None, params: Params | None = None) -> Any:
        return await self.call(service, "GET", path, token=token, params=params)

    async def post(
        self,
        service: str,
        path: str,
        *,
        token: str | None,
        json: object = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        return await self.call(
            service, "POST", path, token=token, json=json if json is not None else {}, headers=headers
        )

    async def patch(self, service: str, path: str, *, token: str | None, json: object) -> Any:
        return await self.call(service, "PATCH", path, token=token, json=json)


def _param(value: str | int | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _json_or_none(response: httpx.Response) -> object:
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return None
