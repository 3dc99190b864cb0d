"""Degrade instead of going dark: with Kafka away and `goals` down, residents can still report.

A service is ready when it can serve its own API (migrated, database answering); the gateway is
ready on its own and fails only the fields of a service that is down. The broker's absence is a
metric (`wijkaanpak_kafka_reachable`) and an alert, and the outbox keeps the events until it is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets

import asyncpg
import httpx
import pytest

from gateway.app import create_app as create_gateway
from gateway.settings import Settings as GatewaySettings
from services.signals.app import Settings as SignalsSettings
from services.signals.app import create_app as create_signals
from shared.db import asyncpg_dsn
from shared.kafka import ensure_topics
from tests.gateway.conftest import GM, free_socket, fresh_area, uvicorn_on
from tests.support import Infra, eventually

pytestmark = pytest.mark.slow

REPORT = "mutation($input: ReportSignalInput!) { reportSignal(input: $input) { signal { id reference status } } }"


async def unpublished(infra: Infra, schema: str) -> int:
    conn = await asyncpg.connect(asyncpg_dsn(infra.database_url))
    try:
        count: int = await conn.fetchval(f'SELECT count(*) FROM "{schema}".outbox WHERE published_at IS NULL')
        return count
    finally:
        await conn.close()


async def test_reports_are_taken_with_kafka_stopped_and_goals_down(infra: Infra, own_kafka: object) -> None:
    from stack.kafka import KafkaBroker

    assert isinstance(own_kafka, KafkaBroker)
    await asyncio.to_thread(own_kafka.stop)  # the broker is away before anything starts
    schema = f"degraded_{secrets.token_hex(3)}"
    prefix = f"{infra.topic_prefix}deg{secrets.token_hex(2)}."
    sockets = {name: free_socket() for name in ("signals", "gateway")}
    urls = {name: f"http://127.0.0.1:{s.getsockname()[1]}" for name, s in sockets.items()}
    down = free_socket()  # bound, never listening: goals, partners and notifications are down
    down_url = f"http://127.0.0.1:{down.getsockname()[1]}"
    signals = create_signals(
        infra.settings(
            SignalsSettings,
            db_schema=schema,
            kafka_bootstrap_servers=own_kafka.bootstrap,
            topic_prefix=prefix,
            secrets_key="degraded-test-key",
            kafka_probe_seconds=0.2,
            startup_wait_seconds=5.0,
        )
    )
    gateway = create_gateway(
        infra.settings(
            GatewaySettings,
            subscriptions_enabled=False,
            service_urls_signals=urls["signals"],
            service_urls_partners=down_url,
            service_urls_goals=down_url,
            service_urls_notifications=down_url,
            upstream_read_retries=0,
        )
    )
    gm, (_wk, bu) = GM, fresh_area()
    resident = infra.headers("resident", [gm], sub="resident-degraded")
    async with contextlib.AsyncExitStack() as stack:
        stack.callback(down.close)
        signals_url = await stack.enter_async_context(uvicorn_on(signals, sockets["signals"]))
        gateway_url = await stack.enter_async_context(uvicorn_on(gateway, sockets["gateway"]))
        client = await stack.enter_async_context(httpx.AsyncClient(timeout=30))

        ready = await client.get(f"{signals_url}/readyz")
        assert ready.status_code == 200, ready.text
        gateway_ready = await client.get(f"{gateway_url}/readyz")
        assert gateway_ready.status_code == 200 and gateway_ready.json()["status"] == "degraded"
        assert gateway_ready.json()["dependencies"]["signals"] == "ok"
        assert gateway_ready.json()["dependencies"]["goals"].startswith("unavailable")

        async def kafka_reported_away() -> bool:
            metrics = (await client.get(f"{signals_url}/metrics")).text
            return 'wijkaanpak_kafka_reachable{service="signals"} 0.0' in metrics

        await eventually(kafka_reported_away, 20)

        reported = await client.post(
            f"{gateway_url}/graphql",
            json={
                "query": REPORT,
                "variables": {
                    "input": {
                        "municipality": gm,
                        "area": bu,
                        "category": "VANDALISM",
                        "urgency": "NORMAL",
                        "description": "Bushokje vernield",
                    }
                },
            },
            headers=resident,
        )
        body = reported.json()
        assert "errors" not in body, body
        signal = body["data"]["reportSignal"]["signal"]
        assert signal["status"] == "RECEIVED" and signal["reference"]

        # goals is down: its fields fail alone, with a code, next to the fields that answer
        mixed = await client.post(
            f"{gateway_url}/graphql",
            json={
                "query": "query($id: ID!, $g: ID!) { signal(id: $id) { id } goal(id: $g) { id } }",
                "variables": {"id": signal["id"], "g": "6a1f0c2e-0000-4000-8000-000000000001"},
            },
            headers=resident,
        )
        answer = mixed.json()
        assert answer["data"] == {"signal": {"id": signal["id"]}, "goal": None}
        assert [e["path"][0] for e in answer["errors"]] == ["goal"]
        assert answer["errors"][0]["extensions"]["code"] == "INTERNAL"
        assert await unpublished(infra, schema) >= 1  # the outbox holds the event meanwhile

        await asyncio.to_thread(own_kafka.start)
        await ensure_topics(own_kafka.bootstrap, prefix, partitions=1)

        async def published() -> bool:
            return await unpublished(infra, schema) == 0

        await eventually(published, 90, interval=0.5)

        async def kafka_reported_back() -> bool:
            metrics = (await client.get(f"{signals_url}/metrics")).text
            return 'wijkaanpak_kafka_reachable{service="signals"} 1.0' in metrics

        await eventually(kafka_reported_back, 30)
