"""Groups report; they are not case handlers, through GraphQL on the real services: a coordinator
registers the police and two WhatsApp groups (no categories, no acknowledgement time); a group
admin forwards a report in one step; the group cannot be escalated to; a second group's report
merges into it; the police acknowledge with a text for the groups; both admins read it and both
groups' webhooks hear the acknowledgement, without any free text."""

from __future__ import annotations

from typing import Any

import orjson

from tests.gateway.conftest import GM, Platform, fresh_area
from tests.gateway.test_story import register, signature_valid
from tests.support import eventually

SIGNAL = """
fragment S on Signal {
  id status groupMessage description
  routedTo { id kind }
  escalations { partner { id } }
  feedback { message }
}
"""
REPORT = SIGNAL + "mutation($input: ReportSignalInput!) { reportSignal(input: $input) { duplicate signal { ...S } } }"
READ = SIGNAL + "query($id: ID!) { signal(id: $id) { ...S } }"


async def test_a_group_admin_forwards_the_police_answer_the_group_and_its_webhook_hears_it(platform: Platform) -> None:
    wk, bu = fresh_area()
    police = await register(
        platform,
        name=f"Politie {bu}",
        kind="POLICE",
        municipalities=[GM],
        areas=[wk],
        categories=["SUSPICIOUS_SITUATION"],
        acknowledgeWithinMinutes=60,
        webhookUrl=f"{platform.receiver_url}/police/{bu}",
    )
    groups = [
        await register(
            platform,
            name=f"Buurtapp {name} {bu}",
            kind="WHATSAPP_GROUP",
            municipalities=[GM],
            areas=[bu],
            categories=[],
            webhookUrl=f"{platform.receiver_url}/{name}/{bu}",
        )
        for name in ("noord", "zuid")
    ]
    for group in groups:
        assert group["partner"]["categories"] == [] and group["partner"]["kind"] == "WHATSAPP_GROUP"
    police_id = police["partner"]["id"]
    group_id, other_id = (g["partner"]["id"] for g in groups)
    for partner_id in (police_id, group_id, other_id):
        await platform.partner_known_to_signals(partner_id)

    admin = platform.headers("group_admin", partner_id=group_id)
    report = {
        "municipality": GM,
        "area": bu,
        "category": "SUSPICIOUS_SITUATION",
        "urgency": "NORMAL",
        "description": "Man die bij achterdeuren voelt, Pelderslaan",
        "source": "WHATSAPP_GROUP",
    }
    forwarded = (await platform.data(admin, REPORT, input={**report, "groupId": group_id, "forward": True}))[
        "reportSignal"
    ]
    signal = forwarded["signal"]
    assert forwarded["duplicate"] is False
    assert signal["status"] == "ESCALATED"  # in one step, before the answer
    assert signal["routedTo"] == {"id": police_id, "kind": "POLICE"}  # not the group, more specific as it is
    assert [e["partner"]["id"] for e in signal["escalations"]] == [police_id]

    to_group = await platform.graphql(
        platform.headers("coordinator"),
        "mutation($id: ID!, $p: ID!) { escalateSignal(id: $id, partnerId: $p) { id } }",
        id=signal["id"],
        p=other_id,
    )
    [error] = to_group["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert [f["field"] for f in error["extensions"]["fields"]] == ["partnerId"]

    other_admin = platform.headers("group_admin", partner_id=other_id)
    merged = (await platform.data(other_admin, REPORT, input={**report, "description": "Zelfde man, nu bij nr 12"}))[
        "reportSignal"
    ]
    assert merged["duplicate"] is True and merged["signal"]["status"] == "MERGED"
    duplicate_id = merged["signal"]["id"]

    text = "De wijkagent is langs geweest en rijdt vannacht extra rondes. Bel 112 als u hem weer ziet."
    police_system = platform.headers("integration", partner_id=police_id)
    acknowledged = await platform.data(
        police_system,
        SIGNAL
        + 'mutation($id: ID!, $g: String) { acknowledgeSignal(id: $id, message: "We gaan kijken", groupMessage: $g)'
        " { ...S } }",
        id=signal["id"],
        g=text,
    )
    assert acknowledged["acknowledgeSignal"]["status"] == "ACKNOWLEDGED"
    assert acknowledged["acknowledgeSignal"]["groupMessage"] == text

    seen = (await platform.data(admin, READ, id=signal["id"]))["signal"]
    assert seen["groupMessage"] == text and "We gaan kijken" in [f["message"] for f in seen["feedback"]]
    own = (await platform.data(other_admin, READ, id=duplicate_id))["signal"]
    assert own["groupMessage"] == text  # on the other group's merged report, as with the feedback

    async def both_groups_heard() -> bool:
        return all(_acknowledgements(platform, signal["id"], f"/{name}/{bu}") for name in ("noord", "zuid"))

    await eventually(both_groups_heard, timeout=20)
    for group, name in zip(groups, ("noord", "zuid"), strict=True):
        headers, body = _acknowledgements(platform, signal["id"], f"/{name}/{bu}")[0]
        assert signature_valid(group["webhookSecret"], headers, body)
        event = orjson.loads(body)
        assert event["data"]["signalId"] == signal["id"] and event["data"]["partnerId"] == police_id
        assert event["dataref"] == f"{platform.gateway_url}/v1/signals/{signal['id']}"
        raw = body.decode()
        for free_text in (text, "We gaan kijken", report["description"], "groupMessage"):
            assert free_text not in raw


def _acknowledgements(platform: Platform, signal_id: str, path: str) -> list[tuple[dict[str, str], bytes]]:
    """The `signal.acknowledged` webhooks of this signal that arrived at `path`."""
    found: list[tuple[dict[str, str], bytes]] = []
    for at, (headers, body) in zip(platform.receiver.paths, platform.receiver.requests, strict=True):
        if at != path or not body:
            continue
        event: dict[str, Any] = orjson.loads(body)
        if event.get("subject") == signal_id and event["type"] == "nl.wijkaanpak.signal.acknowledged":
            found.append((headers, body))
    return found
