"""AVG self-service through the gateway (CONTRACT.md "More REST at the gateway", Rule 16): a
resident reads what the platform holds about them, erases it with a fresh sign-in, and a
coordinator reads the audit of the signal; the REST edge joins the services' parts, neighbourhoods'
memberships and initiatives included."""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

import jwt

from tests.gateway.conftest import GM, Platform, fresh_area
from tests.support import AUDIENCE, ISSUER

REPORT = "mutation($input: ReportSignalInput!) { reportSignal(input: $input) { signal { id } } }"
START = "mutation($input: StartInitiativeInput!) { startInitiative(input: $input) { id } }"


def person(platform: Platform, role: str, sub: str, *, auth_age: float | None = None) -> dict[str, str]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER, "aud": AUDIENCE, "sub": sub, "roles": [role], "municipalities": [GM],
        "iat": now, "exp": now + 600,
    }  # fmt: skip
    if auth_age is not None:
        claims["auth_time"] = int(now - auth_age)
    keys = platform.infra.keys
    return {"Authorization": f"Bearer {jwt.encode(claims, keys.signing_key(), 'RS256', headers={'kid': keys.kid})}"}


async def test_access_erasure_and_audit_through_the_rest_edge(platform: Platform) -> None:
    sub = f"resident-avg-{secrets.token_hex(4)}"
    me = person(platform, "resident", sub)
    _, bu = fresh_area()
    text = f"Buurman op nummer 9 {secrets.token_hex(3)}"
    reported = await platform.data(
        me,
        REPORT,
        input={"municipality": GM, "area": bu, "category": "VANDALISM", "urgency": "NORMAL", "description": text},
    )
    signal_id = reported["reportSignal"]["signal"]["id"]
    wk, _ = fresh_area()
    proposal = {"municipality": GM, "area": wk, "year": 2026, "title": f"Speeltuin bij nr 4 {secrets.token_hex(3)}"}
    await platform.data(me, "mutation($input: ProposeGoalInput!) { proposeGoal(input: $input) { id } }", input=proposal)
    await platform.data(me, "mutation($a: String!) { joinNeighbourhood(area: $a) { code } }", a=bu)
    initiative = {
        "municipality": GM, "area": bu, "kind": "CLEANUP", "title": f"Prikken met Jan van nr 2 {secrets.token_hex(3)}",
        "contactEmail": "trekker@example.org",
    }  # fmt: skip
    await platform.data(me, START, input=initiative)

    data = await platform.gateway.get("/v1/me/data", headers=me)
    assert data.status_code == 200, data.text
    assert [s["description"] for s in data.json()["signals"]] == [text]
    assert [p["title"] for p in data.json()["proposals"]] == [proposal["title"]]
    assert [m["area"] for m in data.json()["memberships"]] == [bu]
    assert [(i["title"], i["contactEmail"]) for i in data.json()["initiativesLed"]] == [
        (initiative["title"], "trekker@example.org")
    ]
    assert data.json()["notYetIncluded"] == []

    stale = await platform.gateway.delete("/v1/me", headers=person(platform, "resident", sub, auth_age=3600))
    assert stale.status_code == 403 and stale.json()["code"] == "FORBIDDEN"
    erased = await platform.gateway.delete("/v1/me", headers=person(platform, "resident", sub, auth_age=5))
    assert erased.status_code == 202, erased.text
    assert erased.json()["erased"] == {
        "signals": {"signals": 1},
        "goals": {"proposals": 1, "supports": 0},
        "partners": {},
        "notifications": {},
        "neighbourhoods": {"memberships": 1, "initiativesLed": 1, "participations": 0},
    }
    after = (await platform.gateway.get("/v1/me/data", headers=me)).json()
    assert after["signals"] == [] and after["proposals"] == []
    assert after["memberships"] == [] and after["initiativesLed"] == []

    coordinator = platform.headers("coordinator")
    audit = await platform.gateway.get("/v1/audit", params={"objectId": signal_id}, headers=coordinator)
    assert audit.status_code == 200, audit.text
    assert [e["action"] for e in audit.json()["results"]] == ["export", "erasure"]
    assert sub not in json.dumps(audit.json())
    refused = await platform.gateway.get("/v1/audit", params={"objectId": signal_id}, headers=me)
    assert refused.status_code == 403
    elsewhere = platform.headers("coordinator", ("GM0453",))
    hidden = await platform.gateway.get("/v1/audit", params={"objectId": signal_id}, headers=elsewhere)
    assert hidden.status_code == 404
