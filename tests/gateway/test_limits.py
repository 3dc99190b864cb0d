"""Abuse limits and authentication at the gateway, before any service is asked."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from gateway.app import create_app
from gateway.settings import Settings
from tests.support import Infra, serve

CATEGORIES = "{ categories { code label } }"


@pytest.fixture
async def gateway(infra: Infra) -> AsyncIterator[httpx.AsyncClient]:
    """A gateway with no service behind it: its upstream port is bound but never listens."""
    closed = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    closed.bind(("127.0.0.1", 0))
    nowhere = f"http://127.0.0.1:{closed.getsockname()[1]}"
    settings = infra.settings(
        Settings,
        WK_ENV="production",
        subscriptions_enabled=False,
        max_tokens=400,
        **{f"service_urls_{name}": nowhere for name in ("signals", "partners", "goals", "notifications")},
    )
    try:
        async with serve(create_app(settings)) as client:
            yield client
    finally:
        closed.close()


async def ask(client: httpx.AsyncClient, headers: dict[str, str], query: str, **variables: Any) -> Any:
    response = await client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
    return response.json()


def codes(body: Any) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors") or []]


async def test_categories_come_with_dutch_labels(gateway: httpx.AsyncClient, infra: Infra) -> None:
    body = await ask(gateway, infra.headers("resident"), CATEGORIES)
    assert {"code": "LITTER_DUMPING", "label": "Afval en dumping"} in body["data"]["categories"]
    assert len(body["data"]["categories"]) == 9


async def test_no_or_a_forged_token_is_unauthenticated(gateway: httpx.AsyncClient, infra: Infra) -> None:
    assert codes(await ask(gateway, {}, CATEGORIES)) == ["UNAUTHENTICATED"]
    forged = {"Authorization": f"Bearer {infra.token('coordinator', issuer='someone-else')}"}
    assert codes(await ask(gateway, forged, CATEGORIES)) == ["UNAUTHENTICATED"]
    expired = {"Authorization": f"Bearer {infra.token('coordinator', ttl=-60)}"}
    assert codes(await ask(gateway, expired, CATEGORIES)) == ["UNAUTHENTICATED"]


async def test_a_query_deeper_than_ten_is_too_complex(gateway: httpx.AsyncClient, infra: Infra) -> None:
    deep = '{ signal(id: "x") { ' + "duplicateOf { " * 10 + "id" + " }" * 10 + " } }"
    body = await ask(gateway, infra.headers("coordinator"), deep)
    assert codes(body) == ["QUERY_TOO_COMPLEX"]
    assert body.get("data") is None


async def test_more_than_thirty_aliases_are_too_complex(gateway: httpx.AsyncClient, infra: Infra) -> None:
    many = "{ " + " ".join(f"a{i}: categories {{ code }}" for i in range(31)) + " }"
    assert codes(await ask(gateway, infra.headers("coordinator"), many)) == ["QUERY_TOO_COMPLEX"]
    thirty = "{ " + " ".join(f"a{i}: categories {{ code }}" for i in range(30)) + " }"
    assert "errors" not in await ask(gateway, infra.headers("coordinator"), thirty)


async def test_too_many_tokens_are_too_complex(gateway: httpx.AsyncClient, infra: Infra) -> None:
    long = "{ categories { " + " ".join(["code"] * 500) + " } }"
    assert codes(await ask(gateway, infra.headers("coordinator"), long)) == ["QUERY_TOO_COMPLEX"]


async def test_a_costly_query_is_refused_before_any_service_is_asked(gateway: httpx.AsyncClient, infra: Infra) -> None:
    costly = """{ signals(municipality: "GM0479", first: 200) { nodes {
        id routedTo { id } escalations { partner { id name } at } feedback { message partner { id } }
        history { action at } deliveries { id status } duplicateOf { id escalations { at partner { id } } } } } }"""
    body = await ask(gateway, infra.headers("coordinator"), costly)
    assert codes(body) == ["QUERY_TOO_COMPLEX"]
    assert "cost" in body["errors"][0]["message"]


async def test_a_page_size_given_as_a_variable_counts_at_its_value(gateway: httpx.AsyncClient, infra: Infra) -> None:
    query = """query($n: Int) { signals(municipality: "GM0479", first: $n) { nodes {
        id routedTo { id name } escalations { partner { id name } at } feedback { message partner { id } }
        history { action at } } } }"""
    body = await ask(gateway, infra.headers("coordinator"), query, n=200)
    assert codes(body) == ["QUERY_TOO_COMPLEX"]
    small = await ask(gateway, infra.headers("coordinator"), query, n=10)
    assert codes(small) == ["INTERNAL"]  # allowed: the (absent) signals service is asked


async def test_batched_operations_are_refused(gateway: httpx.AsyncClient, infra: Infra) -> None:
    response = await gateway.post(
        "/graphql", json=[{"query": CATEGORIES}, {"query": CATEGORIES}], headers=infra.headers("resident")
    )
    assert response.status_code == 400
    assert "data" not in response.text


async def test_no_introspection_and_no_suggestions_outside_the_local_stack(
    gateway: httpx.AsyncClient, infra: Infra
) -> None:
    body = await ask(gateway, infra.headers("coordinator"), "{ __schema { types { name } } }")
    assert body.get("data") is None
    assert set(codes(body)) == {"GRAPHQL_VALIDATION_FAILED"}
    typo = await ask(gateway, infra.headers("coordinator"), "{ categorie { code } }")
    assert codes(typo) == ["GRAPHQL_VALIDATION_FAILED"]
    assert "Did you mean" not in typo["errors"][0]["message"]
    assert (await gateway.get("/graphiql/assets/graphiql@3.8.3/graphiql.min.js")).status_code == 404


async def test_graphiql_and_introspection_in_the_local_stack(infra: Infra) -> None:
    settings = infra.settings(Settings, WK_ENV="local", subscriptions_enabled=False)
    async with serve(create_app(settings)) as client:
        ide = await client.get("/graphql", headers={"accept": "text/html"})
        assert ide.status_code == 200 and "graphiql" in ide.text.lower()
        assert "script-src 'self' 'unsafe-inline';" in ide.headers["content-security-policy"]  # no CDN
        body = await ask(client, infra.headers("coordinator"), "{ __schema { queryType { name } } }")
        assert body["data"]["__schema"]["queryType"]["name"] == "Query"
        typo = await ask(client, infra.headers("coordinator"), "{ categorie { code } }")
        assert "Did you mean" in typo["errors"][0]["message"]


async def test_a_caller_over_the_rate_limit_is_refused_and_another_is_not(infra: Infra) -> None:
    settings = infra.settings(
        Settings, WK_ENV="production", subscriptions_enabled=False, rate_limit_per_second=0.01, rate_limit_burst=3
    )
    async with serve(create_app(settings)) as client:
        busy = infra.headers("resident", sub="busy-resident")
        answers = [await client.post("/graphql", json={"query": CATEGORIES}, headers=busy) for _ in range(4)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        assert codes(answers[-1].json()) == ["RATE_LIMITED"]
        other = await ask(client, infra.headers("resident", sub="calm-resident"), CATEGORIES)
        assert "errors" not in other


async def test_health_metrics_and_openapi(gateway: httpx.AsyncClient) -> None:
    assert (await gateway.get("/healthz")).json() == {"status": "ok"}
    assert (await gateway.get("/metrics")).status_code == 200
    ready = await gateway.get("/readyz")
    # No service runs behind this gateway: it is ready on its own and says what it misses.
    assert ready.status_code == 200 and ready.json()["status"] == "degraded"
    assert set(ready.json()["dependencies"]) == {"signals", "partners", "goals", "notifications", "neighbourhoods"}
    assert all(v.startswith("unavailable") for v in ready.json()["dependencies"].values())
    spec = (await gateway.get("/v1/openapi.json")).json()
    assert set(spec["paths"]) == {
        "/v1/signals/{signal_id}",
        "/v1/signals",
        "/v1/signals.geojson",
        "/v1/signals/{signal_id}/acknowledgement",
        "/v1/signals/{signal_id}/resolution",
        "/v1/signals/{signal_id}/feedback",
        "/v1/signals/{signal_id}/external-reference",
        "/v1/goals/{goal_id}",
        "/v1/goals/{goal_id}/trend.svg",
        "/open311/v2/discovery.json",
        "/open311/v2/services.json",
        "/open311/v2/services/{service_code}.json",
        "/open311/v2/requests.json",
        "/open311/v2/requests/{service_request_id}.json",
        "/v1/messages/{message_id}",
        "/v1/initiatives/{initiative_id}",
        "/v1/goal-proposals/{proposal_id}",
        "/v1/reviews/{area}/{quarter}",
        "/v1/me/data",
        "/v1/me",
        "/v1/audit",
    }
    assert (await gateway.get("/healthz")).headers["api-version"] == "1.0.0"


async def test_rest_edge_demands_a_token_before_anything_else(gateway: httpx.AsyncClient) -> None:
    response = await gateway.get("/v1/signals/00000000-0000-0000-0000-000000000000")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_an_id_that_is_a_path_is_not_found_and_only_after_authentication(
    gateway: httpx.AsyncClient, infra: Infra
) -> None:
    query = 'query { signal(id: "../../internal/v1/signals/x/contacts") { id } }'
    assert codes(await ask(gateway, {}, query)) == ["UNAUTHENTICATED"]
    assert codes(await ask(gateway, infra.headers("coordinator"), query)) == ["NOT_FOUND"]
    edge = await gateway.get("/v1/signals/%2E%2E", headers=infra.headers("integration"))
    assert edge.status_code == 404 and edge.json()["code"] == "NOT_FOUND"
