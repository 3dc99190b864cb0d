"""The partners API against real PostgreSQL and Kafka: what is stored, answered and published."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from services.partners import domain
from services.partners.app import Settings, create_app
from services.partners.republish import republish_all
from shared.clock import FixedClock
from shared.db import Database
from shared.events.catalog import CATALOG, PartnerDeactivated, PartnerRegistered, PartnerUpdated
from tests.partners.conftest import Partners, district, neighbourhood, new_municipality, registration
from tests.support import Infra, TopicReader, serve

OVERLAP = timedelta(hours=24)


async def events_of(partners: Partners, partner_id: str, count: int, *types: str) -> list[tuple[Any, Any]]:
    """The first `count` events of one partner as they arrived on the topics (envelope, data)."""
    types = types or ("partner.registered", "partner.updated", "partner.deactivated")
    async with TopicReader(partners.infra, *types) as reader:
        seen = await reader.until(lambda s: len([e for e, _, _ in s if e.subject == partner_id]) >= count)
    mine = [(e, d) for e, d, _ in seen if e.subject == partner_id]
    return sorted(mine, key=lambda pair: pair[0].sequence)


async def test_registering_stores_the_partner_answers_its_secret_once_and_publishes_it(partners: Partners) -> None:
    m = new_municipality()
    answer = await partners.register(m, webhookUrl="http://127.0.0.1:9911/hooks")
    partner, secret = answer["partner"], answer["webhookSecret"]
    assert secret.startswith("whsec_")
    assert partner["version"] == 1 and partner["active"] is True
    assert partner["acknowledgeWithinMinutesByUrgency"] == {"acute": 15}

    r = await partners.client.get(f"/v1/partners/{partner['id']}", headers=partners.headers("coordinator", [m]))
    assert r.status_code == 200 and r.headers["api-version"] == "1.0.0"
    assert r.json() == partner
    assert "webhookSecret" not in r.text

    [(envelope, data)] = await events_of(partners, partner["id"], 1)
    assert envelope.type == "nl.wijkaanpak.partner.registered"
    assert envelope.source == "urn:nld:wijkaanpak:partners"
    assert envelope.sequence == "000000000001" and envelope.municipality == m
    assert isinstance(data, PartnerRegistered)
    assert CATALOG["partner.registered"].model_validate(envelope.data) == data
    assert str(data.partner_id) == partner["id"] and data.areas == [district(m)]
    assert data.webhook_url == "http://127.0.0.1:9911/hooks"
    assert secret not in envelope.model_dump_json() and "whsec_" not in envelope.model_dump_json()


async def test_every_invalid_field_is_answered_at_once_as_problem_json(partners: Partners) -> None:
    m = new_municipality()
    body = registration(
        m,
        kind="bakery",
        areas=["BU03630101", "WK12"],
        categories=["graffiti"],
        autoEscalate=[],
        acknowledgeWithinMinutes=-1,
        availability=[{"weekday": 1, "from": "15:00", "until": "15:00"}],
        webhookUrl="http://politie.example.nl/hooks",
    )
    r = await partners.client.post("/v1/partners", json=body, headers=partners.headers("coordinator", [m]))
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    assert problem["code"] == "BAD_USER_INPUT"
    assert {p["name"] for p in problem["invalidParams"]} == {
        "kind",
        "areas.0",
        "areas.1",
        "categories.0",
        "acknowledgeWithinMinutes",
        "availability.0.until",
        "webhookUrl",
    }


async def test_a_webhook_url_reaching_a_private_address_is_refused(partners: Partners) -> None:
    m = new_municipality()
    for url in ("https://10.0.0.8/hook", "https://[::ffff:192.168.0.1]/hook", "https://localhost/hook"):
        body = registration(m, webhookUrl=url)
        r = await partners.client.post("/v1/partners", json=body, headers=partners.headers("coordinator", [m]))
        assert r.status_code == 400, url
        assert [p["name"] for p in r.json()["invalidParams"]] == ["webhookUrl"]
    answer = await partners.register(m, webhookUrl="https://93.184.215.14/hook")
    assert answer["partner"]["webhookUrl"] == "https://93.184.215.14/hook"


async def test_a_name_is_unique_within_a_municipality(partners: Partners) -> None:
    m, other = new_municipality(), new_municipality()
    await partners.register(m, name="Jongerenwerk De Kolk")
    body = registration(m, name="  jongerenwerk de   KOLK ")
    r = await partners.client.post("/v1/partners", json=body, headers=partners.headers("coordinator", [m]))
    assert r.status_code == 409 and r.json()["code"] == "CONFLICT"
    await partners.register(other, name="Jongerenwerk De Kolk")

    second = await partners.register(m, name="Jongerenwerk Het Eiland")
    r = await partners.client.patch(
        f"/v1/partners/{second['partner']['id']}",
        json={"name": "JONGERENWERK DE KOLK"},
        headers=partners.headers("coordinator", [m]),
    )
    assert r.status_code == 409


async def test_changing_a_partner_publishes_the_next_version_and_a_change_to_nothing_publishes_nothing(
    partners: Partners,
) -> None:
    m = new_municipality()
    partner = (await partners.register(m))["partner"]
    headers = partners.headers("coordinator", [m])
    change = {
        "areas": [district(m), neighbourhood(m, 2)],
        "categories": ["burglary", "youth_nuisance"],
        "availability": [{"weekday": 6, "from": "15:00", "until": "23:00"}],
        "acknowledgeWithinMinutes": 30,
        "webhookUrl": "http://127.0.0.1:9911/new",
        "email": None,
    }
    r = await partners.client.patch(f"/v1/partners/{partner['id']}", json=change, headers=headers)
    assert r.status_code == 200, r.text
    changed = r.json()
    assert changed["version"] == 2 and changed["email"] is None
    assert changed["autoEscalate"] == ["burglary"] and changed["acknowledgeWithinMinutes"] == 30

    r = await partners.client.patch(f"/v1/partners/{partner['id']}", json={"priority": 1}, headers=headers)
    assert r.json()["version"] == 2

    r = await partners.client.patch(
        f"/v1/partners/{partner['id']}", json={"areas": [neighbourhood(new_municipality())]}, headers=headers
    )
    assert r.status_code == 400 and r.json()["invalidParams"][0]["name"] == "areas.0"

    events = await events_of(partners, partner["id"], 2)
    assert [e.sequence for e, _ in events] == ["000000000001", "000000000002"]
    updated = events[1][1]
    assert isinstance(updated, PartnerUpdated)
    assert updated.version == 2 and updated.email is None and updated.acknowledge_within_minutes == 30
    assert [w.from_ for w in updated.availability] == ["15:00"]
    r = await partners.client.get(f"/v1/partners/{partner['id']}", headers=headers)
    assert r.json() == changed


async def test_deactivating_stops_the_partner_and_publishes_it_once(partners: Partners) -> None:
    m = new_municipality()
    first = (await partners.register(m))["partner"]
    second = (await partners.register(m))["partner"]
    headers = partners.headers("coordinator", [m])

    r = await partners.client.post(f"/v1/partners/{first['id']}/deactivation", headers=headers)
    assert r.status_code == 200 and r.json()["active"] is False and r.json()["version"] == 2
    r = await partners.client.post(f"/v1/partners/{first['id']}/deactivation", headers=headers)
    assert r.json()["version"] == 2
    r = await partners.client.patch(f"/v1/partners/{second['id']}", json={"active": False}, headers=headers)
    assert r.json()["active"] is False

    for partner in (first, second):
        events = await events_of(partners, partner["id"], 2)
        assert len(events) == 2
        assert isinstance(events[1][1], PartnerDeactivated) and events[1][1].active is False
        assert events[1][0].type == "nl.wijkaanpak.partner.deactivated"

    r = await partners.client.get("/v1/partners", params={"municipality": m, "active": "true"}, headers=headers)
    assert r.json()["totalCount"] == 0
    r = await partners.client.get("/v1/partners", params={"municipality": m, "active": "false"}, headers=headers)
    assert r.json()["totalCount"] == 2


async def test_lists_filter_by_covered_area_category_kind_and_ids_and_page_by_cursor(partners: Partners) -> None:
    m = new_municipality()
    whole = await partners.register(m, areas=[m], categories=["litter_dumping"], autoEscalate=[], kind="municipality")
    wk = await partners.register(m, areas=[district(m)], categories=["burglary"], autoEscalate=[])
    bu = await partners.register(m, areas=[neighbourhood(m)], categories=["burglary"], kind="whatsapp_group")
    elsewhere = await partners.register(m, areas=[district(m, 2)], categories=["burglary"], autoEscalate=[])
    ids = {name: a["partner"]["id"] for name, a in {"gm": whole, "wk": wk, "bu": bu, "wk2": elsewhere}.items()}
    headers = partners.headers("coordinator", [m])

    async def listed(**params: Any) -> set[str]:
        r = await partners.client.get("/v1/partners", params=params, headers=headers)
        assert r.status_code == 200, r.text
        return {p["id"] for p in r.json()["results"]}

    assert await listed(municipality=m) == set(ids.values())
    assert await listed(area=neighbourhood(m)) == {ids["gm"], ids["wk"], ids["bu"]}
    assert await listed(area=district(m)) == {ids["gm"], ids["wk"]}
    assert await listed(area=neighbourhood(m), category="burglary") == {ids["wk"], ids["bu"]}
    assert await listed(municipality=m, kind="whatsapp_group") == {ids["bu"]}
    assert await listed(ids=f"{ids['gm']},{ids['bu']}") == {ids["gm"], ids["bu"]}
    assert await listed(ids=",".join(ids.values()), first=1) == set(ids.values())

    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"municipality": m, "first": 3}
        if cursor:
            params["after"] = cursor
        page = (await partners.client.get("/v1/partners", params=params, headers=headers)).json()
        assert page["totalCount"] == 4
        seen += [p["id"] for p in page["results"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == list(ids.values())

    r = await partners.client.get(
        "/v1/partners",
        params={"area": "BU123", "category": "graffiti", "first": 0, "after": "nonsense"},
        headers=headers,
    )
    assert r.status_code == 400
    assert {p["name"] for p in r.json()["invalidParams"]} == {"area", "category", "first", "after"}


async def test_another_municipalitys_partner_does_not_exist_for_the_caller(partners: Partners) -> None:
    m, other = new_municipality(), new_municipality()
    partner_id = (await partners.register(m))["partner"]["id"]
    foreign = partners.headers("coordinator", [other])
    calls = [
        ("GET", f"/v1/partners/{partner_id}", None),
        ("PATCH", f"/v1/partners/{partner_id}", {"priority": 3}),
        ("POST", f"/v1/partners/{partner_id}/deactivation", None),
        ("POST", f"/v1/partners/{partner_id}/webhook-secret", None),
        ("GET", f"/v1/partners/{partner_id}/contacts", None),
        ("POST", f"/v1/partners/{partner_id}/contacts", {"name": "A", "role": "b", "email": "a@example.nl"}),
        ("GET", "/v1/partners/not-a-uuid", None),
    ]
    for method, path, body in calls:
        r = await partners.client.request(method, path, json=body, headers=foreign)
        assert r.status_code == 404, (method, path, r.text)
        assert r.json()["code"] == "NOT_FOUND"
    r = await partners.client.get("/v1/partners", params={"municipality": m}, headers=foreign)
    assert r.status_code == 404
    r = await partners.client.get("/v1/partners", params={"ids": partner_id}, headers=foreign)
    assert r.json()["results"] == []
    r = await partners.client.post("/v1/partners", json=registration(m), headers=foreign)
    assert r.status_code == 404


async def test_a_retry_with_the_same_idempotency_key_answers_the_first_result(partners: Partners) -> None:
    m = new_municipality()
    body = registration(m)
    headers = {**partners.headers("coordinator", [m], sub="coordinator-idem"), "Idempotency-Key": secrets.token_hex(8)}
    first = await partners.client.post("/v1/partners", json=body, headers=headers)
    again = await partners.client.post("/v1/partners", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json()["partner"] == first.json()["partner"]
    assert first.json()["webhookSecret"] and "webhookSecret" not in again.json()  # shown once only

    other = await partners.client.post("/v1/partners", json={**body, "priority": 9}, headers=headers)
    assert other.status_code == 422 and other.json()["code"] == "BAD_USER_INPUT"

    r = await partners.client.get("/v1/partners", params={"municipality": m}, headers=headers)
    assert r.json()["totalCount"] == 1

    partner_id = first.json()["partner"]["id"]
    contact = {"name": "Sanne", "role": "wijkagent", "email": "sanne@politie.example.nl"}
    added = [
        await partners.client.post(f"/v1/partners/{partner_id}/contacts", json=contact, headers=headers)
        for _ in range(2)
    ]
    assert added[0].status_code == added[1].status_code == 201 and added[0].json() == added[1].json()


async def test_what_each_reader_sees_of_a_partner(partners: Partners) -> None:
    m = new_municipality()
    partner = (await partners.register(m))["partner"]
    other_partner = (await partners.register(m))["partner"]
    path = f"/v1/partners/{partner['id']}"
    limited = {"id", "name", "kind", "municipalities", "areas", "active", "categories", "availability"}
    limited |= {"acknowledgeWithinMinutes"}  # public service information, for residents too

    async def shown(role: str, **kw: Any) -> dict[str, Any]:
        r = await partners.client.get(path, headers=partners.headers(role, [m], **kw))
        assert r.status_code == 200, r.text
        return {k: v for k, v in r.json().items() if v is not None}

    assert set(await shown("resident")) == limited
    assert set(await shown("partner_agent", partner_id=other_partner["id"])) == limited
    assert await shown("partner_agent", partner_id=partner["id"]) == {k: v for k, v in partner.items() if v is not None}
    assert (await shown("region_admin"))["categories"] == partner["categories"]
    r = await partners.client.get("/v1/partners", params={"municipality": m}, headers=partners.headers("resident", [m]))
    assert all(p["categories"] == partner["categories"] and p["webhookUrl"] is None for p in r.json()["results"])


async def test_contacts_are_kept_for_managers_and_the_partners_own_staff(partners: Partners) -> None:
    m = new_municipality()
    partner_id = (await partners.register(m, kind="whatsapp_group"))["partner"]["id"]
    coordinator = partners.headers("coordinator", [m])
    path = f"/v1/partners/{partner_id}/contacts"
    added = []
    for name in ("Fatima", "Joost"):
        body = {"name": name, "role": "groepsbeheerder", "email": f"{name.lower()}@example.nl"}
        r = await partners.client.post(path, json=body, headers=coordinator)
        assert r.status_code == 201, r.text
        added.append(r.json())
    assert added[0]["partnerId"] == partner_id and added[0]["email"] == "fatima@example.nl"

    r = await partners.client.post(path, json={"name": "", "role": "", "email": "x"}, headers=coordinator)
    assert {p["name"] for p in r.json()["invalidParams"]} == {"name", "role", "email"}

    page = (await partners.client.get(path, params={"first": 1}, headers=coordinator)).json()
    assert page["totalCount"] == 2 and [c["name"] for c in page["results"]] == ["Fatima"]
    rest = (await partners.client.get(path, params={"after": page["next"]}, headers=coordinator)).json()
    assert [c["name"] for c in rest["results"]] == ["Joost"] and rest["next"] is None

    admin = partners.headers("group_admin", [m], partner_id=partner_id)
    assert (await partners.client.get(path, headers=admin)).json()["totalCount"] == 2
    resident = partners.headers("resident", [m])
    assert (await partners.client.get(path, headers=resident)).status_code == 403

    r = await partners.client.delete(f"{path}/{added[0]['id']}", headers=coordinator)
    assert r.status_code == 204
    r = await partners.client.delete(f"{path}/{added[0]['id']}", headers=coordinator)
    assert r.status_code == 404
    assert [c["name"] for c in (await partners.client.get(path, headers=coordinator)).json()["results"]] == ["Joost"]


async def test_a_rotated_secret_overlaps_with_the_previous_one_for_the_configured_time(infra: Infra) -> None:
    """On a pinned clock of its own partners app: the overlap ends exactly when configured, no sleeping."""
    clock = FixedClock(datetime(2026, 3, 2, 9, 30, tzinfo=UTC))
    settings = infra.settings(
        Settings,
        db_schema=f"partners_{secrets.token_hex(3)}",
        secrets_key=secrets.token_urlsafe(32),
        webhook_secret_overlap_seconds=OVERLAP.total_seconds(),
    )
    async with serve(create_app(settings, clock=clock)) as client:
        partners = Partners(client, settings, infra)
        m = new_municipality()
        answer = await partners.register(m)
        partner_id, first = answer["partner"]["id"], answer["webhookSecret"]
        internal = f"/internal/v1/partners/{partner_id}/webhook-secrets"
        notifications = partners.headers("service", [], sub="notifications")

        async def valid() -> list[str]:
            r = await client.get(internal, headers=notifications)
            assert r.status_code == 200, r.text
            found: list[str] = r.json()["secrets"]
            return found

        assert await valid() == [first]
        clock.advance(timedelta(days=30))
        assert await valid() == [first], "a secret that was never rotated does not expire"

        r = await client.post(f"/v1/partners/{partner_id}/webhook-secret", headers=partners.headers("coordinator", [m]))
        assert r.status_code == 200
        second = r.json()["webhookSecret"]
        assert second.startswith("whsec_") and second != first and r.json()["partner"]["id"] == partner_id

        assert await valid() == [second, first]
        clock.advance(OVERLAP - timedelta(seconds=1))
        assert await valid() == [second, first]
        clock.advance(timedelta(seconds=1))
        assert await valid() == [second]

        events = await events_of(partners, partner_id, 1)
        assert all(second not in e.model_dump_json() for e, _ in events)


async def test_only_the_notifications_service_reads_webhook_secrets(partners: Partners) -> None:
    m = new_municipality()
    partner_id = (await partners.register(m))["partner"]["id"]
    internal = f"/internal/v1/partners/{partner_id}/webhook-secrets"
    assert (await partners.client.get(internal)).status_code == 401
    for headers in (
        partners.headers("service", [], sub="signals"),
        partners.headers("coordinator", [m], sub="notifications"),
        partners.headers("partner_agent", [m], partner_id=partner_id),
    ):
        r = await partners.client.get(internal, headers=headers)
        assert r.status_code == 403, r.text
    r = await partners.client.get(
        "/internal/v1/partners/00000000-0000-0000-0000-000000000000/webhook-secrets",
        headers=partners.headers("service", [], sub="notifications"),
    )
    assert r.status_code == 404


async def test_republishing_sends_every_partners_current_state_at_its_version(partners: Partners) -> None:
    m = new_municipality()
    changed = (await partners.register(m))["partner"]
    await partners.client.patch(
        f"/v1/partners/{changed['id']}", json={"priority": 7}, headers=partners.headers("coordinator", [m])
    )
    fresh = (await partners.register(m))["partner"]
    db = Database(partners.settings.database_url, partners.settings.db_schema_name, pool_size=1)
    try:
        count = await republish_all(partners.settings, db, batch=2)
    finally:
        await db.dispose()
    assert count >= 2

    republished = {}
    for partner_id, updates in ((changed["id"], 2), (fresh["id"], 1)):  # the change, then the republished state
        events = await events_of(partners, partner_id, updates, "partner.updated")
        republished[partner_id] = events[-1]
    envelope, data = republished[changed["id"]]
    assert envelope.sequence == "000000000002" and data.priority == 7
    envelope, data = republished[fresh["id"]]
    assert envelope.sequence == "000000000001" and isinstance(data, PartnerUpdated)


async def test_the_openapi_document_describes_every_operation(partners: Partners) -> None:
    r = await partners.client.get("/v1/openapi.json")
    assert r.status_code == 200
    paths = r.json()["paths"]
    operations = {(method.upper(), path) for path, item in paths.items() for method in item}
    assert operations >= {
        ("POST", "/v1/partners"),
        ("GET", "/v1/partners"),
        ("GET", "/v1/partners/{partner_id}"),
        ("PATCH", "/v1/partners/{partner_id}"),
        ("POST", "/v1/partners/{partner_id}/deactivation"),
        ("POST", "/v1/partners/{partner_id}/webhook-secret"),
        ("GET", "/v1/partners/{partner_id}/contacts"),
        ("POST", "/v1/partners/{partner_id}/contacts"),
        ("DELETE", "/v1/partners/{partner_id}/contacts/{contact_id}"),
        ("GET", "/internal/v1/partners/{partner_id}/webhook-secrets"),
    }
    assert all(op.get("description") for item in paths.values() for op in item.values())


async def test_racing_retries_with_one_idempotency_key_create_one_partner(partners: Partners) -> None:
    m = new_municipality()
    body = registration(m)
    headers = {**partners.headers("coordinator", [m], sub="coordinator-race"), "Idempotency-Key": secrets.token_hex(8)}
    answers = await asyncio.gather(
        *(partners.client.post("/v1/partners", json=body, headers=headers) for _ in range(3))
    )
    assert {r.status_code for r in answers} == {201}
    assert len({r.json()["partner"]["id"] for r in answers}) == 1
    r = await partners.client.get("/v1/partners", params={"municipality": m}, headers=headers)
    assert r.json()["totalCount"] == 1


async def test_racing_registrations_of_one_name_register_it_once(partners: Partners) -> None:
    m = new_municipality()
    headers = partners.headers("coordinator", [m])
    answers = await asyncio.gather(
        *(
            partners.client.post("/v1/partners", json=registration(m, name="Buurtpreventie Rosmolen"), headers=headers)
            for _ in range(3)
        )
    )
    assert sorted(r.status_code for r in answers) == [201, 409, 409]


async def test_kind_and_municipalities_of_a_partner_cannot_be_changed(partners: Partners) -> None:
    m = new_municipality()
    partner_id = (await partners.register(m))["partner"]["id"]
    r = await partners.client.patch(
        f"/v1/partners/{partner_id}",
        json={"kind": "care", "municipalities": [new_municipality()], "priority": 3},
        headers=partners.headers("coordinator", [m]),
    )
    assert r.status_code == 400
    assert {p["name"] for p in r.json()["invalidParams"]} == {"kind", "municipalities"}


async def test_a_group_registers_without_categories_or_acknowledgement_time_and_others_do_not(
    partners: Partners,
) -> None:
    gm = new_municipality()
    coordinator = partners.headers("coordinator", [gm])
    for kind in ("whatsapp_group", "resident_group"):
        body = registration(gm, kind=kind, categories=[], autoEscalate=[], areas=[neighbourhood(gm)])
        del body["acknowledgeWithinMinutes"]
        r = await partners.client.post("/v1/partners", json=body, headers=coordinator)
        assert r.status_code == 201, r.text
        shown = r.json()["partner"]
        assert shown["kind"] == kind and shown["categories"] == []
        assert shown["acknowledgeWithinMinutes"] == domain.GROUP_ACKNOWLEDGE_MINUTES
    police = registration(gm, categories=[], autoEscalate=[])
    del police["acknowledgeWithinMinutes"]
    refused = await partners.client.post("/v1/partners", json=police, headers=coordinator)
    assert refused.status_code == 400
    assert {p["name"] for p in refused.json()["invalidParams"]} == {"categories", "acknowledgeWithinMinutes"}
