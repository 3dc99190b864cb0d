"""The loop back to reporters (CONTRACT.md "The loop back to reporters"), through GraphQL and the
REST edge on the real services: history names roles and partners, never a person; notes and the
rejection reason reach the reporters; a duplicate's reporter follows the original; the advice
tells what to call and says "forwarded" only when it was; an acute duplicate escalates at once."""

from __future__ import annotations

import secrets
from typing import Any

import orjson

from tests.gateway.conftest import GM, Platform, fresh_area
from tests.support import eventually

VIEW = """
fragment V on Signal {
  id reference status urgency description reportCount rejectionReason
  escalations { reason partner { name } }
  feedback { message partner { name } }
  history { action actor note fromStatus toStatus }
  duplicateOf { id reference status reportCount description feedback { message } history { action } }
}
"""
REGISTER = """
mutation($input: RegisterPartnerInput!) { registerPartner(input: $input) { partner { id name } } }
"""
REPORT = (
    VIEW + "mutation($input: ReportSignalInput!) { reportSignal(input: $input) { duplicate advice signal { ...V } } }"
)
READ = VIEW + "query($id: ID!) { signal(id: $id) { ...V } }"
REOPEN = VIEW + "mutation($id: ID!, $reason: String!) { reopenSignal(id: $id, reason: $reason) { ...V } }"
REJECT = VIEW + "mutation($id: ID!, $reason: String!) { rejectSignal(id: $id, reason: $reason) { ...V } }"
LISTS = (
    VIEW
    + """query($m: String!, $area: String!) {
  signals(municipality: $m, area: $area) { nodes { ...V } }  mySignals { nodes { ...V } } }"""
)


async def register(platform: Platform, **fields: Any) -> dict[str, str]:
    data = await platform.data(platform.headers("coordinator"), REGISTER, input=fields)
    partner: dict[str, str] = data["registerPartner"]["partner"]
    await platform.partner_known_to_signals(partner["id"])
    return partner


async def police_for(platform: Platform, wk: str) -> dict[str, str]:
    return await register(
        platform,
        name=f"Politie {wk} {secrets.token_hex(2)}",
        kind="POLICE",
        municipalities=[GM],
        areas=[wk],
        categories=["YOUTH_NUISANCE", "VANDALISM", "DRUGS_NUISANCE"],
        acknowledgeWithinMinutes=30,
        webhookUrl=f"{platform.receiver_url}/loop/{wk}",
    )


def report_input(bu: str, **fields: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "municipality": GM,
        "area": bu,
        "category": "YOUTH_NUISANCE",
        "urgency": "NORMAL",
        "description": "Jongeren bij het speelveld",
    }
    values.update(fields)
    return values


async def report(platform: Platform, headers: dict[str, str], bu: str, **fields: Any) -> dict[str, Any]:
    answer: dict[str, Any] = (await platform.data(headers, REPORT, input=report_input(bu, **fields)))["reportSignal"]
    return answer


async def test_history_names_roles_and_partners_never_a_subject_for_any_viewer(platform: Platform) -> None:
    wk, bu = fresh_area()
    police = await police_for(platform, wk)
    group = await register(
        platform,
        name=f"Buurtapp {bu}",
        kind="WHATSAPP_GROUP",
        municipalities=[GM],
        areas=[bu],
        categories=["OTHER"],
        acknowledgeWithinMinutes=60,
    )
    subjects = {
        name: f"{name}-{secrets.token_hex(6)}"
        for name in ("admin", "resident", "agent", "system", "coordinator", "region")
    }
    admin = platform.headers("group_admin", partner_id=group["id"], sub=subjects["admin"])
    resident = platform.headers("resident", sub=subjects["resident"])
    agent = platform.headers("partner_agent", partner_id=police["id"], sub=subjects["agent"])
    system = platform.headers("integration", partner_id=police["id"], sub=subjects["system"])
    coordinator = platform.headers("coordinator", sub=subjects["coordinator"])
    region = platform.headers("region_admin", sub=subjects["region"])

    grouped = (await report(platform, admin, bu, source="WHATSAPP_GROUP", groupId=group["id"]))["signal"]
    g = grouped["id"]
    await platform.data(admin, 'mutation($id: ID!) { escalateSignal(id: $id, reason: "graag snel") { id } }', id=g)
    await platform.data(system, 'mutation($id: ID!) { acknowledgeSignal(id: $id, message: "We gaan") { id } }', id=g)
    await platform.data(agent, 'mutation($id: ID!) { resolveSignal(id: $id, feedback: "Gesproken") { id } }', id=g)
    reopened = await platform.data(admin, REOPEN, id=g, reason="Nog steeds")
    assert [(h["action"], h["actor"], h["note"]) for h in reopened["reopenSignal"]["history"]] == [
        ("reported", "reporter", None),
        ("escalated", "reporter", "graag snel"),
        ("acknowledged", police["name"], None),
        ("resolved", police["name"], None),
        ("reopened", "reporter", "Nog steeds"),
        ("escalated", "system", "heropend door melder"),  # straight back to the police
    ]

    reason = "Geen overlast: een vergunde activiteit"
    rejected = (await report(platform, resident, bu, category="VANDALISM", description="Bekladde muur"))["signal"]
    r = rejected["id"]
    answer = await platform.data(coordinator, REJECT, id=r, reason=reason)
    assert answer["rejectSignal"]["rejectionReason"] == reason
    by_partner = (await report(platform, agent, bu, category="DRUGS_NUISANCE", description="Handel", source="PARTNER"))[
        "signal"
    ]
    assert by_partner["history"][0]["actor"] == police["name"]

    seen_by: dict[str, dict[str, Any]] = {}
    for name, headers in {
        "admin": admin,
        "resident": resident,
        "agent": agent,
        "system": system,
        "coordinator": coordinator,
        "region": region,
    }.items():
        signals = {}
        for sid in (g, r, by_partner["id"]):
            body = await platform.graphql(headers, READ, id=sid)
            if body["data"]["signal"] is not None:
                signals[sid] = body["data"]["signal"]
        listed = await platform.graphql(headers, LISTS, m=GM, area=bu)
        edge = [
            (await platform.gateway.get(f"/v1/signals/{sid}", headers=headers)).text for sid in (g, r, by_partner["id"])
        ]
        text = orjson.dumps([signals, listed, edge]).decode()
        for subject in subjects.values():
            assert subject not in text, f"{name} sees the subject {subject}"
        seen_by[name] = signals

    # the reporters read the reason and the notes; who may not read the description does not
    assert seen_by["resident"][r]["rejectionReason"] == reason
    assert [(h["action"], h["actor"], h["note"]) for h in seen_by["resident"][r]["history"]][-1] == (
        "rejected",
        "coordinator",
        reason,
    )
    assert seen_by["admin"][g]["history"][-2]["note"] == "Nog steeds"  # the last: escalated again
    assert seen_by["system"][g]["history"][-2]["note"] == "Nog steeds"
    assert seen_by["region"][r]["rejectionReason"] is None
    assert seen_by["region"][r]["status"] == "REJECTED"
    assert {h["note"] for h in seen_by["region"][g]["history"]} == {None}
    assert [h["actor"] for h in seen_by["region"][g]["history"]] == [
        "reporter",
        "reporter",
        police["name"],
        police["name"],
        "reporter",
        "system",
    ]
    edge = orjson.loads((await platform.gateway.get(f"/v1/signals/{r}", headers=resident)).content)
    assert edge["rejectionReason"] == reason and edge["history"][-1]["actor"] == "coordinator"


async def test_the_duplicates_reporter_follows_the_original_without_its_description(platform: Platform) -> None:
    wk, bu = fresh_area()
    police = await police_for(platform, wk)
    agent = platform.headers("partner_agent", partner_id=police["id"])
    first = (await report(platform, platform.headers("resident"), bu))["signal"]
    await platform.data(
        platform.headers("coordinator"), "mutation($id: ID!) { escalateSignal(id: $id) { id } }", id=first["id"]
    )
    await platform.data(
        agent, 'mutation($id: ID!) { acknowledgeSignal(id: $id, message: "Eerder bericht") { id } }', id=first["id"]
    )

    neighbour = platform.headers("resident")
    merged = await report(platform, neighbour, bu, urgency="LOW", description="Weer die groep")
    assert merged["duplicate"] is True and merged["signal"]["status"] == "MERGED"
    assert merged["signal"]["duplicateOf"] == {
        "id": first["id"],
        "reference": first["reference"],
        "status": "ACKNOWLEDGED",
        "reportCount": 2,
        "description": None,
        "feedback": [],  # only what was written after their report
        "history": [],
    }

    await platform.data(
        agent, 'mutation($id: ID!) { resolveSignal(id: $id, feedback: "Gesproken") { id } }', id=first["id"]
    )
    seen = (await platform.data(neighbour, READ, id=merged["signal"]["id"]))["signal"]
    assert seen["duplicateOf"] == {
        "id": first["id"],
        "reference": first["reference"],
        "status": "RESOLVED",
        "reportCount": 2,
        "description": None,
        "feedback": [{"message": "Gesproken"}],
        "history": [],
    }
    edge = orjson.loads(
        (await platform.gateway.get(f"/v1/signals/{merged['signal']['id']}", headers=neighbour)).content
    )
    assert edge["original"]["status"] == "resolved" and edge["original"]["description"] is None
    assert [f["message"] for f in edge["original"]["feedback"]] == ["Gesproken"]

    # whoever may read the original reads all of it through duplicateOf
    full = (await platform.data(platform.headers("coordinator"), READ, id=merged["signal"]["id"]))["signal"]
    assert full["duplicateOf"]["description"] == "Jongeren bij het speelveld"
    assert [f["message"] for f in full["duplicateOf"]["feedback"]] == ["Eerder bericht", "Gesproken"]


ADVICE = """query($category: SignalCategory!, $urgency: Urgency!, $source: SignalSource) {
  advice(category: $category, urgency: $urgency, source: $source) { call text } }"""


async def test_advice_before_a_report_for_any_role(platform: Platform) -> None:
    for role in ("resident", "group_admin", "partner_agent", "integration", "coordinator", "region_admin"):
        acute = await platform.data(platform.headers(role), ADVICE, category="VANDALISM", urgency="ACUTE")
        assert acute["advice"]["call"] == "112" and acute["advice"]["text"].startswith("Bel nu 112")
    ask = platform.headers("resident")
    saar = (await platform.data(ask, ADVICE, category="BURGLARY", urgency="ACUTE", source="WHATSAPP_GROUP"))["advice"]
    assert saar["call"] == "112" and "in de groep dat 112 gebeld is" in saar["text"]
    drugs = (await platform.data(ask, ADVICE, category="DRUGS_NUISANCE", urgency="HIGH"))["advice"]
    assert drugs["call"] == "0900-8844"
    assert "geen spoed, wel politie" in drugs["text"].lower() and "Meld Misdaad Anoniem: 0800-7000" in drugs["text"]
    plain = (await platform.data(ask, ADVICE, category="LITTER_DUMPING", urgency="LOW"))["advice"]
    assert plain["call"] is None and plain["text"]
    nobody = await platform.graphql({}, ADVICE, category="VANDALISM", urgency="ACUTE")
    assert [e["extensions"]["code"] for e in nobody["errors"]] == ["UNAUTHENTICATED"]


async def test_the_report_advice_says_forwarded_only_when_escalated(platform: Platform) -> None:
    wk, bu = fresh_area()
    await police_for(platform, wk)
    resident = platform.headers("resident")
    high = await report(platform, resident, bu, category="DRUGS_NUISANCE", urgency="HIGH", description="Handel")
    assert high["signal"]["status"] == "RECEIVED"
    assert "0900-8844" in high["advice"] and "0800-7000" in high["advice"] and "doorgestuurd" not in high["advice"]

    acute = await report(platform, resident, bu, category="BURGLARY", urgency="ACUTE", description="Inbraak nu")
    assert acute["signal"]["status"] == "ESCALATED"
    assert acute["advice"].startswith("Bel nu 112") and "doorgestuurd" in acute["advice"]


async def test_an_acute_report_escalates_the_open_signal_it_joins_at_once(platform: Platform) -> None:
    wk, bu = fresh_area()
    police = await police_for(platform, wk)
    first = (await report(platform, platform.headers("resident"), bu))["signal"]
    assert first["status"] == "RECEIVED" and first["urgency"] == "NORMAL"

    acute = await report(platform, platform.headers("resident"), bu, urgency="ACUTE", description="Ze slaan ruiten in")
    assert acute["duplicate"] is True and acute["signal"]["status"] == "MERGED"
    assert acute["signal"]["duplicateOf"]["status"] == "ESCALATED"  # before reportSignal answered
    assert acute["advice"].startswith("Bel nu 112") and "doorgestuurd" in acute["advice"]

    coordinator = platform.headers("coordinator")
    original = (await platform.data(coordinator, READ, id=first["id"]))["signal"]
    assert original["urgency"] == "ACUTE" and original["status"] == "ESCALATED" and original["reportCount"] == 2
    assert original["escalations"] == [{"reason": "acute melding", "partner": {"name": police["name"]}}]
    assert (original["history"][-1]["action"], original["history"][-1]["actor"], original["history"][-1]["note"]) == (
        "escalated",
        "system",
        "acute melding",
    )

    async def police_heard() -> bool:
        return any(
            (event := orjson.loads(body)).get("subject") == first["id"]
            and event["type"] == "nl.wijkaanpak.signal.escalated"
            and event["data"]["urgency"] == "acute"
            and event["data"]["partnerId"] == police["id"]
            for _, body in platform.receiver.requests
            if body
        )

    await eventually(police_heard, timeout=20)

    again = await report(platform, platform.headers("resident"), bu, urgency="ACUTE", description="Nog steeds")
    assert again["duplicate"] is True
    later = (await platform.data(coordinator, READ, id=first["id"]))["signal"]
    assert len(later["escalations"]) == 1 and later["reportCount"] == 3  # escalated once
