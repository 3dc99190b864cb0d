"""The coordinator's and partner's operations beyond the main story, each through GraphQL once:
update and rotate a partner, ping its webhook, list and resend deliveries; reject, merge,
reclassify and reopen signals; propose, support, adopt and decline goals; update a goal."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tests.gateway.conftest import GM, Platform, fresh_area
from tests.support import eventually

REGISTER = """mutation($input: RegisterPartnerInput!) {
  registerPartner(input: $input) { webhookSecret partner { id } } }"""
REPORT = "mutation($input: ReportSignalInput!) { reportSignal(input: $input) { signal { id status } } }"


def codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors") or []]


async def test_partner_management_ping_and_deliveries(platform: Platform) -> None:
    wk, bu = fresh_area()
    coordinator = platform.headers("coordinator")
    registered = await platform.data(
        coordinator,
        REGISTER,
        input={
            "name": f"Woningcorporatie {bu}",
            "kind": "HOUSING_CORPORATION",
            "municipalities": [GM],
            "areas": [wk],
            "categories": ["LITTER_DUMPING"],
            "acknowledgeWithinMinutes": 240,
            "availability": [{"weekday": 1, "from": "08:00", "until": "17:00"}],
            "webhookUrl": f"{platform.receiver_url}/corporation/{bu}",
        },
    )
    partner_id = registered["registerPartner"]["partner"]["id"]
    updated = await platform.data(
        coordinator,
        """mutation($id: ID!) { updatePartner(id: $id, input: {priority: 3, categories: [LITTER_DUMPING, VANDALISM]}) {
            id priority categories availability { weekday from until } webhookUrl } }""",
        id=partner_id,
    )
    assert updated["updatePartner"]["priority"] == 3
    assert updated["updatePartner"]["categories"] == ["LITTER_DUMPING", "VANDALISM"]
    assert updated["updatePartner"]["availability"] == [{"weekday": 1, "from": "08:00", "until": "17:00"}]
    rotated = await platform.data(
        coordinator,
        "mutation($id: ID!) { rotateWebhookSecret(partnerId: $id) { webhookSecret partner { id } } }",
        id=partner_id,
    )
    assert rotated["rotateWebhookSecret"]["webhookSecret"] != registered["registerPartner"]["webhookSecret"]
    listed = await platform.data(
        coordinator,
        'query($a: String!) { partners(municipality: "GM0479", area: $a, category: VANDALISM) { id } }',
        a=bu,
    )
    assert {"id": partner_id} in listed["partners"]

    async def ping() -> dict[str, Any]:
        return await platform.graphql(
            coordinator,
            "mutation($id: ID!) { pingWebhook(partnerId: $id) { id channel target eventType status } }",
            id=partner_id,
        )

    answers: list[dict[str, Any]] = []

    async def pinged() -> bool:  # notifications learns the partner's channel from partner events
        answers.append(await ping())
        return "errors" not in answers[-1]

    await eventually(pinged, timeout=20, interval=0.2)
    delivery = answers[-1]["data"]["pingWebhook"]
    assert delivery["channel"] == "webhook" and delivery["eventType"] == "ping" and delivery["target"] == partner_id

    async def delivered() -> dict[str, Any]:
        data = await platform.data(
            coordinator,
            "query($p: ID!) { deliveries(partnerId: $p) { totalCount nodes { id status attempts lastAttemptAt } } }",
            p=partner_id,
        )
        deliveries: dict[str, Any] = data["deliveries"]
        return deliveries

    pages: list[dict[str, Any]] = []

    async def ping_delivered() -> bool:
        pages.append(await delivered())
        return bool(pages[-1]["nodes"]) and pages[-1]["nodes"][0]["status"] == "DELIVERED"

    await eventually(ping_delivered, timeout=20)
    page = pages[-1]
    assert page["totalCount"] == 1 and page["nodes"][0]["status"] == "DELIVERED" and page["nodes"][0]["attempts"] >= 1
    resent = await platform.data(
        coordinator, "mutation($id: ID!) { resendDelivery(id: $id) { id status } }", id=delivery["id"]
    )
    assert resent["resendDelivery"]["id"] == delivery["id"]
    resident = platform.headers("resident")
    refused = await platform.graphql(
        resident, "mutation($id: ID!) { pingWebhook(partnerId: $id) { id } }", id=partner_id
    )
    assert codes(refused) == ["FORBIDDEN"]


async def test_coordinator_rejects_merges_reclassifies_and_reopens(platform: Platform) -> None:
    wk, bu = fresh_area()
    coordinator = platform.headers("coordinator")
    registered = await platform.data(
        coordinator,
        REGISTER,
        input={
            "name": f"Handhaving {bu}",
            "kind": "MUNICIPALITY",
            "municipalities": [GM],
            "areas": [wk],
            "categories": ["NOISE_NUISANCE", "TRAFFIC_SAFETY"],
            "acknowledgeWithinMinutes": 60,
        },
    )
    partner_id = registered["registerPartner"]["partner"]["id"]
    await platform.partner_known_to_signals(partner_id)

    async def report(area: str, category: str) -> str:
        data = await platform.data(
            platform.headers("resident"),
            REPORT,
            input={"municipality": GM, "area": area, "category": category, "urgency": "LOW", "description": "d"},
        )
        signal_id: str = data["reportSignal"]["signal"]["id"]
        return signal_id

    rejected_id = await report(f"{bu[:-1]}1", "OTHER")
    rejected = await platform.data(
        coordinator, 'mutation($id: ID!) { rejectSignal(id: $id, reason: "geen signaal") { status } }', id=rejected_id
    )
    assert rejected["rejectSignal"]["status"] == "REJECTED"

    original, second = await report(f"{bu[:-1]}2", "NOISE_NUISANCE"), await report(f"{bu[:-1]}3", "NOISE_NUISANCE")
    merged = await platform.data(
        coordinator,
        "mutation($id: ID!, $into: ID!) { mergeSignal(id: $id, intoId: $into) { status duplicateOf { id } } }",
        id=second,
        into=original,
    )
    assert merged["mergeSignal"] == {"status": "MERGED", "duplicateOf": {"id": original}}

    moved_id = await report(f"{bu[:-1]}4", "OTHER")
    moved = await platform.data(
        coordinator,
        "mutation($id: ID!) { reclassifySignal(id: $id, category: TRAFFIC_SAFETY) { category routedTo { id } } }",
        id=moved_id,
    )
    assert moved["reclassifySignal"] == {"category": "TRAFFIC_SAFETY", "routedTo": {"id": partner_id}}

    await platform.data(coordinator, "mutation($id: ID!) { escalateSignal(id: $id) { id } }", id=original)
    agent = platform.headers("partner_agent", partner_id=partner_id)
    await platform.data(agent, 'mutation($id: ID!) { resolveSignal(id: $id, feedback: "Stil nu") { id } }', id=original)
    reopened = await platform.data(
        coordinator, 'mutation($id: ID!) { reopenSignal(id: $id, reason: "weer lawaai") { status } }', id=original
    )
    assert reopened["reopenSignal"]["status"] in ("REOPENED", "ESCALATED")
    again = await platform.graphql(
        coordinator, 'mutation($id: ID!) { rejectSignal(id: $id, reason: "te laat") { status } }', id=rejected_id
    )
    assert codes(again) == ["CONFLICT"]
    unrouted = await platform.data(
        coordinator,
        'query($a: String!) { signals(municipality: "GM0479", area: $a, status: [REJECTED]) { nodes { id } } }',
        a=wk,
    )
    assert unrouted["signals"]["nodes"] == [{"id": rejected_id}]


async def test_residents_propose_and_support_goals_coordinators_adopt_or_decline(platform: Platform) -> None:
    wk, _ = fresh_area()
    year = datetime.now(UTC).year
    proposer = platform.headers("resident", sub=f"proposer-{wk}")
    neighbour = platform.headers("resident", sub=f"neighbour-{wk}")
    coordinator = platform.headers("coordinator")
    propose = """mutation($input: ProposeGoalInput!) { proposeGoal(input: $input) {
        id status supportCount supportedByMe categories } }"""
    ids = []
    for title in ("Minder zwerfafval", "Meer licht op straat"):
        data = await platform.data(
            proposer,
            propose,
            input={"municipality": GM, "area": wk, "year": year, "title": title, "categories": ["LITTER_DUMPING"]},
        )
        assert data["proposeGoal"]["status"] == "OPEN"
        ids.append(data["proposeGoal"]["id"])
    support = "mutation($id: ID!) { supportGoalProposal(id: $id) { supportCount supportedByMe } }"
    await platform.data(neighbour, support, id=ids[0])
    twice = await platform.data(neighbour, support, id=ids[0])
    assert twice["supportGoalProposal"] == {"supportCount": 1, "supportedByMe": True}

    adopted = await platform.data(
        coordinator,
        "mutation($id: ID!, $input: SetGoalInput!) { adoptGoalProposal(id: $id, input: $input) { id title status } }",
        id=ids[0],
        input={
            "municipality": GM,
            "area": wk,
            "year": year,
            "title": "Minder zwerfafval",
            "categories": ["LITTER_DUMPING"],
            "partnerIds": [],
            "indicators": [
                {"kind": "SIGNAL_COUNT", "category": "LITTER_DUMPING", "target": 2, "direction": "DECREASE"}
            ],
        },
    )
    goal_id = adopted["adoptGoalProposal"]["id"]
    declined = await platform.data(
        coordinator,
        'mutation($id: ID!) { declineGoalProposal(id: $id, reason: "valt buiten de wijkaanpak") { status } }',
        id=ids[1],
    )
    assert declined["declineGoalProposal"]["status"] == "DECLINED"
    seen = await platform.data(
        proposer,
        """query($a: String!, $y: Int!) { goalProposals(area: $a, year: $y) {
            id status declineReason goal { id title } } }""",
        a=wk,
        y=year,
    )
    by_id = {p["id"]: p for p in seen["goalProposals"]}
    assert by_id[ids[0]]["goal"] == {"id": goal_id, "title": "Minder zwerfafval"}
    assert by_id[ids[1]]["declineReason"] == "valt buiten de wijkaanpak"

    changed = await platform.data(
        coordinator,
        'mutation($id: ID!) { updateGoal(id: $id, input: {theme: "schoon", status: DROPPED}) { theme status } }',
        id=goal_id,
    )
    assert changed["updateGoal"] == {"theme": "schoon", "status": "DROPPED"}
    read = await platform.data(proposer, "query($id: ID!) { goal(id: $id) { id status } }", id=goal_id)
    assert read["goal"] == {"id": goal_id, "status": "DROPPED"}
