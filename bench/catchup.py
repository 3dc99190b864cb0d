"""Consumer catch-up and webhook throughput: with notifications stopped, N `signal.escalated`
events (escalations to the police partner, written to the topic as the signals relay would:
reporting 20,000 signals first would take minutes on this machine) wait on the topic; then
notifications starts and works them off. Figures: the rate its consumer records them (inbox),
beside plain aiokafka consume + asyncpg insert of as many records; and the rate signed webhooks
arrive at the local receiver, beside the receiver's own ceiling (a trivial GET at the sender's concurrency).
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from bench import messaging, system
from bench.platform import Platform
from bench.report import Figure, Report
from bench.system import TARGET, Summary, run_load
from shared.events.catalog import SignalEscalated
from shared.events.codes import Category, SignalStatus, Urgency
from shared.events.envelope import envelope, to_json
from shared.kafka import idempotent_producer

SECTION = "catch-up"
SENDER_CONCURRENCY = 128  # the notifications service's default delivery concurrency


async def queue_escalations(p: Platform, bootstrap: str, n: int) -> set[str]:
    """n escalations of made-up acute signals to the police partner on the run's topic; their signal ids."""
    police = UUID(p.partners["Politie"]["partner"]["id"])
    producer = idempotent_producer(bootstrap, client_id="bench-catch-up", linger_ms=5)
    await producer.start()
    ids: set[str] = set()
    try:
        now = datetime.now(UTC)
        for start in range(0, n, 2000):
            sends = []
            for k in range(start, min(n, start + 2000)):
                data = SignalEscalated(
                    signal_id=uuid4(),
                    reference=f"SIG-{now.year}-{k:06d}",
                    municipality="GM0479",
                    area=f"BU0479{k % 10000:04d}",
                    category=Category.OTHER,
                    urgency=Urgency.ACUTE,
                    status=SignalStatus.ESCALATED,
                    partner_id=police,
                    escalated_at=now,
                    acknowledge_by=now + timedelta(minutes=30),
                    automatic=True,
                )
                event = envelope(data, source="urn:nld:wijkaanpak:signals", sequence=2, municipality="GM0479")
                ids.add(str(data.signal_id))
                sends.append(
                    await producer.send(
                        p.prefix + data.event_type, value=to_json(event), key=str(data.signal_id).encode()
                    )
                )
            await asyncio.gather(*sends)
    finally:
        await producer.stop()
    return ids


async def run(report: Report, database_url: str, bootstrap: str, *, quick: bool = False) -> None:
    s = await system.system(database_url, bootstrap)
    p = s.platform
    n = 2_000 if quick else 20_000
    await asyncio.to_thread(p.terminate, "notifications")
    queued = await queue_escalations(p, bootstrap, n)
    notifications = await p.connect("notifications")
    consumer = "notifications.deliveries"
    window = 30.0 if quick else 90.0  # webhooks are counted this long; a stall shows as a low rate
    try:
        before = int(await notifications.fetchval("SELECT count(*) FROM inbox WHERE consumer = $1", consumer))
        p.spawn("notifications")
        started, started_wall = time.monotonic(), time.time()
        first_inbox = done_inbox = None
        deadline = started + 300
        while time.monotonic() < deadline and done_inbox is None:
            recorded = int(await notifications.fetchval("SELECT count(*) FROM inbox WHERE consumer = $1", consumer))
            now = time.monotonic()
            if recorded > before and first_inbox is None:
                first_inbox = now
            if recorded - before >= len(queued):
                done_inbox = now
            await asyncio.sleep(0.1)
        await asyncio.sleep(max(0.0, started + window - time.monotonic()))
    finally:
        await notifications.close()
    if first_inbox is None or done_inbox is None:
        raise RuntimeError("the notifications consumer did not record the queued events in time")
    hooks = sorted(a.at for a in s.receiver.delivered() if a.target == TARGET and a.subject in queued)
    hook_rate = (len(hooks) - 1) / (hooks[-1] - hooks[0]) if len(hooks) > 1 and hooks[-1] > hooks[0] else 0.0
    raw = await messaging.raw_consume_insert_throughput(database_url, bootstrap, n)
    receiver = Summary.of(
        await run_load(
            {
                "mode": "trivial",
                "url": s.receiver_url,
                "path": "/ping",
                "concurrency": SENDER_CONCURRENCY,
                "duration": 5.0,
            }
        ),
        1.0,
    )
    report.add(
        Figure(
            SECTION,
            f"notifications consumer, {len(queued):,} escalations queued",
            len(queued) / max(done_inbox - first_inbox, 1e-3),
            "events/s",
            "aiokafka consume + asyncpg insert",
            raw,
            notes=f"first record {first_inbox - started:.1f} s after the process started; each event"
            " recorded in the inbox with its delivery row; goals consumes the same topic meanwhile",
        )
    )
    report.add(
        Figure(
            SECTION,
            "signed webhooks to a local receiver",
            hook_rate,
            "webhooks/s",
            "receiver's own ceiling (trivial GET)",
            receiver.rate,
            concurrency=SENDER_CONCURRENCY,
            aim=">= 500/s",
            notes=f"{len(hooks):,} of {len(queued):,} arrived within {window:.0f} s of the start, first after"
            f" {hooks[0] - started_wall:.1f} s"
            if hooks
            else f"none of {len(queued):,} arrived within {window:.0f} s",
        )
    )
