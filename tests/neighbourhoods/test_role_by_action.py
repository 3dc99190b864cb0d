"""Role by action: who may do what in the neighbourhood (the table in permissions.py): 404 for
another municipality's objects, 403 for what a caller sees but may not do."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from uuid import UUID

import httpx
import pytest
import pytest_asyncio

from shared.events.codes import PartnerKind
from tests.neighbourhoods.conftest import NeighbourhoodsApp, bu, fresh_district


@dataclass(frozen=True)
class Cast:
    district: str
    partner: UUID  # covers the district
    far_partner: UUID  # works elsewhere in the municipality
    group: UUID


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def cast(app: NeighbourhoodsApp) -> AsyncIterator[Cast]:
    district = fresh_district()
    partner = await app.partners.publish(areas=[district], kind=PartnerKind.POLICE)
    far = await app.partners.publish(areas=[fresh_district()], kind=PartnerKind.YOUTH_WORK)
    group = await app.partners.publish(areas=[bu(district, 1)], kind=PartnerKind.WHATSAPP_GROUP)
    yield Cast(district, partner, far, group)


ACTORS = [
    "leader",
    "resident",
    "group_admin",
    "partner_agent",
    "far_partner_agent",
    "integration",
    "coordinator",
    "other_coordinator",
    "region_admin",
    "notifications",
]
# One row per action, one column per actor (in ACTORS order).
EXPECTED: dict[str, list[int]] = {
    #                   lead res  ga   agt  far  int  coo  ocoo reg  ntf
    "read_area": [200, 200, 200, 200, 200, 200, 200, 404, 200, 200],
    "read_message": [200, 200, 200, 200, 200, 200, 200, 404, 200, 200],
    "read_initiative": [200, 200, 200, 200, 200, 200, 200, 404, 200, 200],
    "live_in": [200, 200, 403, 403, 403, 403, 403, 403, 403, 403],
    "post_message": [403, 403, 403, 201, 403, 201, 201, 404, 403, 403],
    "withdraw_message": [403, 403, 403, 200, 403, 200, 200, 404, 403, 403],
    "start_initiative": [201, 201, 201, 403, 403, 403, 403, 403, 403, 403],
    "join_initiative": [200, 200, 403, 403, 403, 403, 403, 403, 403, 403],
    "pledge": [403, 403, 403, 200, 403, 200, 200, 404, 403, 403],
    "complete_initiative": [200, 403, 403, 403, 403, 403, 200, 404, 403, 403],
    "leader_contact": [403, 403, 403, 403, 403, 403, 403, 403, 403, 200],
}
CASES = [(action, actor, EXPECTED[action][i]) for action in EXPECTED for i, actor in enumerate(ACTORS)]


def headers_of(app: NeighbourhoodsApp, cast: Cast, actor: str, leader: str) -> dict[str, str]:
    role, partner, municipalities, sub = {
        "leader": ("resident", None, None, leader),
        "resident": ("resident", None, None, None),
        "group_admin": ("group_admin", cast.group, None, None),
        "partner_agent": ("partner_agent", cast.partner, None, None),
        "far_partner_agent": ("partner_agent", cast.far_partner, None, None),
        "integration": ("integration", cast.partner, None, None),
        "coordinator": ("coordinator", None, None, None),
        "other_coordinator": ("coordinator", None, ["GM0453"], None),
        "region_admin": ("region_admin", None, ["GM0479", "GM0453"], None),
        "notifications": ("service", None, [], "notifications"),
    }[actor]
    return app.headers(role, municipalities, partner_id=partner, sub=sub)


async def _act(app: NeighbourhoodsApp, cast: Cast, action: str, h: dict[str, str], leader: str) -> httpx.Response:
    area = bu(cast.district, 1)
    c = app.client
    if action == "read_area":
        return await c.get(f"/v1/areas/{area}", headers=h)
    if action == "live_in":
        return await c.put(f"/v1/me/neighbourhoods/{area}", headers=h)
    if action == "start_initiative":
        body = {"municipality": "GM0479", "area": area, "title": "Buurtborrel", "kind": "social"}
        return await c.post("/v1/initiatives", json=body, headers=h)
    if action == "post_message":
        body = {"area": area, "kind": "info", "title": "Schouw", "body": "Dinsdag loopt de wijkagent mee."}
        return await c.post("/v1/messages", json=body, headers=h)
    if action in ("read_message", "withdraw_message"):
        poster = app.headers("partner_agent", partner_id=cast.partner)
        body = {"area": area, "kind": "info", "title": "Schouw", "body": "Dinsdag."}
        message = (await c.post("/v1/messages", json=body, headers=poster)).json()
        if action == "read_message":
            return await c.get(f"/v1/messages/{message['id']}", headers=h)
        return await c.post(f"/v1/messages/{message['id']}/withdraw", headers=h)
    body = {"municipality": "GM0479", "area": area, "title": "Opruimen", "kind": "cleanup", "contactEmail": "a@b.nl"}
    initiative = (await c.post("/v1/initiatives", json=body, headers=app.headers("resident", sub=leader))).json()
    url = f"/v1/initiatives/{initiative['id']}"
    if action == "read_initiative":
        return await c.get(url, headers=h)
    if action == "join_initiative":
        return await c.post(f"{url}/join", headers=h)
    if action == "pledge":
        return await c.post(f"{url}/pledges", json={"kind": "presence", "partnerId": str(cast.partner)}, headers=h)
    if action == "complete_initiative":
        return await c.post(f"{url}/complete", json={"outcome": "Gelukt"}, headers=h)
    return await c.get(f"{url}/leader-contact", headers=h)


@pytest.mark.parametrize(("action", "actor", "expected"), CASES)
async def test_role_by_action(app: NeighbourhoodsApp, cast: Cast, action: str, actor: str, expected: int) -> None:
    leader = f"leader-{action}-{actor}"
    response = await _act(app, cast, action, headers_of(app, cast, actor, leader), leader)
    assert response.status_code == expected, response.text
