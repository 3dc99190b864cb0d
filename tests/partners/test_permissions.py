"""Who may do what, operation by role, against the running service (one partner per case)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.partners.conftest import Partners, new_municipality, registration

ROLES = [
    "resident",
    "group_admin",
    "partner_agent",  # of another partner of the municipality
    "own_agent",  # partner_agent of this partner
    "own_integration",  # integration client of this partner
    "integration",
    "coordinator",
    "region_admin",
    "foreign_coordinator",  # coordinator of another municipality
]
# operation: expected status per role, in ROLES order, for a partner of one municipality
TABLE: dict[str, list[int]] = {
    "read": [200, 200, 200, 200, 200, 200, 200, 200, 404],
    "list": [200, 200, 200, 200, 200, 200, 200, 200, 404],
    "register": [403, 403, 403, 403, 403, 403, 201, 403, 404],
    "update": [403, 403, 403, 403, 403, 403, 200, 403, 404],
    "deactivate": [403, 403, 403, 403, 403, 403, 200, 403, 404],
    "rotate_secret": [403, 403, 403, 403, 403, 403, 200, 403, 404],
    "read_contacts": [403, 403, 403, 200, 403, 403, 200, 200, 404],
    "add_contact": [403, 403, 403, 403, 403, 403, 201, 403, 404],
    "read_secrets": [403, 403, 403, 403, 403, 403, 403, 403, 403],
}
M, FOREIGN = new_municipality(), new_municipality()  # shared by the cases, so each caller's token is made once
CASES = [(op, role, status) for op, statuses in TABLE.items() for role, status in zip(ROLES, statuses, strict=True)]


def caller(partners: Partners, role: str, municipality: str, partner_id: str, other_id: str) -> dict[str, str]:
    if role == "foreign_coordinator":
        return partners.headers("coordinator", [FOREIGN])
    if role in ("own_agent", "own_integration"):
        own_role = "partner_agent" if role == "own_agent" else "integration"
        return partners.headers(own_role, [municipality], partner_id=partner_id)
    if role in ("partner_agent", "integration", "group_admin"):
        return partners.headers(role, [municipality], partner_id=other_id)
    return partners.headers(role, [municipality])


async def attempt(partners: Partners, op: str, headers: dict[str, str], m: str, partner_id: str) -> int:
    base = f"/v1/partners/{partner_id}"
    requests: dict[str, tuple[str, str, Any]] = {
        "read": ("GET", base, None),
        "list": ("GET", f"/v1/partners?municipality={m}", None),
        "register": ("POST", "/v1/partners", registration(m)),
        "update": ("PATCH", base, {"priority": 4}),
        "deactivate": ("POST", f"{base}/deactivation", None),
        "rotate_secret": ("POST", f"{base}/webhook-secret", None),
        "read_contacts": ("GET", f"{base}/contacts", None),
        "add_contact": ("POST", f"{base}/contacts", {"name": "Ayla", "role": "wijkagent", "email": "a@example.nl"}),
        "read_secrets": ("GET", f"/internal/v1/partners/{partner_id}/webhook-secrets", None),
    }
    method, path, body = requests[op]
    r = await partners.client.request(method, path, json=body, headers=headers)
    return r.status_code


@pytest.mark.parametrize(("op", "role", "status"), CASES, ids=[f"{op}-{role}" for op, role, _ in CASES])
async def test_role_by_operation(partners: Partners, op: str, role: str, status: int) -> None:
    partner_id = (await partners.register(M))["partner"]["id"]
    other_id = (await partners.register(M))["partner"]["id"]
    headers = caller(partners, role, M, partner_id, other_id)
    assert await attempt(partners, op, headers, M, partner_id) == status


@pytest.mark.parametrize(
    ("role", "acts_in", "status"),
    [
        ("region_admin", "both", 201),
        ("coordinator", "both", 201),
        ("region_admin", "one", 403),
        ("coordinator", "one", 403),
        ("region_admin", "neither", 404),
    ],
)
async def test_a_partner_spanning_municipalities_is_managed_by_the_region_or_by_coordinators_of_all(
    partners: Partners, role: str, acts_in: str, status: int
) -> None:
    first, second = new_municipality(), new_municipality()
    municipalities = {"both": [first, second], "one": [first], "neither": [new_municipality()]}[acts_in]
    body = registration(first, municipalities=[first, second], areas=[first, f"WK{second[2:]}01"])
    r = await partners.client.post("/v1/partners", json=body, headers=partners.headers(role, municipalities))
    assert r.status_code == status, r.text
    if status == 201:
        partner_id = r.json()["partner"]["id"]
        r = await partners.client.patch(
            f"/v1/partners/{partner_id}", json={"priority": 2}, headers=partners.headers(role, municipalities)
        )
        assert r.status_code == 200
        r = await partners.client.get(f"/v1/partners/{partner_id}", headers=partners.headers("coordinator", [second]))
        assert r.status_code == 200 and r.json()["categories"] is not None


async def test_a_region_admin_does_not_manage_a_single_municipalitys_partner_but_reads_it(partners: Partners) -> None:
    m = new_municipality()
    partner_id = (await partners.register(m))["partner"]["id"]
    region = partners.headers("region_admin", [m, new_municipality()])
    assert (await partners.client.patch(f"/v1/partners/{partner_id}", json={}, headers=region)).status_code == 403
    r = await partners.client.get(f"/v1/partners/{partner_id}", headers=region)
    assert r.status_code == 200 and r.json()["version"] == 1


async def test_authentication_comes_first_then_authorisation_then_validation(partners: Partners) -> None:
    m = new_municipality()
    invalid = registration(m, kind="bakery")
    r = await partners.client.post("/v1/partners", json=invalid)
    assert r.status_code == 401 and r.json()["code"] == "UNAUTHENTICATED"
    r = await partners.client.post("/v1/partners", json=invalid, headers={"Authorization": "Bearer nonsense"})
    assert r.status_code == 401
    r = await partners.client.post("/v1/partners", json=invalid, headers=partners.headers("resident", [m]))
    assert r.status_code == 403
    r = await partners.client.post("/v1/partners", json=invalid, headers=partners.headers("coordinator", [m]))
    assert r.status_code == 400
