"""OpenTelemetry: one report is one trace, from the gateway through signals (HTTP and its
database), the outbox relay and Kafka to the notifications consumer that plans the webhook,
recorded by the SDK's in-memory exporter with the upstream instrumentation of FastAPI, httpx,
asyncpg and aiokafka. Off (no OTEL_EXPORTER_OTLP_ENDPOINT), nothing is recorded."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest_asyncio
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from shared.observability import configure_tracing, stop_tracing
from tests.gateway.conftest import GM, Platform, Receiver, fresh_area, running_platform
from tests.support import Infra, eventually


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def traced(session_infra: Infra) -> AsyncIterator[tuple[Platform, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    assert configure_tracing("tests", provider=provider)
    try:
        async with running_platform(session_infra, Receiver()) as platform:
            yield platform, exporter
    finally:
        stop_tracing()


def statement(span: ReadableSpan) -> str:
    attributes = span.attributes or {}
    return str(attributes.get("db.statement") or attributes.get("db.query.text") or "")


async def test_one_report_is_one_trace_from_the_gateway_to_the_webhook_planned(
    traced: tuple[Platform, InMemorySpanExporter],
) -> None:
    platform, exporter = traced
    wk, bu = fresh_area()
    registered = await platform.data(
        platform.headers("coordinator"),
        "mutation($input: RegisterPartnerInput!) { registerPartner(input: $input) { partner { id } } }",
        input={
            "name": f"Politie {bu}",
            "kind": "POLICE",
            "municipalities": [GM],
            "areas": [wk],
            "categories": ["VANDALISM"],
            "autoEscalate": ["VANDALISM"],
            "acknowledgeWithinMinutes": 30,
            "webhookUrl": f"{platform.receiver_url}/traced/{bu}",
        },
    )
    police = registered["registerPartner"]["partner"]["id"]
    await platform.partner_known_to_signals(police)

    answer = await platform.gateway.post(
        "/graphql",
        json={
            "query": "mutation($input: ReportSignalInput!) { reportSignal(input: $input) { signal { id status } } }",
            "variables": {
                "input": {
                    "municipality": GM,
                    "area": bu,
                    "category": "VANDALISM",
                    "urgency": "HIGH",
                    "description": "Ruit ingegooid",
                }
            },
        },
        headers=platform.headers("resident"),
    )
    body: dict[str, Any] = answer.json()
    assert body["data"]["reportSignal"]["signal"]["status"] == "ESCALATED", body
    signal_id = body["data"]["reportSignal"]["signal"]["id"]
    trace_id = int(answer.headers["traceparent"].split("-")[1], 16)

    async def webhook_sent() -> bool:
        return any(
            path == f"/traced/{bu}" and orjson.loads(b).get("subject") == signal_id
            for path, (_, b) in zip(platform.receiver.paths, platform.receiver.requests, strict=True)
        )

    await eventually(webhook_sent, timeout=30)

    def trace() -> list[ReadableSpan]:
        return [s for s in exporter.get_finished_spans() if s.context is not None and s.context.trace_id == trace_id]

    async def planned() -> bool:  # the notifications consumer stored the delivery inside this trace
        return any("INSERT INTO deliveries" in statement(s) for s in trace())

    await eventually(planned, timeout=30)
    spans = trace()
    kinds = {kind: [s.name for s in spans if s.kind == kind] for kind in SpanKind}
    assert len(kinds[SpanKind.SERVER]) >= 2, kinds  # the gateway's /graphql and signals' POST /v1/signals
    assert any(name.startswith("POST") for name in kinds[SpanKind.CLIENT]), kinds  # gateway -> signals (httpx)
    assert any("signal.escalated" in name for name in kinds[SpanKind.PRODUCER]), kinds  # the relay
    assert any(name.startswith("process") and "signal.escalated" in name for name in kinds[SpanKind.CONSUMER])
    assert any("INSERT INTO outbox" in statement(s) for s in spans)  # signals' transaction (asyncpg)
    assert len(spans) >= 6
    assert len({s.parent.span_id for s in spans if s.parent is not None} - {s.context.span_id for s in spans}) <= 1
    roots = [s for s in spans if s.parent is None]
    assert len(roots) == 1, [s.name for s in roots]  # connected: one root (this test's httpx POST /graphql)


def test_tracing_is_off_and_costs_nothing_without_an_otlp_endpoint() -> None:
    """In a fresh process without OTEL_EXPORTER_OTLP_ENDPOINT a service app imports no SDK and no
    instrumentation at all: nothing wraps httpx, asyncpg or aiokafka."""
    program = (
        "import sys\n"
        "from shared.http import create_service_app\n"
        "from shared.observability import tracing_enabled\n"
        "create_service_app(service='signals', title='t', api_version='1', routers=[])\n"
        "prefixes = ('opentelemetry.sdk', 'opentelemetry.instrumentation')\n"
        "loaded = sorted(m for m in sys.modules if m.startswith(prefixes))\n"
        "print(tracing_enabled(), loaded)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    done = subprocess.run([sys.executable, "-c", program], env=env, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False []", done.stdout + done.stderr
