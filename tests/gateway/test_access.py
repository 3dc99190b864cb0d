"""Each role's refusals, another municipality's ids, and validation, as GraphQL errors with codes."""

from __future__ import annotations

from typing import Any

import pytest

from tests.gateway.conftest import GM, Platform, fresh_area

OTHER = "GM0363"


def codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors") or []]


@pytest.fixture
async def scene(platform: Platform) -> dict[str, str]:
    """A police partner and a signal routed to it, in a fresh area of GM0479."""
    wk, bu = fresh_area()
    registered = await platform.data(
        platform.headers("coordinator"),
        "mutation($input: RegisterPartnerInput!) { registerPartner(input: $input) { partner { id } } }",
        input={
            "name": f"Wijkteam {bu}",
            "kind": "POLICE",
            "municipalities": [GM],
            "areas": [wk],
            "categories": ["VANDALISM"],
            "acknowledgeWithinMinutes": 60,
        },
    )
    partner_id = registered["registerPartner"]["partner"]["id"]
    await platform.partner_known_to_signals(partner_id)
    reported = await platform.data(
        platform.headers("resident", sub=f"reporter-{bu}"),
        "mutation($input: ReportSignalInput!) { reportSignal(input: $input) { signal { id routedTo { id } } } }",
        input={
            "municipality": GM,
            "area": bu,
            "category": "VANDALISM",
            "urgency": "NORMAL",
            "description": "Bank kapot",
        },
    )
    signal = reported["reportSignal"]["signal"]
    assert signal["routedTo"] == {"id": partner_id}
    return {"partner": partner_id, "signal": signal["id"], "wk": wk, "bu": bu, "reporter": f"reporter-{bu}"}


async def test_each_role_is_refused_what_it_may_not_do(platform: Platform, scene: dict[str, str]) -> None:
    resident = platform.headers("resident")
    escalate = "mutation($id: ID!) { escalateSignal(id: $id) { id } }"
    own = platform.headers("resident", sub=scene["reporter"])
    assert codes(await platform.graphql(own, escalate, id=scene["signal"])) == ["FORBIDDEN"]
    reject = 'mutation($id: ID!) { rejectSignal(id: $id, reason: "onzin") { id } }'
    agent = platform.headers("partner_agent", partner_id=scene["partner"])
    assert codes(await platform.graphql(agent, reject, id=scene["signal"])) == ["FORBIDDEN"]
    register = """mutation { registerPartner(input: {name: "X", kind: OTHER, municipalities: ["GM0479"],
        areas: ["GM0479"], categories: [OTHER], acknowledgeWithinMinutes: 5}) { partner { id } } }"""
    assert codes(await platform.graphql(resident, register)) == ["FORBIDDEN"]
    set_goal = """mutation($area: String!) { setGoal(input: {municipality: "GM0479", area: $area, year: 2026,
        title: "Schoon", categories: [LITTER_DUMPING], indicators: [], partnerIds: []}) { id } }"""
    assert codes(await platform.graphql(agent, set_goal, area=scene["wk"])) == ["FORBIDDEN"]
    coordinator = platform.headers("coordinator")
    acknowledge = "mutation($id: ID!) { acknowledgeSignal(id: $id) { id } }"
    assert codes(await platform.graphql(coordinator, acknowledge, id=scene["signal"])) == ["FORBIDDEN"]


async def test_a_resident_sees_only_own_signals(platform: Platform, scene: dict[str, str]) -> None:
    query = "query($id: ID!) { signal(id: $id) { id description } }"
    own = await platform.data(platform.headers("resident", sub=scene["reporter"]), query, id=scene["signal"])
    assert own["signal"] == {"id": scene["signal"], "description": "Bank kapot"}
    other = await platform.graphql(platform.headers("resident"), query, id=scene["signal"])
    assert other["data"] == {"signal": None} and codes(other) == ["NOT_FOUND"]


async def test_another_municipalitys_ids_are_not_found(platform: Platform, scene: dict[str, str]) -> None:
    elsewhere = platform.headers("coordinator", (OTHER,))
    signal = await platform.graphql(elsewhere, "query($id: ID!) { signal(id: $id) { id } }", id=scene["signal"])
    assert signal["data"] == {"signal": None} and codes(signal) == ["NOT_FOUND"]
    partner = await platform.graphql(elsewhere, "query($id: ID!) { partner(id: $id) { id } }", id=scene["partner"])
    assert codes(partner) == ["NOT_FOUND"]
    escalate = await platform.graphql(
        elsewhere, "mutation($id: ID!) { escalateSignal(id: $id) { id } }", id=scene["signal"]
    )
    assert codes(escalate) == ["NOT_FOUND"]
    listing = await platform.graphql(
        platform.headers("coordinator"), '{ signals(municipality: "GM0363") { totalCount } }'
    )
    assert codes(listing) == ["NOT_FOUND"]


async def test_invalid_input_lists_every_field_at_once(platform: Platform) -> None:
    body = await platform.graphql(
        platform.headers("resident"),
        "mutation($input: ReportSignalInput!) { reportSignal(input: $input) { signal { id } } }",
        input={"municipality": GM, "area": "WK9999", "category": "OTHER", "urgency": "LOW", "description": ""},
    )
    assert codes(body) == ["BAD_USER_INPUT"]
    fields = {f["field"] for f in body["errors"][0]["extensions"]["fields"]}
    assert {"area", "description"} <= fields


async def test_an_unknown_enum_value_is_refused_before_any_service_is_asked(platform: Platform) -> None:
    before = platform.calls_to("signals")
    body = await platform.graphql(
        platform.headers("coordinator"),
        'query($c: SignalCategory) { signals(municipality: "GM0479", category: $c) { totalCount } }',
        c="litter_dumping",
    )
    assert codes(body) == ["BAD_USER_INPUT"]
    assert platform.calls_to("signals") == before
