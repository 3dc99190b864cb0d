"""Reporters say whether they are satisfied (CONTRACT.md "The loop back to reporters", rules 1 and
10), through GraphQL on the real services: only a reporter rates, only a resolved or closed signal,
rating again replaces, a merged duplicate's reporter rates the original through their own report,
each reads only their own rating, and the events carry the rating without the comment."""

from __future__ import annotations

from typing import Any

from tests.gateway.conftest import Platform, fresh_area
from tests.gateway.test_loop_back import police_for, report
from tests.gateway.test_questions import codes, events_of

R = "fragment R on Signal { id status myRating { satisfied comment at } }"
RATE = R + "mutation($id: ID!, $s: Boolean!, $c: String) { rateSignal(id: $id, satisfied: $s, comment: $c) { ...R } }"
READ = R + "query($id: ID!) { signal(id: $id) { ...R } }"


async def test_reporters_rate_the_resolution_and_rating_again_replaces(platform: Platform) -> None:
    wk, bu = fresh_area()
    police = await police_for(platform, wk)
    resident, neighbour, stranger = (platform.headers("resident") for _ in range(3))
    agent = platform.headers("partner_agent", partner_id=police["id"])
    coordinator = platform.headers("coordinator")
    sid = (await report(platform, resident, bu))["signal"]["id"]
    await platform.data(coordinator, "mutation($id: ID!) { escalateSignal(id: $id) { id } }", id=sid)
    duplicate = (await report(platform, neighbour, bu, description="Weer die groep"))["signal"]
    assert duplicate["status"] == "MERGED"

    async def rate(headers: dict[str, str], signal_id: str, satisfied: bool, comment: str | None = None) -> Any:
        return await platform.graphql(headers, RATE, id=signal_id, s=satisfied, c=comment)

    assert codes(await rate(resident, sid, True)) == ["CONFLICT"]  # not resolved yet
    await platform.data(agent, 'mutation($id: ID!) { resolveSignal(id: $id, feedback: "Gesproken") { id } }', id=sid)

    assert codes(await rate(agent, sid, True)) == ["FORBIDDEN"]
    assert codes(await rate(coordinator, sid, True)) == ["FORBIDDEN"]
    assert codes(await rate(stranger, sid, True)) == ["NOT_FOUND"]
    too_long = await rate(resident, sid, True, "x" * 2001)
    assert codes(too_long) == ["BAD_USER_INPUT"]
    assert [f["field"] for f in too_long["errors"][0]["extensions"]["fields"]] == ["comment"]

    first = (await platform.data(resident, RATE, id=sid, s=False, c="Het duurde lang"))["rateSignal"]
    assert first["status"] == "RESOLVED"
    assert (first["myRating"]["satisfied"], first["myRating"]["comment"]) == (False, "Het duurde lang")
    again = (await platform.data(resident, RATE, id=sid, s=True, c=None))["rateSignal"]
    assert (again["myRating"]["satisfied"], again["myRating"]["comment"]) == (True, None)
    assert again["myRating"]["at"] >= first["myRating"]["at"]

    # the duplicate's reporter rates the original through their own report
    theirs = (await platform.data(neighbour, RATE, id=duplicate["id"], s=True, c="Fijn"))["rateSignal"]
    assert theirs["status"] == "MERGED" and (theirs["myRating"]["satisfied"], theirs["myRating"]["comment"]) == (
        True,
        "Fijn",
    )
    # everyone reads only their own rating
    assert (await platform.data(resident, READ, id=sid))["signal"]["myRating"]["comment"] is None
    assert (await platform.data(neighbour, READ, id=duplicate["id"]))["signal"]["myRating"]["comment"] == "Fijn"
    assert (await platform.data(coordinator, READ, id=sid))["signal"]["myRating"] is None
    assert (await platform.data(agent, READ, id=sid))["signal"]["myRating"] is None

    events = [e for e in await events_of(platform, sid) if e["type"] == "nl.wijkaanpak.signal.rated"]
    data = [e["data"] for e in events]
    assert [(d["satisfied"], d["replaces"], d["partnerId"]) for d in data] == [
        (False, False, police["id"]),
        (True, True, police["id"]),
        (True, False, police["id"]),
    ]
    assert data[0]["ratingId"] == data[1]["ratingId"] != data[2]["ratingId"]
    assert "Het duurde lang" not in str(events) and "Fijn" not in str(events)
