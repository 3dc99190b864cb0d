"""A signal escalated to the wrong partner is transferred, not stuck (CONTRACT.md "The loop back to
reporters" and rule 6), through GraphQL on the real services: the partner it is escalated to or a
coordinator transfers it to another active partner of the municipality (never a group, never the
current one) with a reason; it is ESCALATED there with a new deadline, an open question ends
unanswered, and the previous partner can no longer act on it or read its description."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from tests.gateway.conftest import GM, Platform, fresh_area
from tests.gateway.test_loop_back import police_for, register, report
from tests.gateway.test_questions import codes, events_of

T = """
fragment T on Signal {
  id status description acknowledgeBy question questions { question answer }
  escalations { partner { id } reason at acknowledgeBy }
  history { action actor note fromStatus toStatus }
}
"""
TRANSFER = (
    T + "mutation($id: ID!, $p: ID!, $r: String!) { transferSignal(id: $id, partnerId: $p, reason: $r) { ...T } }"
)
READ = T + "query($id: ID!) { signal(id: $id) { ...T } }"
REASON = "Geen politiezaak: jongerenwerk kent deze groep"


async def test_the_partner_transfers_to_another_partner_who_then_handles_it_alone(platform: Platform) -> None:
    wk, bu = fresh_area()
    police = await police_for(platform, wk)
    youth = await register(
        platform,
        name=f"Jongerenwerk {secrets.token_hex(2)}",
        kind="YOUTH_WORK",
        municipalities=[GM],
        areas=[f"{wk}"],
        categories=["OTHER"],
        acknowledgeWithinMinutes=240,
    )
    group = await register(
        platform, name=f"Buurtapp {bu}", kind="WHATSAPP_GROUP", municipalities=[GM], areas=[bu], categories=[]
    )
    resident = platform.headers("resident")
    coordinator = platform.headers("coordinator")
    agent = platform.headers("partner_agent", partner_id=police["id"])
    youth_agent = platform.headers("partner_agent", partner_id=youth["id"])

    sid = (await report(platform, resident, bu))["signal"]["id"]
    not_escalated = await platform.graphql(coordinator, TRANSFER, id=sid, p=youth["id"], r=REASON)
    assert codes(not_escalated) == ["CONFLICT"]
    await platform.data(coordinator, "mutation($id: ID!) { escalateSignal(id: $id) { id } }", id=sid)
    await platform.data(
        agent,
        "mutation($id: ID!, $q: String!) { askReporter(id: $id, question: $q) { id } }",
        id=sid,
        q="Welke ingang?",
    )

    # who may transfer, and where to
    assert codes(await platform.graphql(resident, TRANSFER, id=sid, p=youth["id"], r=REASON)) == ["FORBIDDEN"]
    assert codes(await platform.graphql(youth_agent, TRANSFER, id=sid, p=youth["id"], r=REASON)) == ["NOT_FOUND"]
    both = await platform.graphql(agent, TRANSFER, id=sid, p=group["id"], r="")
    assert codes(both) == ["BAD_USER_INPUT"]
    assert [f["field"] for f in both["errors"][0]["extensions"]["fields"]] == ["partnerId", "reason"]
    for wrong in (police["id"], "not-a-partner", "00000000-0000-4000-8000-000000000000"):
        bad = await platform.graphql(agent, TRANSFER, id=sid, p=wrong, r=REASON)
        assert [f["field"] for f in bad["errors"][0]["extensions"]["fields"]] == ["partnerId"], wrong

    transferred = (await platform.data(agent, TRANSFER, id=sid, p=youth["id"], r=REASON))["transferSignal"]
    assert transferred["status"] == "ESCALATED" and transferred["question"] is None
    assert transferred["questions"] == [] and transferred["description"] is None  # the police read no more
    by_reporter = (await platform.data(resident, READ, id=sid))["signal"]
    assert by_reporter["questions"] == [{"question": "Welke ingang?", "answer": None}]  # ended unanswered
    last = transferred["escalations"][-1]
    assert (last["partner"]["id"], last["reason"]) == (youth["id"], None)  # the reason is a note
    assert by_reporter["escalations"][-1]["reason"] == REASON
    assert datetime.fromisoformat(last["acknowledgeBy"]) - datetime.fromisoformat(last["at"]) == timedelta(minutes=240)
    assert transferred["acknowledgeBy"] == last["acknowledgeBy"]
    entry = transferred["history"][-1]
    assert (entry["action"], entry["actor"], entry["note"], entry["fromStatus"], entry["toStatus"]) == (
        "transferred",
        police["name"],
        None,  # a note is for who reads the description: the police no longer do
        "REACTION_REQUESTED",
        "ESCALATED",
    )
    assert (by_reporter["history"][-1]["action"], by_reporter["history"][-1]["note"]) == ("transferred", REASON)

    # the previous partner no longer acts nor reads the description; the new one does
    before = (await platform.data(agent, READ, id=sid))["signal"]
    assert before["status"] == "ESCALATED" and before["description"] is None
    assert codes(await platform.graphql(agent, "mutation($id: ID!) { acknowledgeSignal(id: $id) { id } }", id=sid)) == [
        "FORBIDDEN"
    ]
    assert codes(await platform.graphql(agent, TRANSFER, id=sid, p=police["id"], r="terug")) == ["FORBIDDEN"]
    seen = (await platform.data(youth_agent, READ, id=sid))["signal"]
    assert seen["description"] == "Jongeren bij het speelveld"
    await platform.data(youth_agent, "mutation($id: ID!) { acknowledgeSignal(id: $id) { id } }", id=sid)
    assert (await platform.data(resident, READ, id=sid))["signal"]["history"][-2]["note"] == REASON

    # a coordinator transfers too, from ACKNOWLEDGED, back to the police
    back = (await platform.data(coordinator, TRANSFER, id=sid, p=police["id"], r="Toch politie"))["transferSignal"]
    assert back["status"] == "ESCALATED" and back["history"][-1]["actor"] == "coordinator"
    assert (await platform.data(agent, READ, id=sid))["signal"]["description"] == "Jongeren bij het speelveld"
    assert (await platform.data(youth_agent, READ, id=sid))["signal"]["description"] is None

    events = [e for e in await events_of(platform, sid) if e["type"] == "nl.wijkaanpak.signal.transferred"]
    assert [(e["data"]["partnerId"], e["data"]["previousPartnerId"]) for e in events] == [
        (youth["id"], police["id"]),
        (police["id"], youth["id"]),
    ]
    assert REASON not in str(events)
