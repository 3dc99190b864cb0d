"""A chain firing on an escalation nobody acknowledges, end to end through GraphQL on the real
services (issue 15, "Done when"): a coordinator registers youth work with a chain to the police,
a resident's report is escalated to youth work, 45 minutes pass without an acknowledgement, the
signal goes to the police (actor system, note "keten"), and when the police let their own deadline
pass too, their webhook hears it.

The signals service runs on a pinned clock here (its own small platform for this module), so the
45 minutes pass at once; the other services keep the wall clock. Nothing sleeps: every step waits
on what a user would see.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest_asyncio

from gateway.app import create_app as create_gateway
from gateway.settings import Settings as GatewaySettings
from services.goals.app import Settings as GoalsSettings
from services.goals.app import create_app as create_goals
from services.notifications.app import Settings as NotificationsSettings
from services.notifications.app import create_app as create_notifications
from services.partners.app import Settings as PartnersSettings
from services.partners.app import create_app as create_partners
from services.signals.app import Settings as SignalsSettings
from services.signals.app import create_app as create_signals
from shared.clock import FixedClock
from shared.kafka import ensure_topics
from tests.gateway.conftest import GM, Platform, Receiver, free_socket, fresh_area, uvicorn_on
from tests.gateway.test_loopback_story import webhooks
from tests.gateway.test_story import REGISTER, signature_valid
from tests.support import Infra, eventually

START = datetime.now(UTC).replace(microsecond=0)
PARTNER = "query($id: ID!) { partner(id: $id) { name chain { category afterMinutes nextPartner { id name } } } }"
UPDATE = """mutation($id: ID!, $input: UpdatePartnerInput!) {
  updatePartner(id: $id, input: $input) { chain { afterMinutes } } }"""
READ = """query($id: ID!) { signal(id: $id) {
  status escalations { partner { id } acknowledgeBy } history { action actor toStatus note } } }"""


@contextlib.asynccontextmanager
async def pinned_platform(infra: Infra, clock: FixedClock) -> AsyncIterator[Platform]:
    """The four services and the gateway as the session's platform has them, signals on `clock`
    with its periodic tasks ticking fast."""
    run = f"ch{secrets.token_hex(3)}"
    prefix = f"{infra.topic_prefix}{run}."
    await ensure_topics(infra.kafka, prefix, partitions=3)
    schemas = {name: f"{run}_{name}" for name in ("signals", "partners", "goals", "notifications")}
    sockets = {name: free_socket() for name in (*schemas, "gateway", "hooks")}
    urls = {name: f"http://127.0.0.1:{s.getsockname()[1]}" for name, s in sockets.items()}
    common: dict[str, Any] = {
        "topic_prefix": prefix,
        "consumer_group_prefix": f"{infra.run_id}.{run}.",
        "public_base_url": urls["gateway"],
        "secrets_key": secrets.token_urlsafe(32),
    }
    hooks = {"webhook_allowed_hosts": "127.0.0.1", "webhook_allow_http_on_allowed": True}
    ticks = {"overdue_interval_seconds": 0.1, "chain_interval_seconds": 0.1}
    apps = {
        "partners": create_partners(infra.settings(PartnersSettings, db_schema=schemas["partners"], **common, **hooks)),
        "signals": create_signals(
            infra.settings(SignalsSettings, db_schema=schemas["signals"], **ticks, **common), clock=clock
        ),
        "goals": create_goals(infra.settings(GoalsSettings, db_schema=schemas["goals"], **common)),
        "notifications": create_notifications(
            infra.settings(
                NotificationsSettings,
                db_schema=schemas["notifications"],
                service_urls_partners=urls["partners"],
                service_urls_signals=urls["signals"],
                delivery_poll_seconds=0.2,
                **common,
                **hooks,
            )
        ),
    }
    gateway = create_gateway(
        infra.settings(
            GatewaySettings,
            **common,
            **{f"service_urls_{name}": urls[name] for name in schemas},
            rate_limit_per_second=1000.0,
            rate_limit_burst=1000,
        )
    )
    receiver = Receiver()
    async with contextlib.AsyncExitStack() as stack:
        receiver_url = await stack.enter_async_context(uvicorn_on(receiver, sockets["hooks"], lifespan="off"))
        for name, app in apps.items():
            await stack.enter_async_context(uvicorn_on(app, sockets[name]))
        gateway_url = await stack.enter_async_context(uvicorn_on(gateway, sockets["gateway"]))
        client = await stack.enter_async_context(httpx.AsyncClient(base_url=gateway_url, timeout=30))
        yield Platform(infra, client, gateway_url, receiver, receiver_url, schemas)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def pinned(session_infra: Infra) -> AsyncIterator[tuple[Platform, FixedClock]]:
    clock = FixedClock(START)
    async with pinned_platform(session_infra, clock) as platform:
        yield platform, clock


async def register(platform: Platform, **fields: Any) -> dict[str, Any]:
    body = await platform.graphql(platform.headers("coordinator"), REGISTER, input=fields)
    return body


async def test_youth_work_does_not_acknowledge_in_time_the_chain_passes_the_signal_to_the_police(
    pinned: tuple[Platform, FixedClock],
) -> None:
    platform, clock = pinned
    wk, bu = fresh_area()
    police = (
        await register(
            platform,
            name=f"Politie {wk}",
            kind="POLICE",
            municipalities=[GM],
            areas=[wk],
            categories=["YOUTH_NUISANCE"],
            acknowledgeWithinMinutes=30,
            webhookUrl=f"{platform.receiver_url}/police/{wk}",
        )
    )["data"]["registerPartner"]
    police_id = police["partner"]["id"]
    await platform.partner_known_to_signals(police_id)
    youth_fields = {
        "name": f"Jongerenwerk {bu}",
        "kind": "YOUTH_WORK",
        "municipalities": [GM],
        "areas": [bu],
        "categories": ["YOUTH_NUISANCE"],
        "acknowledgeWithinMinutes": 240,
        "webhookUrl": f"{platform.receiver_url}/youth/{bu}",
    }

    refused = await register(
        platform,
        **youth_fields,
        chain=[{"nextPartnerId": police_id, "afterMinutes": 0}, {"nextPartnerId": bu, "afterMinutes": 30}],
    )
    [error] = refused["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert [f["field"] for f in error["extensions"]["fields"]] == [
        "chain[0].afterMinutes",
        "chain[1].category",
        "chain[1].nextPartnerId",
    ]
    listed = await platform.data(platform.headers("coordinator"), 'query { partners(municipality: "GM0479") { name } }')
    assert youth_fields["name"] not in [p["name"] for p in listed["partners"]], "bad steps register nothing"

    chain = [{"category": "YOUTH_NUISANCE", "nextPartnerId": police_id, "afterMinutes": 30}]
    youth = (await register(platform, **youth_fields, chain=chain))["data"]["registerPartner"]
    youth_id = youth["partner"]["id"]
    await platform.partner_known_to_signals(youth_id)
    changed = await platform.data(
        platform.headers("coordinator"), UPDATE, id=youth_id, input={"chain": [{**chain[0], "afterMinutes": 45}]}
    )
    assert changed["updatePartner"]["chain"] == [{"afterMinutes": 45}]
    public = (await platform.data(platform.headers("resident"), PARTNER, id=youth_id))["partner"]
    assert public["chain"] == [
        {"category": "YOUTH_NUISANCE", "afterMinutes": 45, "nextPartner": {"id": police_id, "name": f"Politie {wk}"}}
    ]

    report = {
        "municipality": GM,
        "area": bu,
        "category": "YOUTH_NUISANCE",
        "urgency": "NORMAL",
        "description": "Jongeren blokkeren elke avond de ingang van de flat",
    }
    reported = await platform.data(
        platform.headers("resident"),
        "mutation($input: ReportSignalInput!) { reportSignal(input: $input) { signal { id } } }",
        input=report,
    )
    sid = reported["reportSignal"]["signal"]["id"]
    escalated = await platform.data(
        platform.headers("coordinator"), "mutation($id: ID!) { escalateSignal(id: $id) { status } }", id=sid
    )
    assert escalated["escalateSignal"]["status"] == "ESCALATED"

    passed_at = clock.advance(timedelta(minutes=45))
    coordinator = platform.headers("coordinator")

    seen: list[dict[str, Any]] = []

    async def passed_on() -> bool:
        seen.append((await platform.data(coordinator, READ, id=sid))["signal"])
        return len(seen[-1]["escalations"]) == 2

    await eventually(passed_on, timeout=20)
    signal = seen[-1]
    assert [e["partner"]["id"] for e in signal["escalations"]] == [youth_id, police_id]
    assert signal["escalations"][-1]["acknowledgeBy"] == (passed_at + timedelta(minutes=30)).isoformat()
    entry = signal["history"][-1]
    assert (entry["action"], entry["actor"], entry["toStatus"], entry["note"]) == (
        "transferred",
        "system",
        "ESCALATED",
        "keten",
    )

    clock.advance(timedelta(minutes=31))  # the police let their deadline pass too: their webhook hears it

    async def police_heard() -> bool:
        return bool(webhooks(platform, f"/police/{wk}", sid, "signal.overdue"))

    await eventually(police_heard, timeout=20)
    headers, body = webhooks(platform, f"/police/{wk}", sid, "signal.overdue")[0]
    assert signature_valid(police["webhookSecret"], headers, body)
    event = orjson.loads(body)
    assert (event["data"]["signalId"], event["data"]["partnerId"]) == (sid, police_id)
    assert webhooks(platform, f"/youth/{bu}", sid, "signal.escalated"), "youth work heard the first escalation"
    assert report["description"] not in body.decode()
