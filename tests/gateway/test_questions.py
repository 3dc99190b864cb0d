"""A partner asks the reporters a question and they answer (CONTRACT.md "The loop back to reporters",
rule 5), through GraphQL on the real services: only the partner it is escalated to asks, the
signal waits in REACTION_REQUESTED with its acknowledge-by clock paused, a reporter answers and it
returns to the status it had with the deadline moved by the pause; the texts reach those who may
read the description and the reporters, never an event."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg
import orjson

from shared.db import asyncpg_dsn
from tests.gateway.conftest import GM, Platform, fresh_area
from tests.gateway.test_loop_back import police_for, report

Q = """
fragment Q on Signal {
  id status description acknowledgeBy overdue question
  questions { question askedAt answer answeredAt }
  history { action actor fromStatus toStatus }
}
"""
READ = Q + "query($id: ID!) { signal(id: $id) { ...Q } }"
ASK = Q + "mutation($id: ID!, $q: String!) { askReporter(id: $id, question: $q) { ...Q } }"
ANSWER = Q + "mutation($id: ID!, $a: String!) { answerReporterQuestion(id: $id, answer: $a) { ...Q } }"
ESCALATE = "mutation($id: ID!) { escalateSignal(id: $id) { id acknowledgeBy } }"
ACKNOWLEDGE = Q + 'mutation($id: ID!) { acknowledgeSignal(id: $id, message: "We kijken") { ...Q } }'
RESOLVE = Q + 'mutation($id: ID!) { resolveSignal(id: $id, feedback: "Opgelost") { ...Q } }'
QUESTION = "Om welke ingang van het speelveld gaat het?"
ANSWER_TEXT = "De ingang aan de Pelderslaan, bij de bankjes"


def codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors") or []]


async def events_of(platform: Platform, signal_id: str) -> list[dict[str, Any]]:
    """The events the signals service wrote for this signal (its outbox), oldest first."""
    conn = await asyncpg.connect(
        asyncpg_dsn(platform.infra.database_url), server_settings={"search_path": platform.schemas["signals"]}
    )
    try:
        rows = await conn.fetch("SELECT payload::text AS p FROM outbox WHERE key = $1 ORDER BY id", signal_id)
    finally:
        await conn.close()
    return [orjson.loads(r["p"]) for r in rows]


async def test_the_partner_asks_the_reporter_answers_and_the_clock_paused_meanwhile(platform: Platform) -> None:
    wk, bu = fresh_area()
    police = await police_for(platform, wk)
    other = await police_for(platform, wk)
    resident = platform.headers("resident")
    neighbour = platform.headers("resident")
    agent = platform.headers("partner_agent", partner_id=police["id"])
    other_agent = platform.headers("partner_agent", partner_id=other["id"])
    coordinator = platform.headers("coordinator")
    region = platform.headers("region_admin")

    signal = (await report(platform, resident, bu))["signal"]
    sid = signal["id"]
    not_yet = await platform.graphql(agent, ASK, id=sid, q=QUESTION)
    assert codes(not_yet) == ["FORBIDDEN"]  # routed to them, not escalated yet
    escalated = (await platform.data(coordinator, ESCALATE, id=sid))["escalateSignal"]
    deadline = datetime.fromisoformat(escalated["acknowledgeBy"])

    # who may ask, and what: the role, the partner, the text, the status; in the contract's order
    assert codes(await platform.graphql(resident, ASK, id=sid, q=QUESTION)) == ["FORBIDDEN"]
    assert codes(await platform.graphql(coordinator, ASK, id=sid, q=QUESTION)) == ["FORBIDDEN"]
    assert codes(await platform.graphql(other_agent, ASK, id=sid, q=QUESTION)) == ["NOT_FOUND"]
    empty = await platform.graphql(agent, ASK, id=sid, q="  ")
    assert codes(empty) == ["BAD_USER_INPUT"]
    assert [f["field"] for f in empty["errors"][0]["extensions"]["fields"]] == ["question"]
    long = await platform.graphql(agent, ASK, id=sid, q="x" * 2001)
    assert [f["field"] for f in long["errors"][0]["extensions"]["fields"]] == ["question"]
    forbidden_and_empty = await platform.graphql(resident, ASK, id=sid, q="")
    assert codes(forbidden_and_empty) == ["FORBIDDEN"]  # authorisation before validation

    asked = (await platform.data(agent, ASK, id=sid, q=QUESTION))["askReporter"]
    assert asked["status"] == "REACTION_REQUESTED" and asked["question"] == QUESTION
    assert [(q["question"], q["answer"], q["answeredAt"]) for q in asked["questions"]] == [(QUESTION, None, None)]
    assert (asked["history"][-1]["action"], asked["history"][-1]["actor"]) == ("reaction_requested", police["name"])
    assert (asked["history"][-1]["fromStatus"], asked["history"][-1]["toStatus"]) == ("ESCALATED", "REACTION_REQUESTED")
    again = await platform.graphql(agent, ASK, id=sid, q="Nog een vraag")
    assert codes(again) == ["CONFLICT"]

    # the reporter and whoever may read the description read it; others read null
    for headers in (resident, coordinator, agent):
        seen = (await platform.data(headers, READ, id=sid))["signal"]
        assert seen["question"] == QUESTION and seen["questions"][0]["question"] == QUESTION
    hidden = (await platform.data(region, READ, id=sid))["signal"]
    assert hidden["status"] == "REACTION_REQUESTED" and hidden["question"] is None and hidden["questions"] == []
    listed = await platform.data(
        coordinator,
        Q + "query($m: String!, $s: [SignalStatus!]) { signals(municipality: $m, status: $s) { nodes { ...Q } } }",
        m=GM,
        s=["REACTION_REQUESTED"],
    )
    assert sid in [n["id"] for n in listed["signals"]["nodes"]]

    # only a reporter of the signal answers
    assert codes(await platform.graphql(neighbour, ANSWER, id=sid, a=ANSWER_TEXT)) == ["NOT_FOUND"]
    assert codes(await platform.graphql(agent, ANSWER, id=sid, a=ANSWER_TEXT)) == ["FORBIDDEN"]
    assert codes(await platform.graphql(coordinator, ANSWER, id=sid, a=ANSWER_TEXT)) == ["FORBIDDEN"]
    assert [
        f["field"]
        for f in (await platform.graphql(resident, ANSWER, id=sid, a=""))["errors"][0]["extensions"]["fields"]
    ] == ["answer"]

    answered = (await platform.data(resident, ANSWER, id=sid, a=ANSWER_TEXT))["answerReporterQuestion"]
    assert answered["status"] == "ESCALATED" and answered["question"] is None
    (q,) = answered["questions"]
    assert (q["question"], q["answer"]) == (QUESTION, ANSWER_TEXT)
    paused = datetime.fromisoformat(q["answeredAt"]) - datetime.fromisoformat(q["askedAt"])
    assert paused.total_seconds() > 0
    assert datetime.fromisoformat(answered["acknowledgeBy"]) == deadline + paused
    assert [(h["action"], h["actor"], h["fromStatus"], h["toStatus"]) for h in answered["history"][-2:]] == [
        ("reaction_requested", police["name"], "ESCALATED", "REACTION_REQUESTED"),
        ("reaction_received", "reporter", "REACTION_REQUESTED", "ESCALATED"),
    ]
    assert codes(await platform.graphql(resident, ANSWER, id=sid, a="Nog iets")) == ["CONFLICT"]
    assert (await platform.data(agent, READ, id=sid))["signal"]["questions"][0]["answer"] == ANSWER_TEXT
    assert (await platform.data(region, READ, id=sid))["signal"]["questions"] == []

    # acknowledging while a question is open is recorded: the signal returns ACKNOWLEDGED
    again_asked = (await platform.data(agent, ASK, id=sid, q="En hoe laat?"))["askReporter"]
    assert again_asked["status"] == "REACTION_REQUESTED"
    acknowledged = (await platform.data(agent, ACKNOWLEDGE, id=sid))["acknowledgeSignal"]
    assert acknowledged["status"] == "REACTION_REQUESTED" and acknowledged["question"] == "En hoe laat?"
    assert (acknowledged["history"][-1]["action"], acknowledged["history"][-1]["toStatus"]) == ("acknowledged", None)
    back = (await platform.data(resident, ANSWER, id=sid, a="Rond tien uur"))["answerReporterQuestion"]
    assert back["status"] == "ACKNOWLEDGED" and [q["answer"] for q in back["questions"]] == [
        ANSWER_TEXT,
        "Rond tien uur",
    ]

    # resolving closes an open question unanswered
    (await platform.data(agent, ASK, id=sid, q="Is het nu rustig?"))["askReporter"]
    resolved = (await platform.data(agent, RESOLVE, id=sid))["resolveSignal"]
    assert resolved["status"] == "RESOLVED" and resolved["question"] is None
    assert [(q["question"], q["answer"]) for q in resolved["questions"]][-1] == ("Is het nu rustig?", None)

    # the events say what happened, never the texts
    events = await events_of(platform, sid)
    types = [e["type"].removeprefix("nl.wijkaanpak.") for e in events]
    assert types.count("signal.reaction_requested") == 3 and types.count("signal.reaction_received") == 2
    received = next(e for e in events if e["type"].endswith("signal.reaction_received"))
    assert received["data"]["partnerId"] == police["id"] and received["data"]["status"] == "escalated"
    text = str(events)
    for written in (QUESTION, ANSWER_TEXT, "En hoe laat?", "Rond tien uur", "Is het nu rustig?"):
        assert written not in text
