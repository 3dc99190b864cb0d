"""The whole story through GraphQL only, on the real services: a coordinator registers a police
partner with a webhook; a WhatsApp group admin reports; it is routed; the admin escalates; the
police receive a signed webhook; the police system acknowledges and resolves with feedback; the
admin and the merged duplicate's reporter see the feedback; goals are set (a fourth refused)
and reviewed."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from tests.gateway.conftest import GM, Platform, fresh_area
from tests.support import eventually

SIGNAL = """
fragment S on Signal {
  id reference status category urgency source description reportCount area
  routedTo { id name kind }
  duplicateOf { id reference }
  escalations { partner { id name } reason at acknowledgeBy acknowledgedAt }
  feedback { message at partner { id name } }
  history { action toStatus fromStatus }
}
"""
REGISTER = """
mutation($input: RegisterPartnerInput!) {
  registerPartner(input: $input) {
    webhookSecret partner { id name kind areas categories acknowledgeWithinMinutes active }
  }
}
"""


def quarter_now() -> tuple[int, str]:
    local = datetime.now(UTC).astimezone(ZoneInfo("Europe/Amsterdam"))
    return local.year, f"{local.year}-Q{(local.month - 1) // 3 + 1}"


def signature_valid(secret: str, headers: dict[str, str], body: bytes) -> bool:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(part == f"v1,{expected}" for part in headers["webhook-signature"].split(" "))


async def register(platform: Platform, **fields: Any) -> dict[str, Any]:
    coordinator = platform.headers("coordinator")
    data = await platform.data(coordinator, REGISTER, input=fields)
    result: dict[str, Any] = data["registerPartner"]
    return result


async def test_report_route_escalate_webhook_acknowledge_resolve_feedback_and_goals(platform: Platform) -> None:
    wk, bu = fresh_area()
    police = await register(
        platform,
        name=f"Politie Zaanstad {wk}",
        kind="POLICE",
        municipalities=[GM],
        areas=[wk],
        categories=["YOUTH_NUISANCE", "VANDALISM"],
        acknowledgeWithinMinutes=30,
        webhookUrl=f"{platform.receiver_url}/police/{wk}",
    )
    assert police["webhookSecret"].startswith("whsec_")
    assert police["partner"]["kind"] == "POLICE" and police["partner"]["categories"] == ["YOUTH_NUISANCE", "VANDALISM"]
    group = await register(
        platform,
        name=f"Buurtapp {wk}",
        kind="WHATSAPP_GROUP",
        municipalities=[GM],
        areas=[bu],
        categories=["OTHER"],
        acknowledgeWithinMinutes=60,
    )
    police_id, group_id = police["partner"]["id"], group["partner"]["id"]
    await platform.partner_known_to_signals(police_id)
    await platform.partner_known_to_signals(group_id)

    admin = platform.headers("group_admin", partner_id=group_id)
    reported = await platform.data(
        admin,
        SIGNAL
        + """mutation($input: ReportSignalInput!) {
          reportSignal(input: $input) { duplicate advice signal { ...S } } }""",
        input={
            "municipality": GM,
            "area": bu,
            "category": "YOUTH_NUISANCE",
            "urgency": "NORMAL",
            "description": "Groep jongeren bij het speelveld, harde muziek",
            "source": "WHATSAPP_GROUP",
            "groupId": group_id,
            "clientRequestId": f"story-{bu}",
        },
    )
    first = reported["reportSignal"]
    signal = first["signal"]
    assert first["duplicate"] is False and first["advice"] is None
    assert signal["status"] == "RECEIVED" and signal["routedTo"]["id"] == police_id
    assert signal["reference"].startswith(f"SIG-{datetime.now(UTC).year}-")
    assert signal["history"][0]["toStatus"] == "RECEIVED"

    escalated = await platform.data(
        admin, SIGNAL + 'mutation($id: ID!) { escalateSignal(id: $id, reason: "graag snel") { ...S } }', id=signal["id"]
    )
    escalation = escalated["escalateSignal"]["escalations"][0]
    assert escalated["escalateSignal"]["status"] == "ESCALATED"
    assert escalation["partner"]["name"] == f"Politie Zaanstad {wk}"
    at, by = datetime.fromisoformat(escalation["at"]), datetime.fromisoformat(escalation["acknowledgeBy"])
    assert (by - at).total_seconds() == 30 * 60

    def police_hooks() -> list[tuple[dict[str, str], bytes]]:
        return [(h, b) for h, b in platform.receiver.requests if b and orjson.loads(b).get("subject") == signal["id"]]

    async def webhook_arrived() -> bool:
        return any(orjson.loads(b)["type"] == "nl.wijkaanpak.signal.escalated" for _, b in police_hooks())

    await eventually(webhook_arrived, timeout=20)
    headers, body = next((h, b) for h, b in police_hooks() if orjson.loads(b)["type"].endswith("signal.escalated"))
    assert signature_valid(police["webhookSecret"], headers, body)
    event = orjson.loads(body)
    assert event["dataref"] == f"{platform.gateway_url}/v1/signals/{signal['id']}"
    assert event["data"]["partnerId"] == police_id and "description" not in event["data"]

    resident = platform.headers("resident", sub=f"resident-{bu}")
    duplicate = await platform.data(
        resident,
        SIGNAL + "mutation($input: ReportSignalInput!) { reportSignal(input: $input) { duplicate signal { ...S } } }",
        input={"municipality": GM, "area": bu, "category": "YOUTH_NUISANCE", "urgency": "LOW", "description": "Weer"},
    )
    assert duplicate["reportSignal"]["duplicate"] is True
    assert duplicate["reportSignal"]["signal"]["status"] == "MERGED"
    duplicate_id = duplicate["reportSignal"]["signal"]["id"]
    as_coordinator = await platform.data(
        platform.headers("coordinator"), "query($id: ID!) { signal(id: $id) { duplicateOf { id } } }", id=duplicate_id
    )
    assert as_coordinator["signal"]["duplicateOf"]["id"] == signal["id"]

    system = platform.headers("integration", partner_id=police_id)
    acknowledged = await platform.data(
        system,
        SIGNAL + 'mutation($id: ID!) { acknowledgeSignal(id: $id, message: "We komen kijken") { ...S } }',
        id=signal["id"],
    )
    assert acknowledged["acknowledgeSignal"]["status"] == "ACKNOWLEDGED"
    assert acknowledged["acknowledgeSignal"]["reportCount"] == 2
    resolved = await platform.data(
        system,
        SIGNAL + 'mutation($id: ID!) { resolveSignal(id: $id, feedback: "Gesproken met de jongeren") { ...S } }',
        id=signal["id"],
    )
    assert resolved["resolveSignal"]["status"] == "RESOLVED"
    again = await platform.data(
        system,
        SIGNAL + 'mutation($id: ID!) { resolveSignal(id: $id, feedback: "Gesproken met de jongeren") { ...S } }',
        id=signal["id"],
    )
    assert again["resolveSignal"]["status"] == "RESOLVED"  # idempotent for the same partner

    seen = await platform.data(admin, SIGNAL + "query($id: ID!) { signal(id: $id) { ...S } }", id=signal["id"])
    messages = [f["message"] for f in seen["signal"]["feedback"]]
    assert "Gesproken met de jongeren" in messages
    assert seen["signal"]["feedback"][-1]["partner"]["id"] == police_id
    mine = await platform.data(resident, SIGNAL + "{ mySignals { totalCount nodes { ...S } } }")
    assert mine["mySignals"]["totalCount"] == 1
    assert "Gesproken met de jongeren" in [f["message"] for f in mine["mySignals"]["nodes"][0]["feedback"]]

    await goals_are_set_limited_and_reviewed(platform, wk, police_id)


GOAL = "fragment G on Goal { id title status year area partners { id name } indicators { kind target direction } }"


async def goals_are_set_limited_and_reviewed(platform: Platform, wk: str, police_id: str) -> None:
    coordinator = platform.headers("coordinator")
    year, quarter = quarter_now()

    def goal_input(title: str) -> dict[str, Any]:
        return {
            "municipality": GM,
            "area": wk,
            "year": year,
            "title": title,
            "categories": ["YOUTH_NUISANCE"],
            "indicators": [
                {"kind": "SIGNAL_COUNT", "category": "YOUTH_NUISANCE", "target": 5, "direction": "DECREASE"}
            ],
            "partnerIds": [police_id],
        }

    set_goal = GOAL + "mutation($input: SetGoalInput!) { setGoal(input: $input) { ...G } }"
    ids = []
    for title in ("Minder jongerenoverlast", "Schone straten", "Veilig verkeer"):
        goal = (await platform.data(coordinator, set_goal, input=goal_input(title)))["setGoal"]
        assert goal["status"] == "ACTIVE" and goal["partners"] == [{"id": police_id, "name": f"Politie Zaanstad {wk}"}]
        ids.append(goal["id"])
    fourth = await platform.graphql(coordinator, set_goal, input=goal_input("Een vierde"))
    assert [e["extensions"]["code"] for e in fourth["errors"]] == ["CONFLICT"]

    review = await platform.data(
        coordinator,
        """mutation($input: ReviewGoalInput!) { reviewGoal(input: $input) {
            quarter assessment decision notes reviewedAt cooperation { score partner { id name } }
            measurements { value onTrack indicator { kind } } } }""",
        input={
            "goalId": ids[0],
            "quarter": quarter,
            "assessment": "ON_TRACK",
            "decision": "CONTINUE",
            "cooperation": [{"partnerId": police_id, "score": 4}],
            "notes": "Goede samenwerking",
        },
    )
    assert review["reviewGoal"]["cooperation"] == [
        {"score": 4, "partner": {"id": police_id, "name": f"Politie Zaanstad {wk}"}}
    ]
    assert review["reviewGoal"]["measurements"][0]["indicator"]["kind"] == "SIGNAL_COUNT"
    twice = await platform.graphql(
        coordinator,
        "mutation($input: ReviewGoalInput!) { reviewGoal(input: $input) { id } }",
        input={"goalId": ids[0], "quarter": quarter, "assessment": "AT_RISK", "decision": "ADJUST", "cooperation": []},
    )
    assert [e["extensions"]["code"] for e in twice["errors"]] == ["CONFLICT"]

    listed = await platform.data(
        platform.headers("resident"),
        GOAL
        + """query($area: String!, $year: Int!, $quarter: String!) { goals(area: $area, year: $year) {
            ...G trendChartUrl reviews { quarter assessment } measurements(quarter: $quarter) { value previous } } }""",
        area=wk,
        year=year,
        quarter=quarter,
    )
    goals = {g["id"]: g for g in listed["goals"]}
    assert set(goals) == set(ids)
    assert goals[ids[0]]["reviews"] == [{"quarter": quarter, "assessment": "ON_TRACK"}]
    assert goals[ids[0]]["trendChartUrl"] == f"{platform.gateway_url}/v1/goals/{ids[0]}/trend.svg"
    assert goals[ids[0]]["measurements"][0]["value"] is not None
