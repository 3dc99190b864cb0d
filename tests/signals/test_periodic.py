"""Periodic work on a fast clock: overdue emitted once across two running instances on one
database, automatic closing after resolution, retention of contacts and descriptions."""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator
from uuid import UUID

import pytest_asyncio
from aiokafka import AIOKafkaProducer

from services.signals.app import create_app
from shared.events.codes import PartnerKind
from tests.signals.conftest import Partners, SignalsApp, signals_settings
from tests.support import Infra, TopicReader, eventually, serve


async def drain(reader: TopicReader, seconds: float) -> None:
    """Keep reading for `seconds`, whatever arrives."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            await reader.until(lambda s, n=len(reader.seen): len(s) > n, timeout=left)  # type: ignore[misc]
        except AssertionError:
            return


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def fast(infra: Infra, producer: AIOKafkaProducer) -> AsyncIterator[tuple[SignalsApp, SignalsApp]]:
    """Two instances of the service on one schema, with seconds instead of days."""
    schema = f"signals_{secrets.token_hex(3)}"
    settings = signals_settings(
        infra,
        schema,
        overdue_interval_seconds=0.1,
        close_interval_seconds=0.2,
        retention_interval_seconds=0.2,
        close_after_seconds=1.0,
        contact_retention_seconds=1.0,
        description_retention_seconds=2.0,
    )
    partners = Partners(infra, schema, producer)
    async with serve(create_app(settings)) as one, serve(create_app(settings)) as two:
        yield SignalsApp(one, settings, partners, infra), SignalsApp(two, settings, partners, infra)


async def test_a_missed_deadline_is_reported_once_with_two_instances_running(
    fast: tuple[SignalsApp, SignalsApp], area: tuple[str, str]
) -> None:
    one, two = fast
    _, bu = area
    await one.partners.publish(areas=[bu], kind=PartnerKind.POLICE, minutes=0)
    ids = []
    for app, category in [(one, "burglary"), (two, "drugs_nuisance"), (one, "vandalism"), (two, "other")]:
        signal = (await app.report(app.headers("resident"), area=bu, category=category)).json()["signal"]
        r = await app.client.post(f"/v1/signals/{signal['id']}/escalation", json={}, headers=app.headers("coordinator"))
        assert r.json()["status"] == "escalated"
        ids.append(signal["id"])
    async with TopicReader(one.infra, "signal.overdue") as reader:
        await reader.until(lambda s: {e.subject for e, _, _ in s} >= set(ids))
        await drain(reader, 2.0)  # about twenty more scans by each instance
        counts = [sum(1 for e, _, _ in reader.seen if e.subject == sid) for sid in ids]
    assert counts == [1, 1, 1, 1]
    got = (await two.client.get(f"/v1/signals/{ids[0]}", headers=two.headers("coordinator"))).json()
    assert got["overdue"] is True
    assert [h["action"] for h in got["history"]].count("overdue") == 1
    listed = (await one.client.get(f"/v1/signals?overdue=true&area={bu}", headers=one.headers("coordinator"))).json()
    assert {s["id"] for s in listed["results"]} == set(ids)


async def test_resolved_signals_close_and_personal_data_is_erased_on_time(
    fast: tuple[SignalsApp, SignalsApp], area: tuple[str, str]
) -> None:
    one, _ = fast
    _, bu = area
    partner = await one.partners.publish(areas=[bu], kind=PartnerKind.MUNICIPALITY, minutes=600)
    reporter = one.headers("resident")
    signal = (await one.report(reporter, area=bu, contactEmail="bewoner@example.nl")).json()["signal"]
    sid = signal["id"]
    await one.client.post(f"/v1/signals/{sid}/escalation", json={}, headers=one.headers("coordinator"))
    agent = one.headers("partner_agent", partner_id=str(partner))
    await one.client.post(f"/v1/signals/{sid}/resolution", json={"feedback": "Klaar"}, headers=agent)

    async def closed() -> bool:
        r = await one.client.get(f"/v1/signals/{sid}", headers=reporter)
        return bool(r.json()["status"] == "closed")

    await eventually(closed, timeout=10)
    async with TopicReader(one.infra, "signal.closed") as reader:
        await reader.until(lambda s: any(e.subject == sid and d.partner_id == partner for e, d, _ in s))
    too_late = await one.client.post(f"/v1/signals/{sid}/reopening", json={"reason": "nee"}, headers=reporter)
    assert too_late.status_code == 409

    async def erased() -> bool:
        rows = await one.sql("SELECT contact, description FROM signals WHERE id = $1", UUID(sid))
        return rows[0]["contact"] is None and rows[0]["description"] is None

    await eventually(erased, timeout=10)
    kept = (await one.client.get(f"/v1/signals/{sid}", headers=one.headers("coordinator"))).json()
    assert kept["description"] is None
    assert (kept["category"], kept["area"], kept["reportedAt"]) == (signal["category"], bu, signal["reportedAt"])
    contacts = await one.client.get(
        f"/internal/v1/signals/{sid}/contacts", headers=one.headers("service", [], sub="notifications")
    )
    assert contacts.json() == {"contacts": []}
