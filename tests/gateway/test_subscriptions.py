"""`signalEvents` over graphql-transport-ws: the token in connection_init, fed by Kafka, and only
what the subscriber may see."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.gateway.conftest import GM, Platform, fresh_area

EVENTS = """subscription($m: String!, $a: String) {
  signalEvents(municipality: $m, area: $a) { type signal { id status area escalations { partner { id } } } }
}"""


def ws_url(platform: Platform) -> str:
    return platform.gateway_url.replace("http://", "ws://") + "/graphql"


async def subscribe(platform: Platform, token: str, area: str | None) -> ClientConnection:
    ws = await connect(ws_url(platform), subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
    await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}))
    ack = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert ack["type"] == "connection_ack"
    await ws.send(
        json.dumps({"id": "1", "type": "subscribe", "payload": {"query": EVENTS, "variables": {"m": GM, "a": area}}})
    )
    return ws


async def next_message(ws: ClientConnection, timeout: float = 15) -> dict[str, Any]:
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if message["type"] != "ping":
            result: dict[str, Any] = message
            return result


async def escalation_of(ws: ClientConnection, signal_id: str) -> dict[str, Any]:
    """The escalation of this signal (the feed may first bring its `signal.received`)."""
    while True:
        message = await next_message(ws)
        assert message["type"] == "next", message
        event: dict[str, Any] = message["payload"]["data"]["signalEvents"]
        if event["type"] == "signal.escalated":
            return event
        assert event["type"] == "signal.received" and event["signal"]["id"] == signal_id


async def test_a_subscriber_receives_an_escalation_in_its_area(platform: Platform) -> None:
    wk, bu = fresh_area()
    coordinator = platform.headers("coordinator")
    registered = await platform.data(
        coordinator,
        "mutation($input: RegisterPartnerInput!) { registerPartner(input: $input) { partner { id } } }",
        input={
            "name": f"Jongerenwerk {bu}",
            "kind": "YOUTH_WORK",
            "municipalities": [GM],
            "areas": [wk],
            "categories": ["YOUTH_NUISANCE"],
            "acknowledgeWithinMinutes": 45,
        },
    )
    partner_id = registered["registerPartner"]["partner"]["id"]
    await platform.partner_known_to_signals(partner_id)
    reported = await platform.data(
        platform.headers("resident"),
        "mutation($input: ReportSignalInput!) { reportSignal(input: $input) { signal { id } } }",
        input={"municipality": GM, "area": bu, "category": "YOUTH_NUISANCE", "urgency": "NORMAL", "description": "x"},
    )
    signal_id = reported["reportSignal"]["signal"]["id"]

    await platform.subscribers(0)  # earlier tests' subscriptions are gone
    watcher = await subscribe(platform, platform.infra.token("coordinator", [GM]), wk)
    elsewhere, elsewhere_bu = fresh_area()
    other_area = await subscribe(platform, platform.infra.token("coordinator", [GM]), elsewhere)
    agent = await subscribe(platform, platform.infra.token("partner_agent", [GM], partner_id=partner_id), wk)
    try:
        await platform.subscribers(3)
        await platform.data(coordinator, "mutation($id: ID!) { escalateSignal(id: $id) { id } }", id=signal_id)
        for ws in (watcher, agent):
            event = await escalation_of(ws, signal_id)
            assert event["signal"]["id"] == signal_id and event["signal"]["status"] == "ESCALATED"
            assert event["signal"]["escalations"][0]["partner"]["id"] == partner_id
        # barrier: the feed hands each notice to every subscription's queue at once, so the escalation
        # is queued for `other_area` already; a signal reported in its area now is queued after it
        later = await report(platform, platform.headers("resident"), elsewhere_bu, "OTHER")
        first = await next_message(other_area)
        assert first["type"] == "next", first
        assert first["payload"]["data"]["signalEvents"]["signal"]["id"] == later, "another area's event came first"
    finally:
        for ws in (watcher, other_area, agent):
            await ws.close()


async def test_a_resident_does_not_see_others_signals_in_the_feed(platform: Platform) -> None:
    wk, bu = fresh_area()
    await platform.subscribers(0)  # earlier tests' subscriptions are gone
    me = f"resident-{bu}"
    resident = await subscribe(platform, platform.infra.token("resident", [GM], sub=me), wk)
    coordinator = await subscribe(platform, platform.infra.token("coordinator", [GM]), wk)
    try:
        await platform.subscribers(2)
        others = await report(platform, platform.headers("resident"), bu, "OTHER")
        # barrier: the coordinator got the other resident's signal, so it is queued for `resident` too;
        # the resident's own report made now is queued after it
        assert (await next_message(coordinator))["payload"]["data"]["signalEvents"]["signal"]["id"] == others
        mine = await report(platform, platform.headers("resident", sub=me), bu, "NOISE_NUISANCE")
        first = await next_message(resident)
        assert first["type"] == "next", first
        assert first["payload"]["data"]["signalEvents"]["signal"]["id"] == mine, "another resident's signal came"
    finally:
        await resident.close()
        await coordinator.close()


async def report(platform: Platform, headers: dict[str, str], area: str, category: str) -> str:
    reported = await platform.data(
        headers,
        "mutation($input: ReportSignalInput!) { reportSignal(input: $input) { signal { id } } }",
        input={"municipality": GM, "area": area, "category": category, "urgency": "LOW", "description": "iets"},
    )
    signal_id: str = reported["reportSignal"]["signal"]["id"]
    return signal_id


async def test_a_connection_without_a_valid_token_is_refused(platform: Platform) -> None:
    ws = await connect(ws_url(platform), subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
    await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": "Bearer forged"}}))
    try:
        await asyncio.wait_for(ws.recv(), 10)
        raise AssertionError("the connection was accepted")
    except ConnectionClosed as closed:
        assert closed.rcvd is not None and closed.rcvd.code == 4403


async def test_another_municipality_cannot_be_subscribed(platform: Platform) -> None:
    ws = await subscribe(platform, platform.infra.token("coordinator", ["GM0363"]), None)
    try:
        message = await next_message(ws)
        assert message["payload"]["data"] is None
        assert [e["extensions"]["code"] for e in message["payload"]["errors"]] == ["NOT_FOUND"]
    finally:
        await ws.close()


async def test_an_area_outside_the_municipality_is_bad_input(platform: Platform) -> None:
    ws = await subscribe(platform, platform.infra.token("coordinator", [GM]), "WK036301")
    try:
        message = await next_message(ws)
        errors = message["payload"]["errors"]
        assert [e["extensions"]["code"] for e in errors] == ["BAD_USER_INPUT"]
        assert errors[0]["extensions"]["fields"][0]["field"] == "area"
    finally:
        await ws.close()
