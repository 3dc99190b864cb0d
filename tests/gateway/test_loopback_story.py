"""The loop back to reporters, end to end through GraphQL on the real services (issue 15, "Done
when"): a WhatsApp group's admin forwards a report in one step, the police ask the reporter a
question, the reporter answers, the police note their case number and transfer the signal to
youth work, youth work adds feedback and resolves it with a message for the group, the group's
webhook and the reporter's e-mail hear it, and the reporter rates it."""

from __future__ import annotations

from typing import Any

import orjson

from tests.gateway.conftest import GM, Platform, fresh_area
from tests.gateway.test_story import register, signature_valid
from tests.support import eventually

SIGNAL = """
fragment S on Signal {
  id status description question groupMessage externalReference
  questions { question answer }
  escalations { partner { id } reason }
  feedback { message partner { id } }
  history { action actor toStatus note }
  myRating { satisfied comment }
}
"""
REPORT = SIGNAL + "mutation($input: ReportSignalInput!) { reportSignal(input: $input) { advice signal { ...S } } }"
READ = SIGNAL + "query($id: ID!) { signal(id: $id) { ...S } }"
ASK = SIGNAL + "mutation($id: ID!, $q: String!) { askReporter(id: $id, question: $q) { ...S } }"
ANSWER = SIGNAL + "mutation($id: ID!, $a: String!) { answerReporterQuestion(id: $id, answer: $a) { ...S } }"
REFERENCE = SIGNAL + "mutation($id: ID!, $r: String!) { setExternalReference(id: $id, reference: $r) { ...S } }"
TRANSFER = (
    SIGNAL + "mutation($id: ID!, $p: ID!, $r: String!) { transferSignal(id: $id, partnerId: $p, reason: $r) { ...S } }"
)
FEEDBACK = SIGNAL + "mutation($id: ID!, $m: String!) { addFeedback(id: $id, message: $m) { ...S } }"
RESOLVE = (
    SIGNAL + "mutation($id: ID!, $f: String!, $g: String) { resolveSignal(id: $id, feedback: $f, groupMessage: $g)"
    " { ...S } }"
)
RATE = SIGNAL + "mutation($id: ID!, $c: String) { rateSignal(id: $id, satisfied: true, comment: $c) { ...S } }"
DELIVERIES = "query($id: ID!) { deliveries(signalId: $id) { nodes { channel target eventType } } }"


def webhooks(platform: Platform, path: str, signal_id: str, event_type: str) -> list[tuple[dict[str, str], bytes]]:
    """The webhooks of `event_type` about this signal that arrived at `path`."""
    found: list[tuple[dict[str, str], bytes]] = []
    for at, (headers, body) in zip(platform.receiver.paths, platform.receiver.requests, strict=True):
        if at != path or not body:
            continue
        event: dict[str, Any] = orjson.loads(body)
        if event.get("subject") == signal_id and event["type"] == f"nl.wijkaanpak.{event_type}":
            found.append((headers, body))
    return found


async def test_a_group_forwards_the_police_ask_and_transfer_youth_work_resolves_and_the_reporter_rates(
    platform: Platform,
) -> None:
    wk, bu = fresh_area()
    police = await register(
        platform,
        name=f"Politie {bu}",
        kind="POLICE",
        municipalities=[GM],
        areas=[bu],
        categories=["YOUTH_NUISANCE"],
        acknowledgeWithinMinutes=60,
        webhookUrl=f"{platform.receiver_url}/police/{bu}",
    )
    youth = await register(
        platform,
        name=f"Jongerenwerk {wk}",
        kind="YOUTH_WORK",
        municipalities=[GM],
        areas=[wk],
        categories=["YOUTH_NUISANCE"],
        acknowledgeWithinMinutes=240,
        webhookUrl=f"{platform.receiver_url}/youth/{wk}",
    )
    group = await register(
        platform,
        name=f"Buurtapp {bu}",
        kind="WHATSAPP_GROUP",
        municipalities=[GM],
        areas=[bu],
        categories=[],
        webhookUrl=f"{platform.receiver_url}/group/{bu}",
    )
    police_id, youth_id, group_id = (p["partner"]["id"] for p in (police, youth, group))
    for partner_id in (police_id, youth_id, group_id):
        await platform.partner_known_to_signals(partner_id)
    admin = platform.headers("group_admin", partner_id=group_id)
    cops = platform.headers("integration", partner_id=police_id)
    youth_worker = platform.headers("partner_agent", partner_id=youth_id)
    description = "Groep jongeren bij het winkelcentrum, zet scooters in de fik"

    # the admin forwards what the group noticed, in one step
    report = {
        "municipality": GM,
        "area": bu,
        "category": "YOUTH_NUISANCE",
        "urgency": "NORMAL",
        "description": description,
        "source": "WHATSAPP_GROUP",
        "groupId": group_id,
        "forward": True,
        "contactEmail": "beheerder@buurtapp.example",
    }
    forwarded = (await platform.data(admin, REPORT, input=report))["reportSignal"]
    signal = forwarded["signal"]
    sid = signal["id"]
    assert signal["status"] == "ESCALATED" and [e["partner"]["id"] for e in signal["escalations"]] == [police_id]
    assert "doorgestuurd" in forwarded["advice"]

    # the police ask the reporter; the reporter answers
    asked = (await platform.data(cops, ASK, id=sid, q="Bij welke ingang van het winkelcentrum?"))["askReporter"]
    assert (asked["status"], asked["question"]) == ("REACTION_REQUESTED", "Bij welke ingang van het winkelcentrum?")
    assert (await platform.data(admin, READ, id=sid))["signal"]["question"] == asked["question"]
    answered = (await platform.data(admin, ANSWER, id=sid, a="De ingang aan de Peldersweg"))["answerReporterQuestion"]
    assert answered["status"] == "ESCALATED" and answered["question"] is None
    assert answered["questions"] == [
        {"question": "Bij welke ingang van het winkelcentrum?", "answer": "De ingang aan de Peldersweg"}
    ]

    # the police keep their case number and pass the signal on to youth work
    noted = (await platform.data(cops, REFERENCE, id=sid, r="PL1300-2026-081233"))["setExternalReference"]
    assert noted["externalReference"] == "PL1300-2026-081233"
    edge = f"/v1/signals/{sid}/external-reference"  # a police system corrects it at the REST edge
    blank = await platform.gateway.put(edge, json={"reference": " "}, headers=cops)
    assert (blank.status_code, [p["name"] for p in blank.json()["invalidParams"]]) == (400, ["reference"])
    fixed = await platform.gateway.put(edge, json={"reference": "PL1300-2026-081234"}, headers=cops)
    assert fixed.status_code == 200, fixed.text
    shown = (await platform.gateway.get(f"/v1/signals/{sid}", headers=cops)).json()
    assert shown["externalReference"] == "PL1300-2026-081234"
    reason = "Jongerenwerk kent deze groep en gaat eerst in gesprek"
    moved = (await platform.data(cops, TRANSFER, id=sid, p=youth_id, r=reason))["transferSignal"]
    assert moved["status"] == "ESCALATED"
    assert [e["partner"]["id"] for e in moved["escalations"]] == [police_id, youth_id]
    after = (await platform.data(cops, READ, id=sid))["signal"]
    assert after["description"] is None, "the police no longer read it after the transfer"
    cops_act = await platform.graphql(cops, FEEDBACK, id=sid, m="Wij ook nog")
    assert cops_act["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    # youth work tells the reporters, then resolves with a message for the group
    told = (await platform.data(youth_worker, FEEDBACK, id=sid, m="Wij gaan vanavond langs"))["addFeedback"]
    assert [(f["message"], f["partner"]["id"]) for f in told["feedback"]] == [("Wij gaan vanavond langs", youth_id)]
    group_text = "Het jongerenwerk heeft met de groep gesproken; meld het de politie als het weer gebeurt."
    resolved = (await platform.data(youth_worker, RESOLVE, id=sid, f="Gesprek gevoerd met de jongeren", g=group_text))[
        "resolveSignal"
    ]
    assert resolved["status"] == "RESOLVED"

    # the reporter reads it all, without anyone's subject in the history
    seen = (await platform.data(admin, READ, id=sid))["signal"]
    assert seen["groupMessage"] == group_text and seen["description"] == description
    assert [f["message"] for f in seen["feedback"]] == ["Wij gaan vanavond langs", "Gesprek gevoerd met de jongeren"]
    actors = {h["actor"] for h in seen["history"]}
    assert actors <= {"reporter", "system", f"Politie {bu}", f"Jongerenwerk {wk}"}, actors
    transfer = next(h for h in seen["history"] if h["action"] == "transferred")
    assert (transfer["actor"], transfer["note"]) == (f"Politie {bu}", reason)

    # the group's webhook and the reporter's e-mail hear the resolution; the police heard the escalation
    async def heard() -> bool:
        return bool(webhooks(platform, f"/group/{bu}", sid, "signal.resolved")) and bool(
            webhooks(platform, f"/police/{bu}", sid, "signal.escalated")
        )

    await eventually(heard, timeout=20)
    headers, body = webhooks(platform, f"/group/{bu}", sid, "signal.resolved")[0]
    assert signature_valid(group["webhookSecret"], headers, body)
    event = orjson.loads(body)
    assert (event["data"]["signalId"], event["data"]["partnerId"]) == (sid, youth_id)
    for free_text in (group_text, description, "Gesprek gevoerd", "PL1300", reason):
        assert free_text not in body.decode()

    async def reporter_mailed() -> bool:
        nodes = (await platform.data(platform.headers("coordinator"), DELIVERIES, id=sid))["deliveries"]["nodes"]
        return {"channel": "email", "target": "reporter", "eventType": "signal.resolved"} in nodes

    await eventually(reporter_mailed, timeout=20)

    # the reporter rates it
    rated = (await platform.data(admin, RATE, id=sid, c="Snel en netjes opgepakt"))["rateSignal"]
    assert rated["myRating"] == {"satisfied": True, "comment": "Snel en netjes opgepakt"}


async def test_a_resident_reads_when_the_youth_workers_are_there_and_how_soon_they_answer(platform: Platform) -> None:
    wk, _ = fresh_area()
    youth = await register(
        platform,
        name=f"Jongerenwerk avonden {wk}",
        kind="YOUTH_WORK",
        municipalities=[GM],
        areas=[wk],
        categories=["YOUTH_NUISANCE"],
        acknowledgeWithinMinutes=120,
        availability=[{"weekday": 5, "from": "19:00", "until": "23:30"}],
        webhookUrl=f"{platform.receiver_url}/youth-evenings/{wk}",
    )
    query = """query($id: ID!) { partner(id: $id) {
      categories acknowledgeWithinMinutes availability { weekday from until } webhookUrl } }"""
    seen = (await platform.data(platform.headers("resident"), query, id=youth["partner"]["id"]))["partner"]
    assert seen == {
        "categories": ["YOUTH_NUISANCE"],
        "acknowledgeWithinMinutes": 120,
        "availability": [{"weekday": 5, "from": "19:00", "until": "23:30"}],
        "webhookUrl": None,  # channels stay the partner's and the coordinators'
    }
