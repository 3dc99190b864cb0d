"""DataLoaders: a page of 50 signals with their partners costs one partners call, not fifty."""

from __future__ import annotations

from tests.gateway.conftest import GM, Platform, fresh_area

REGISTER = "mutation($input: RegisterPartnerInput!) { registerPartner(input: $input) { partner { id } } }"


async def test_fifty_signals_with_routed_and_escalated_partners_cost_one_partners_call(platform: Platform) -> None:
    wk, _ = fresh_area()
    coordinator = platform.headers("coordinator")
    partner_ids = []
    for category in ("VANDALISM", "NOISE_NUISANCE"):
        data = await platform.data(
            coordinator,
            REGISTER,
            input={
                "name": f"{category} team {wk}",
                "kind": "MUNICIPALITY",
                "municipalities": [GM],
                "areas": [wk],
                "categories": [category],
                "autoEscalate": [category],
                "acknowledgeWithinMinutes": 120,
            },
        )
        partner_ids.append(data["registerPartner"]["partner"]["id"])
    for partner_id in partner_ids:
        await platform.partner_known_to_signals(partner_id)
    report = "mutation($input: ReportSignalInput!) { reportSignal(input: $input) { duplicate } }"
    for i in range(50):
        answer = await platform.data(
            coordinator,
            report,
            input={
                "municipality": GM,
                "area": f"BU{wk[2:]}{i:02d}",
                "category": "VANDALISM" if i % 2 else "NOISE_NUISANCE",
                "urgency": "NORMAL",
                "description": f"melding {i}",
            },
        )
        assert answer["reportSignal"]["duplicate"] is False

    platform.calls.clear()
    data = await platform.data(
        coordinator,
        """query($area: String!) { signals(municipality: "GM0479", area: $area, first: 50) {
            totalCount nodes {
              id status routedTo { id name } escalations { partner { id name } acknowledgeBy }
            } } }""",
        area=wk,
    )
    nodes = data["signals"]["nodes"]
    assert data["signals"]["totalCount"] == 50 and len(nodes) == 50
    assert {n["routedTo"]["id"] for n in nodes} == set(partner_ids)
    assert all(n["status"] == "ESCALATED" and n["escalations"][0]["partner"] == n["routedTo"] for n in nodes)
    assert platform.calls_to("partners") == 1
    assert platform.calls_to("signals") == 1
