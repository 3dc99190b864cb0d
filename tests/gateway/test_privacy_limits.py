"""The cost limit counts what an operation really asks of the services (issue 18, items 7 and 5).

- a page size given as a variable with a default counts at that default;
- a field that calls a service once per parent (`deliveries`, `measurements`) costs that call;
- a list without `first` is bounded by what it really fetches while the operation runs;
- one caller holds at most ten subscriptions, however many connections it opens.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from websockets.asyncio.client import ClientConnection, connect

from gateway.app import create_app
from gateway.limits import Limits, measure_document
from gateway.schema import build_schema
from gateway.settings import Settings
from tests.gateway.conftest import GM, Platform, free_socket, uvicorn_on
from tests.support import Infra, serve

SERVICES = ("signals", "partners", "goals", "notifications")


def cost(query: str, variables: dict[str, Any] | None = None) -> int:
    from graphql import parse

    schema = build_schema(Settings())._schema
    [(_, measure)] = measure_document(schema, list(parse(query).definitions), Limits(10, 30, 10_000), variables)
    return measure.cost


DEFAULTED = """query($n: Int = 200) { signals(municipality: "GM0479", first: $n) { nodes {
    id routedTo { id name } escalations { partner { id name } at } feedback { message partner { id } }
    history { action at } } } }"""


def test_a_variable_page_size_counts_at_its_default_unless_given() -> None:
    assert cost(DEFAULTED, {}) == cost(DEFAULTED, {"n": 200}) > 10_000
    assert cost(DEFAULTED, {"n": 10}) < 1_000


def test_a_field_read_once_per_parent_costs_its_upstream_calls() -> None:
    per_parent = cost('{ signals(municipality: "GM0479", first: 200) { nodes { id deliveries { id } } } }')
    assert per_parent > 10_000  # 200 reads of notifications; counted 1,400 before
    few = cost('{ signals(municipality: "GM0479", first: 20) { nodes { id deliveries { id } } } }')
    assert few < 10_000


@pytest.fixture
async def nowhere_gateway(infra: Infra) -> AsyncIterator[httpx.AsyncClient]:
    """A gateway with no service behind it: whatever passes the limits fails with INTERNAL."""
    closed = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    closed.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{closed.getsockname()[1]}"
    settings = infra.settings(
        Settings, WK_ENV="production", subscriptions_enabled=False, **{f"service_urls_{s}": url for s in SERVICES}
    )
    try:
        async with serve(create_app(settings)) as client:
            yield client
    finally:
        closed.close()


def codes(body: Any) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors") or []]


async def test_a_defaulted_page_size_is_refused_before_any_service_is_asked(
    nowhere_gateway: httpx.AsyncClient, infra: Infra
) -> None:
    headers = infra.headers("coordinator")
    refused = await nowhere_gateway.post("/graphql", json={"query": DEFAULTED}, headers=headers)
    assert codes(refused.json()) == ["QUERY_TOO_COMPLEX"]
    given = await nowhere_gateway.post("/graphql", json={"query": DEFAULTED, "variables": {"n": 5}}, headers=headers)
    assert codes(given.json()) == ["INTERNAL"]  # allowed: the (absent) signals service is asked


def endless_partners(calls: list[str]) -> FastAPI:
    """A partners service whose list never ends: 200 partners a page, always a next page."""
    app = FastAPI()

    @app.get("/v1/partners")
    async def partners(request: Request) -> dict[str, Any]:
        calls.append(str(request.url))
        rows = [{"id": str(uuid.uuid4()), "name": "p", "kind": "POLICE", "municipalities": [GM]} for _ in range(200)]
        return {"results": rows, "totalCount": 10**6, "next": "more"}

    return app


async def test_an_unpaginated_list_stops_at_the_upstream_budget(infra: Infra) -> None:
    calls: list[str] = []
    async with contextlib.AsyncExitStack() as stack:
        partners_url = await stack.enter_async_context(uvicorn_on(endless_partners(calls), free_socket()))
        settings = infra.settings(
            Settings,
            WK_ENV="production",
            subscriptions_enabled=False,
            max_upstream_rows=100_000,
            **{f"service_urls_{s}": partners_url for s in SERVICES},
        )
        client = await stack.enter_async_context(serve(create_app(settings)))
        body = (
            await client.post(
                "/graphql",
                json={"query": '{ partners(municipality: "GM0479") { id } }'},
                headers=infra.headers("coordinator"),
            )
        ).json()
    assert codes(body) == ["QUERY_TOO_COMPLEX"]
    assert body["data"] is None or body["data"].get("partners") is None
    assert len(calls) == 100  # Settings.max_upstream_calls, then refused; before: without end


async def connection(platform: Platform, token: str) -> ClientConnection:
    url = platform.gateway_url.replace("http://", "ws://") + "/graphql"
    ws = await connect(url, subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
    await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}))
    assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "connection_ack"
    return ws


EVENTS = 'subscription { signalEvents(municipality: "GM0479") { type } }'


async def start(ws: ClientConnection, sub_id: str) -> None:
    await ws.send(json.dumps({"id": sub_id, "type": "subscribe", "payload": {"query": EVENTS}}))


async def test_one_caller_holds_at_most_ten_subscriptions_across_connections(platform: Platform) -> None:
    sub = f"coordinator-{uuid.uuid4().hex[:8]}"
    await platform.subscribers(0)
    connections = [await connection(platform, platform.infra.token("coordinator", [GM], sub=sub)) for _ in range(5)]
    other = await connection(platform, platform.infra.token("coordinator", [GM]))
    try:
        for i in range(10):
            await start(connections[i % 5], f"s{i}")
        await platform.subscribers(10)
        await start(connections[0], "eleventh")
        refused = json.loads(await asyncio.wait_for(connections[0].recv(), 10))
        assert refused["id"] == "eleventh"
        assert [e["extensions"]["code"] for e in refused["payload"]["errors"]] == ["RATE_LIMITED"]
        await start(other, "someone-else")  # another caller is not counted against this one
        await platform.subscribers(11)
        await connections[1].close()  # two of the ten end with their connection
        await platform.subscribers(9)
        await start(connections[0], "again")
        await platform.subscribers(10)
    finally:
        for ws in [*connections, other]:
            await ws.close()
    await platform.subscribers(0)
