"""Amsterdam writes its district and neighbourhood codes with capitals (WK0363AF, BU0363AF08):
partners cover them, residents report in them, routing and area lists find them, end to end."""

from __future__ import annotations

import secrets

from tests.gateway.conftest import Platform

AMSTERDAM = "GM0363"
REGISTER = """mutation($input: RegisterPartnerInput!) {
  registerPartner(input: $input) { partner { id areas } } }"""
REPORT = """mutation($input: ReportSignalInput!) {
  reportSignal(input: $input) { signal { id area routedTo { id } } } }"""


async def test_codes_with_capitals_are_covered_reported_routed_and_listed(platform: Platform) -> None:
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    wk = f"WK0363{secrets.choice(letters)}{secrets.choice(letters)}"  # no other test uses GM0363 districts with letters
    bu = f"{'BU' + wk[2:]}08"
    coordinator = platform.headers("coordinator", (AMSTERDAM,))
    registered = await platform.data(
        coordinator,
        REGISTER,
        input={
            "name": f"Wijkteam {wk}",
            "kind": "MUNICIPALITY",
            "municipalities": [AMSTERDAM],
            "areas": [wk],
            "categories": ["LITTER_DUMPING"],
            "acknowledgeWithinMinutes": 240,
        },
    )
    partner = registered["registerPartner"]["partner"]
    assert partner["areas"] == [wk]
    await platform.partner_known_to_signals(partner["id"])

    reported = await platform.data(
        platform.headers("resident", (AMSTERDAM,)),
        REPORT,
        input={
            "municipality": AMSTERDAM,
            "area": bu,
            "category": "LITTER_DUMPING",
            "urgency": "NORMAL",
            "description": "grofvuil naast de container",
        },
    )
    signal = reported["reportSignal"]["signal"]
    assert signal["area"] == bu
    assert signal["routedTo"] == {"id": partner["id"]}

    listed = await platform.data(
        coordinator, 'query($a: String!) { signals(municipality: "GM0363", area: $a) { nodes { id } } }', a=wk
    )
    assert listed["signals"]["nodes"] == [{"id": signal["id"]}]

    wrong = await platform.graphql(
        platform.headers("resident", (AMSTERDAM,)),
        REPORT,
        input={
            "municipality": AMSTERDAM,
            "area": "BU0363af08",
            "category": "LITTER_DUMPING",
            "urgency": "NORMAL",
            "description": "x",
        },
    )
    assert wrong["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
