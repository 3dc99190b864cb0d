"""Role by action: who may read and change a signal (404 for what they may not see, 403 for
what they see but may not do)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import pytest
import pytest_asyncio

from shared.events.codes import PartnerKind
from tests.signals.conftest import SignalsApp, fresh_area


@dataclass(frozen=True)
class Cast:
    partner: UUID
    other_partner: UUID
    group: UUID
    other_group: UUID


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def cast(app: SignalsApp) -> AsyncIterator[Cast]:
    partner = await app.partners.publish(areas=["GM0479"], kind=PartnerKind.POLICE)
    other = await app.partners.publish(areas=["GM0479"], kind=PartnerKind.YOUTH_WORK, categories=[])
    group = await app.partners.publish(areas=["GM0479"], kind=PartnerKind.WHATSAPP_GROUP, categories=[])
    other_group = await app.partners.publish(areas=["GM0479"], kind=PartnerKind.WHATSAPP_GROUP, categories=[])
    yield Cast(partner, other, group, other_group)


ACTORS = [
    "reporter",
    "other_resident",
    "group_admin",
    "other_group_admin",
    "partner_agent",
    "other_partner_agent",
    "integration",
    "coordinator",
    "other_municipality_coordinator",
    "region_admin",
]
ACTIONS = ["read", "escalate", "acknowledge", "resolve", "reject", "merge", "reclassify", "reopen"]

# The table of expected answers, one row per action, one column per actor (in ACTORS order).
EXPECTED: dict[str, list[int]] = {
    #              rep  res  ga   oga  agt  oagt int  coo  ocoo reg
    "read": [200, 404, 200, 404, 200, 404, 200, 200, 404, 200],
    "escalate": [403, 404, 200, 404, 403, 404, 403, 200, 404, 403],
    "acknowledge": [403, 404, 403, 404, 200, 404, 200, 403, 404, 403],
    "resolve": [403, 404, 403, 404, 200, 404, 200, 403, 404, 403],
    "reject": [403, 404, 403, 404, 403, 404, 403, 200, 404, 403],
    "merge": [403, 404, 403, 404, 403, 404, 403, 200, 404, 403],
    "reclassify": [403, 404, 403, 404, 403, 404, 403, 200, 404, 403],
    "reopen": [200, 404, 200, 404, 403, 404, 403, 200, 404, 403],  # the group's admins are reporters too
}
CASES = [(action, actor, EXPECTED[action][i]) for action in ACTIONS for i, actor in enumerate(ACTORS)]


def headers_of(app: SignalsApp, cast: Cast, actor: str, reporter: str) -> dict[str, str]:
    role, partner, municipalities, sub = {
        "reporter": ("resident", None, None, reporter),
        "other_resident": ("resident", None, None, None),
        "group_admin": ("group_admin", cast.group, None, None),
        "other_group_admin": ("group_admin", cast.other_group, None, None),
        "partner_agent": ("partner_agent", cast.partner, None, None),
        "other_partner_agent": ("partner_agent", cast.other_partner, None, None),
        "integration": ("integration", cast.partner, None, None),
        "coordinator": ("coordinator", None, None, None),
        "other_municipality_coordinator": ("coordinator", None, ["GM0453"], None),
        "region_admin": ("region_admin", None, ["GM0479", "GM0453"], None),
    }[actor]
    return app.headers(role, municipalities, partner_id=str(partner) if partner else None, sub=sub)


async def _prepare(app: SignalsApp, cast: Cast, action: str, reporter: str) -> str:
    """A signal of the group, routed to the partner, in the state the action needs."""
    _, bu = fresh_area()
    # reported for the group by its admin (only a group's admins may name it, issue 18 item 6)
    admin = app.headers("group_admin", partner_id=str(cast.group), sub=reporter)
    r = await app.report(admin, area=bu, groupId=str(cast.group))
    assert r.status_code == 201, r.text
    sid: str = r.json()["signal"]["id"]
    coordinator = app.headers("coordinator")
    if action in ("acknowledge", "resolve", "reopen"):
        assert (await app.client.post(f"/v1/signals/{sid}/escalation", json={}, headers=coordinator)).status_code == 200
    if action == "reopen":
        agent = app.headers("partner_agent", partner_id=str(cast.partner))
        done = await app.client.post(f"/v1/signals/{sid}/resolution", json={"feedback": "ok"}, headers=agent)
        assert done.status_code == 200
    return sid


async def _act(app: SignalsApp, action: str, sid: str, headers: dict[str, str]) -> int:
    if action == "read":
        return (await app.client.get(f"/v1/signals/{sid}", headers=headers)).status_code
    body: dict[str, Any] = {
        "escalate": {},
        "acknowledge": {"message": "gezien"},
        "resolve": {"feedback": "opgelost"},
        "reject": {"reason": "geen signaal"},
        "reclassify": {"category": "other"},
        "reopen": {"reason": "nog niet goed"},
    }.get(action, {})
    path = {
        "escalate": "escalation",
        "acknowledge": "acknowledgement",
        "resolve": "resolution",
        "reject": "rejection",
        "merge": "merge",
        "reclassify": "reclassification",
        "reopen": "reopening",
    }[action]
    if action == "merge":
        _, bu = fresh_area()
        into = (await app.report(app.headers("resident"), area=bu)).json()["signal"]["id"]
        body = {"intoId": into}
    return (await app.client.post(f"/v1/signals/{sid}/{path}", json=body, headers=headers)).status_code


@pytest.mark.parametrize(("action", "actor", "expected"), CASES, ids=[f"{a}-{b}" for a, b, _ in CASES])
async def test_role_by_action(app: SignalsApp, cast: Cast, action: str, actor: str, expected: int) -> None:
    reporter = f"resident-{action}-{actor}"
    sid = await _prepare(app, cast, action, reporter)
    assert await _act(app, action, sid, headers_of(app, cast, actor, reporter)) == expected


async def test_no_token_is_unauthenticated_before_anything_else(app: SignalsApp) -> None:
    r = await app.client.post("/v1/signals", json={"municipality": "nowhere"})
    assert r.status_code == 401 and r.json()["code"] == "UNAUTHENTICATED"
    assert (await app.client.get("/v1/signals/not-an-id")).status_code == 401


@pytest.mark.parametrize(
    ("role", "source", "expected"),
    [
        ("resident", "app", 201),
        ("resident", "partner", 400),
        ("partner_agent", None, 201),
        ("coordinator", "web", 201),
        ("region_admin", None, 403),
        ("integration", None, 403),
    ],
)
async def test_who_may_report_and_from_which_source(
    app: SignalsApp, cast: Cast, role: str, source: str | None, expected: int
) -> None:
    _, bu = fresh_area()
    fields: dict[str, Any] = {"area": bu}
    if source:
        fields["source"] = source
    headers = app.headers(role, partner_id=str(cast.partner))
    assert (await app.report(headers, **fields)).status_code == expected
