"""End to end: from `reportSignal` of an acute signal (escalated at intake) answering at the gateway
to its signed webhook arriving at the partner's receiver, at a steady 100 signals/s, beside plain
aiokafka produce-to-consume latency at the same rate in this run. Plots latency and throughput
over time as PNG.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from bench import system
from bench.platform import MUNICIPALITIES
from bench.plots import SECOND, Panel, Series, plot
from bench.report import RESULTS_DIR, Figure, Report, percentile
from bench.system import TARGET, Summary, run_load
from shared.kafka import create_topics, idempotent_producer

SECTION = "end-to-end"
RATE = 100.0


async def raw_kafka_latency(bootstrap: str, seconds: float, rate: float = RATE) -> list[float]:
    """ms from send to receipt of records produced at `rate` (acks=all, idempotent) and consumed at once."""
    topic = f"benchlat{secrets.token_hex(3)}"
    await create_topics(bootstrap, [topic], partitions=6)
    producer = idempotent_producer(bootstrap, client_id="bench-latency")
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None, fetch_max_wait_ms=5
    )
    await producer.start()
    await consumer.start()
    sent: dict[bytes, float] = {}
    latencies: list[float] = []
    try:
        partitions = [TopicPartition(topic, p) for p in range(6)]  # as created above
        consumer.assign(partitions)
        await consumer.seek_to_end(*partitions)
        stop = asyncio.Event()

        async def consume() -> None:
            while not stop.is_set() or len(latencies) < len(sent):
                batch = await consumer.getmany(timeout_ms=100)
                now = time.perf_counter()
                for records in batch.values():
                    latencies.extend((now - sent[r.key]) * 1000 for r in records if r.key in sent)
                if stop.is_set() and time.perf_counter() - stopped > 10:
                    return

        stopped = float("inf")
        task = asyncio.create_task(consume())
        begin = time.perf_counter()
        n = 0
        while time.perf_counter() - begin < seconds:
            due = begin + n / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            key = f"{n}".encode()
            sent[key] = time.perf_counter()
            await producer.send(topic, value=b'{"n": %d}' % n, key=key)
            n += 1
        stopped = time.perf_counter()
        stop.set()
        await task
    finally:
        await producer.stop()
        await consumer.stop()
    return latencies


def per_second(points: list[tuple[float, float]]) -> dict[int, list[float]]:
    buckets: dict[int, list[float]] = defaultdict(list)
    for t, value in points:
        buckets[int(t)].append(value)
    return buckets


async def run(report: Report, database_url: str, bootstrap: str, *, quick: bool = False) -> None:
    s = await system.system(database_url, bootstrap)
    p = s.platform
    seconds = 15.0 if quick else 60.0
    lines = await run_load(
        {
            "mode": "graphql",
            "url": p.url("gateway"),
            "token": p.token("coordinator"),
            "rate": RATE,
            "duration": seconds,
            "acute_share": 1.0,
            "start": 300_000,
            "municipalities": MUNICIPALITIES,
        }
    )
    sent = {r["id"]: r["t"] for r in lines if r["ok"]}
    answered = {r["id"]: r["t"] + r["ms"] / 1000 for r in lines if r["ok"]}
    deadline = time.monotonic() + 60
    arrived: dict[str, float] = {}
    while time.monotonic() < deadline:
        arrived = {}
        for a in s.receiver.delivered():
            if a.target == TARGET and a.event_type == "signal.escalated" and a.subject in sent:
                arrived.setdefault(a.subject, a.at)
        if len(arrived) >= len(sent):
            break
        await asyncio.sleep(0.5)
    from_call = [(arrived[i] - sent[i]) * 1000 for i in arrived]
    from_answer = [(arrived[i] - answered[i]) * 1000 for i in arrived]
    missing = len(sent) - len(arrived)
    held = Summary.of(lines)
    raw = await raw_kafka_latency(bootstrap, 10.0 if quick else 20.0)
    report.add(
        Figure(
            SECTION,
            "acute reportSignal sent -> signed webhook, p50",
            percentile(from_call, 50),
            "ms",
            "aiokafka produce->consume p50",
            percentile(raw, 50),
            p99=percentile(from_call, 99),
            aim="p50 <= 100 ms, p99 <= 500 ms",
            notes=f"{RATE:.0f}/s offered for {seconds:.0f} s through the gateway, {held.rate:.0f}/s accepted"
            f" (mutation p50 {held.p50:.0f} ms, p99 {held.p99:.0f} ms); {len(from_call)} webhooks, {missing} not"
            f" arrived; raw p99 {percentile(raw, 99):.1f} ms",
        )
    )
    report.add(
        Figure(
            SECTION,
            "acute reportSignal sent -> signed webhook, p99.9",
            percentile(from_call, 99.9),
            "ms",
            "aiokafka produce->consume p99.9",
            percentile(raw, 99.9),
        )
    )
    report.add(
        Figure(
            SECTION,
            "reportSignal answered -> signed webhook, p50",
            percentile(from_answer, 50),
            "ms",
            p99=percentile(from_answer, 99),
            notes="negative: the webhook came before the gateway's answer reached the client",
        )
    )
    path = _plot(lines, sent, arrived)
    report.add(Figure(SECTION, "plot (latency and throughput over time)", 0.0, "png", notes=str(path)))
    await direct(report, s, 10.0 if quick else 30.0, raw)


async def direct(report: Report, s: system.System, seconds: float, raw: list[float]) -> None:
    """The same at the signals service's own POST /v1/signals: the pipeline without the gateway."""
    p = s.platform
    lines = await run_load(
        {
            "mode": "report",
            "url": p.url("signals"),
            "token": p.token("coordinator"),
            "rate": RATE,
            "duration": seconds,
            "acute_share": 1.0,
            "start": 350_000,
            "municipalities": MUNICIPALITIES,
        }
    )
    sent = {r["id"]: r["t"] for r in lines if r["ok"]}
    deadline = time.monotonic() + 60
    arrived: dict[str, float] = {}
    while time.monotonic() < deadline and len(arrived) < len(sent):
        await asyncio.sleep(0.5)
        arrived = {}
        for a in s.receiver.delivered():
            if a.target == TARGET and a.event_type == "signal.escalated" and a.subject in sent:
                arrived.setdefault(a.subject, a.at)
    latencies = [(arrived[i] - sent[i]) * 1000 for i in arrived]
    held = Summary.of(lines)
    report.add(
        Figure(
            SECTION,
            "acute POST /v1/signals sent -> signed webhook, p50",
            percentile(latencies, 50),
            "ms",
            "aiokafka produce->consume p50",
            percentile(raw, 50),
            p99=percentile(latencies, 99),
            aim="p50 <= 100 ms, p99 <= 500 ms",
            notes=f"{RATE:.0f}/s offered for {seconds:.0f} s at signals directly, {held.rate:.0f}/s accepted;"
            f" p99.9 {percentile(latencies, 99.9):.1f} ms; {len(sent) - len(arrived)} not arrived",
        )
    )


def _plot(lines: list[dict[str, Any]], sent: dict[str, float], arrived: dict[str, float]) -> Path:
    t0 = min(r["t"] for r in lines)
    by_second = per_second([(sent[i] - t0, (arrived[i] - sent[i]) * 1000) for i in arrived])
    intake = per_second([(r["t"] + r["ms"] / 1000 - t0, r["ms"]) for r in lines if r["ok"]])
    hooks = per_second([(at - t0, 1.0) for at in arrived.values()])
    p50 = [(float(k), percentile(v, 50)) for k, v in sorted(by_second.items())]
    p99 = [(float(k), percentile(v, 99)) for k, v in sorted(by_second.items())]
    return plot(
        RESULTS_DIR / f"end-to-end-{time.strftime('%Y%m%dT%H%M%S')}.png",
        [
            Panel("report sent to webhook ms per second: p50 (blue) p99 (red)", [Series(p50), Series(p99, SECOND)]),
            Panel(
                "per second: reports accepted (blue) webhooks arrived (red)",
                [
                    Series([(float(k), len(v)) for k, v in sorted(intake.items())]),
                    Series([(float(k), len(v)) for k, v in sorted(hooks.items())], SECOND),
                ],
            ),
        ],
    )
