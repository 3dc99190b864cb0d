"""The upstream clients at their HTTP edge: reads are retried, writes never; the caller's token
and the trace context travel along; a service's problem becomes the mapped error."""

from __future__ import annotations

import httpx
import pytest

from gateway.settings import Settings
from gateway.upstream import Upstream, UpstreamError


def upstream_with(handler: httpx.MockTransport) -> Upstream:
    settings = Settings(upstream_read_retries=2, upstream_retry_backoff_seconds=0.0)
    return Upstream(settings, transports={"signals": handler})


async def test_a_read_is_retried_after_a_gateway_error_and_carries_the_token() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(503 if len(seen) < 3 else 200, json={"results": []})

    upstream = upstream_with(httpx.MockTransport(answer))
    assert await upstream.get("signals", "/v1/signals", token="tok", params={"area": "WK047901", "x": None}) == {
        "results": []
    }
    assert len(seen) == 3
    assert seen[0].headers["authorization"] == "Bearer tok"
    assert seen[0].url.params.get("area") == "WK047901" and "x" not in seen[0].url.params
    await upstream.close()


async def test_a_write_is_never_retried() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        raise httpx.ReadTimeout("slow", request=request)

    upstream = upstream_with(httpx.MockTransport(answer))
    with pytest.raises(UpstreamError) as refused:
        await upstream.post("signals", "/v1/signals", token="tok", json={"area": "x"})
    assert len(seen) == 1
    assert refused.value.problem.code == "INTERNAL"
    await upstream.close()


async def test_a_problem_becomes_its_code_with_the_invalid_fields() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        problem = {
            "status": 400,
            "code": "BAD_USER_INPUT",
            "detail": "invalid",
            "invalidParams": [{"name": "area", "reason": "not a CBS code"}],
        }
        return httpx.Response(400, json=problem, headers={"content-type": "application/problem+json"})

    upstream = upstream_with(httpx.MockTransport(answer))
    with pytest.raises(UpstreamError) as refused:
        await upstream.post("signals", "/v1/signals", token="tok", json={})
    assert refused.value.problem.extensions() == {
        "code": "BAD_USER_INPUT",
        "fields": [{"field": "area", "message": "not a CBS code"}],
    }
    await upstream.close()


async def test_an_id_cannot_walk_to_another_path_of_a_service() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={})

    upstream = upstream_with(httpx.MockTransport(answer))
    for path in (
        "/v1/signals/../internal/v1/signals/x/contacts",
        "/v1/signals/x?ids=1",
        "/v1/signals/%2e%2e",
        "/v1/signals/..",
    ):
        with pytest.raises(UpstreamError) as refused:
            await upstream.get("signals", path, token="tok")
        assert refused.value.problem.code == "NOT_FOUND"
    assert seen == []
    assert await upstream.get("signals", "/v1/signals/3f0e1c2a-0000-4000-8000-000000000000", token="tok") == {}
    await upstream.close()
