"""A partner involves a co-handler (CONTRACT.md "The loop back to reporters" and rule 6), through
GraphQL on the real services: the partner it is escalated to or a coordinator involves another
active partner of the municipality (never a group, never the current one); the involved partner
then sees the signal, in its lists too, and reads its description, without handling it; involving
twice answers the current state; a transfer to it makes it the handler instead."""

from __future__ import annotations

import secrets

from tests.gateway.conftest import GM, Platform, fresh_area
from tests.gateway.test_loop_back import police_for, register, report
from tests.gateway.test_questions import codes, events_of

V = """
fragment V on Signal {
  id status description involvedPartners { id name }
  escalations { partner { id } }
  history { action actor note toStatus }
}
"""
INVOLVE = V + "mutation($id: ID!, $p: ID!, $r: String) { involvePartner(id: $id, partnerId: $p, reason: $r) { ...V } }"
READ = V + "query($id: ID!) { signal(id: $id) { ...V } }"
LIST = V + "query($m: String!, $a: String!) { signals(municipality: $m, area: $a) { nodes { ...V } totalCount } }"
REASON = "Jongerenwerk kent deze groep"


async def test_an_involved_partner_reads_along_without_handling_the_signal(platform: Platform) -> None:
    wk, bu = fresh_area()
    police = await police_for(platform, wk)
    youth = await register(
        platform,
        name=f"Jongerenwerk {secrets.token_hex(2)}",
        kind="YOUTH_WORK",
        municipalities=[GM],
        areas=[GM],
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
    youth_system = platform.headers("integration", partner_id=youth["id"])

    sid = (await report(platform, resident, bu))["signal"]["id"]
    assert codes(await platform.graphql(coordinator, INVOLVE, id=sid, p=youth["id"], r=REASON)) == ["CONFLICT"]
    await platform.data(coordinator, "mutation($id: ID!) { escalateSignal(id: $id) { id } }", id=sid)
    unseen = await platform.graphql(youth_agent, READ, id=sid)
    assert unseen["data"]["signal"] is None and codes(unseen) == ["NOT_FOUND"]
    assert (await platform.data(youth_agent, LIST, m=GM, a=bu))["signals"]["totalCount"] == 0

    assert codes(await platform.graphql(resident, INVOLVE, id=sid, p=youth["id"], r=REASON)) == ["FORBIDDEN"]
    assert codes(await platform.graphql(youth_agent, INVOLVE, id=sid, p=youth["id"], r=REASON)) == ["NOT_FOUND"]
    both = await platform.graphql(agent, INVOLVE, id=sid, p=group["id"], r="x" * 2001)
    assert [f["field"] for f in both["errors"][0]["extensions"]["fields"]] == ["partnerId", "reason"]
    current = await platform.graphql(agent, INVOLVE, id=sid, p=police["id"], r=REASON)
    assert [f["field"] for f in current["errors"][0]["extensions"]["fields"]] == ["partnerId"]

    involved = (await platform.data(agent, INVOLVE, id=sid, p=youth["id"], r=REASON))["involvePartner"]
    assert involved["status"] == "ESCALATED"
    assert involved["involvedPartners"] == [{"id": youth["id"], "name": youth["name"]}]
    assert [(h["action"], h["actor"], h["note"], h["toStatus"]) for h in involved["history"]][-1] == (
        "partner_involved",
        police["name"],
        REASON,
        None,
    )
    twice = (await platform.data(agent, INVOLVE, id=sid, p=youth["id"], r=None))["involvePartner"]
    assert twice == involved

    # the involved partner sees it, in its lists too, and reads the description; it does not handle it
    for headers in (youth_agent, youth_system):
        seen = (await platform.data(headers, READ, id=sid))["signal"]
        assert seen["description"] == "Jongeren bij het speelveld"
        assert seen["history"][-1]["note"] == REASON
        listed = (await platform.data(headers, LIST, m=GM, a=bu))["signals"]
        assert [n["id"] for n in listed["nodes"]] == [sid]
    edge = await platform.gateway.get(f"/v1/signals/{sid}", headers=youth_system)
    assert edge.status_code == 200 and edge.json()["description"] == "Jongeren bij het speelveld"
    ack = await platform.graphql(youth_agent, "mutation($id: ID!) { acknowledgeSignal(id: $id) { id } }", id=sid)
    assert codes(ack) == ["FORBIDDEN"]
    assert (await platform.data(resident, READ, id=sid))["signal"]["involvedPartners"] == [
        {"id": youth["id"], "name": youth["name"]}
    ]

    # transferred to the involved partner: it handles the signal and is no longer a co-handler
    transfer = V + 'mutation($id: ID!, $p: ID!) { transferSignal(id: $id, partnerId: $p, reason: "Beter") { ...V } }'
    moved = (await platform.data(coordinator, transfer, id=sid, p=youth["id"]))["transferSignal"]
    assert moved["involvedPartners"] == [] and moved["escalations"][-1]["partner"]["id"] == youth["id"]

    events = [e for e in await events_of(platform, sid) if e["type"] == "nl.wijkaanpak.signal.partner_involved"]
    assert [(e["data"]["partnerId"], e["data"]["escalatedPartnerId"]) for e in events] == [(youth["id"], police["id"])]
    assert REASON not in str(events)
