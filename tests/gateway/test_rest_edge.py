"""The public REST edge for partner systems: fetch the webhook's dataref, catch up on escalated
signals oldest first, acknowledge and resolve idempotently, read a goal and its trend chart."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.gateway.conftest import GM, Platform, fresh_area


async def test_a_police_system_catches_up_acknowledges_and_resolves_over_rest(platform: Platform) -> None:
    wk, bu = fresh_area()
    coordinator = platform.headers("coordinator")
    registered = await platform.data(
        coordinator,
        "mutation($input: RegisterPartnerInput!) { registerPartner(input: $input) { partner { id } } }",
        input={
            "name": f"Politie {bu}",
            "kind": "POLICE",
            "municipalities": [GM],
            "areas": [wk],
            "categories": ["BURGLARY", "DRUGS_NUISANCE"],
            "autoEscalate": ["BURGLARY", "DRUGS_NUISANCE"],
            "acknowledgeWithinMinutes": 15,
        },
    )
    police = registered["registerPartner"]["partner"]["id"]
    await platform.partner_known_to_signals(police)
    ids = []
    for i, category in enumerate(("BURGLARY", "DRUGS_NUISANCE")):
        reported = await platform.data(
            platform.headers("resident"),
            "mutation($input: ReportSignalInput!) { reportSignal(input: $input) { signal { id status } } }",
            input={
                "municipality": GM,
                "area": f"{bu[:-1]}{i}",
                "category": category,
                "urgency": "HIGH",
                "description": "d",
            },
        )
        assert reported["reportSignal"]["signal"]["status"] == "ESCALATED"
        ids.append(reported["reportSignal"]["signal"]["id"])

    system = platform.headers("integration", partner_id=police)
    first = await platform.gateway.get("/v1/signals", params={"partnerId": police, "first": 1}, headers=system)
    assert first.status_code == 200
    assert [s["id"] for s in first.json()["results"]] == ids[:1] and first.json()["next"]
    rest = await platform.gateway.get(
        "/v1/signals", params={"partnerId": police, "after": first.json()["next"]}, headers=system
    )
    assert [s["id"] for s in rest.json()["results"]] == ids[1:] and rest.json()["next"] is None
    assert set(rest.json()) == {"results", "next"}

    one = await platform.gateway.get(f"/v1/signals/{ids[0]}", headers=system)
    body = one.json()
    assert one.status_code == 200 and one.headers["api-version"] == "1.0.0"
    assert {"id", "reference", "municipality", "area", "category", "urgency", "status", "acknowledgeBy"} <= set(body)
    assert body["category"] == "burglary" and body["status"] == "escalated" and body["description"] == "d"
    assert datetime.fromisoformat(body["acknowledgeBy"]) > datetime.now(UTC)

    ack = await platform.gateway.post(
        f"/v1/signals/{ids[0]}/acknowledgement", json={"message": "Onderweg"}, headers=system
    )
    assert ack.status_code == 200 and ack.json()["status"] == "acknowledged"
    for _ in range(2):
        resolved = await platform.gateway.post(
            f"/v1/signals/{ids[0]}/resolution", json={"feedback": "Afgehandeld"}, headers=system
        )
        assert resolved.status_code == 200 and resolved.json()["status"] == "resolved"
    assert "Afgehandeld" in [f["message"] for f in resolved.json()["feedback"]]

    empty = await platform.gateway.post(f"/v1/signals/{ids[1]}/resolution", json={}, headers=system)
    assert empty.status_code == 400 and empty.headers["content-type"].startswith("application/problem+json")
    assert empty.json()["invalidParams"][0]["name"] == "feedback"

    elsewhere = platform.headers("integration", ("GM0363",), partner_id=police)
    hidden = await platform.gateway.get(f"/v1/signals/{ids[0]}", headers=elsewhere)
    assert hidden.status_code == 404 and hidden.headers["content-type"].startswith("application/problem+json")


async def test_a_goal_and_its_trend_chart_over_rest(platform: Platform) -> None:
    wk, _ = fresh_area()
    year = datetime.now(UTC).year
    goal = await platform.data(
        platform.headers("coordinator"),
        """mutation($area: String!, $year: Int!) { setGoal(input: {municipality: "GM0479", area: $area, year: $year,
            title: "Schone buurt", categories: [LITTER_DUMPING], partnerIds: [],
            indicators: [{kind: SIGNAL_COUNT, category: LITTER_DUMPING, target: 3, direction: DECREASE}]}) { id } }""",
        area=wk,
        year=year,
    )
    goal_id = goal["setGoal"]["id"]
    system = platform.headers("integration")
    read = await platform.gateway.get(f"/v1/goals/{goal_id}", headers=system)
    assert read.status_code == 200
    assert read.json()["title"] == "Schone buurt"
    assert read.json()["trendChartUrl"] == f"{platform.gateway_url}/v1/goals/{goal_id}/trend.svg"
    chart = await platform.gateway.get(f"/v1/goals/{goal_id}/trend.svg", headers=system)
    assert chart.status_code == 200 and chart.headers["content-type"].startswith("image/svg+xml")
    assert b"<svg" in chart.content
    missing = await platform.gateway.get(f"/v1/goals/{goal_id}", headers=platform.headers("integration", ("GM0363",)))
    assert missing.status_code == 404
