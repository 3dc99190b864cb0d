"""Goals, proposals and reviews through the REST API against real PostgreSQL and Kafka."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from shared.events.catalog import PartnerDeactivated
from shared.events.codes import PartnerKind
from tests.goals.conftest import Goals, Wire, known_partner, new_area
from tests.support import Infra, TopicReader, eventually


def goal_body(area: str, partner_ids: list[UUID] | None = None, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "municipality": "GM0479",
        "area": area,
        "year": 2026,
        "title": "Een schone buurt",
        "description": "Minder zwerfafval rond de winkels",
        "theme": "schoon",
        "categories": ["litter_dumping"],
        "indicators": [
            {
                "kind": "signal_count",
                "category": "litter_dumping",
                "baseline": 20,
                "target": 10,
                "direction": "decrease",
            }
        ],
        "partnerIds": [str(p) for p in partner_ids or []],
    }
    body.update(overrides)
    return body


def names(response: Any) -> set[str]:
    return {p["name"] for p in response.json()["invalidParams"]}


async def test_coordinator_sets_a_goal_that_users_and_partners_read(goals: Goals, wire: Wire, infra: Infra) -> None:
    partner = await known_partner(goals, wire, infra)
    area = new_area()
    coordinator = infra.headers("coordinator")
    async with TopicReader(infra, "goal.set") as reader:
        r = await goals.client.post("/v1/goals", json=goal_body(area, [partner]), headers=coordinator)
        assert r.status_code == 201, r.text
        goal = r.json()
        assert goal["status"] == "active"
        assert goal["partnerIds"] == [str(partner)]
        assert goal["proposalId"] is None
        assert goal["indicators"][0] == {
            "kind": "signal_count",
            "category": "litter_dumping",
            "baseline": 20.0,
            "target": 10.0,
            "direction": "decrease",
        }
        seen = await reader.until(lambda s: any(e.subject == goal["id"] for e, _, _ in s))
    set_event = next(d for e, d, _ in seen if e.subject == goal["id"])
    assert set_event.partner_ids == [partner] and set_event.proposal_id is None

    for headers in (infra.headers("resident"), infra.headers("partner_agent", ["GM0363"], partner_id=str(partner))):
        read = await goals.client.get(f"/v1/goals/{goal['id']}", headers=headers)
        assert read.status_code == 200 and read.json()["title"] == "Een schone buurt"
    listed = await goals.client.get(f"/v1/goals?area={area}&year=2026", headers=infra.headers("resident"))
    assert [g["id"] for g in listed.json()["results"]] == [goal["id"]] and listed.json()["totalCount"] == 1
    batch = await goals.client.get(f"/v1/goals?ids={goal['id']},{uuid4()}", headers=coordinator)
    assert [g["id"] for g in batch.json()["results"]] == [goal["id"]]


async def test_partners_must_be_active_partners_of_the_municipality(goals: Goals, wire: Wire, infra: Infra) -> None:
    partner = await known_partner(goals, wire, infra)
    elsewhere = await wire.partner(["GM0363"])
    await wire.send(
        wire.envelope(
            PartnerDeactivated(
                partner_id=partner,
                name="Wijkteam",
                kind=PartnerKind.MUNICIPALITY,
                municipalities=["GM0479"],
                areas=[],
                categories=[],
                acknowledge_within_minutes=60,
                registered_at=datetime.now(UTC),
                version=2,
                active=False,
            ),
            2,
            source="partners",
        )
    )
    coordinator = infra.headers("coordinator")

    async def refused() -> bool:
        body = goal_body(new_area(), [partner, elsewhere], year=1900)
        r = await goals.client.post("/v1/goals", json=body, headers=coordinator)
        return {"partnerIds.0", "partnerIds.1"} <= names(r)

    await eventually(refused, timeout=30, interval=0.2)


async def test_goals_of_another_municipality_are_not_found(goals: Goals, infra: Infra) -> None:
    r = await goals.client.post("/v1/goals", json=goal_body(new_area()), headers=infra.headers("coordinator"))
    goal_id = r.json()["id"]
    elsewhere = infra.headers("coordinator", ["GM0363"])
    assert (await goals.client.get(f"/v1/goals/{goal_id}", headers=elsewhere)).status_code == 404
    assert (await goals.client.patch(f"/v1/goals/{goal_id}", json={"title": "x"}, headers=elsewhere)).status_code == 404
    assert (await goals.client.get(f"/v1/goals/{goal_id}/trend.svg", headers=elsewhere)).status_code == 404
    listed = await goals.client.get("/v1/goals?year=2026", headers=elsewhere)
    assert goal_id not in [g["id"] for g in listed.json()["results"]]
    create_elsewhere = await goals.client.post(
        "/v1/goals", json=goal_body(new_area(), municipality="GM0363", year=1), headers=infra.headers("coordinator")
    )
    assert create_elsewhere.status_code == 404


async def test_only_coordinators_set_goals_and_unauthenticated_callers_are_refused(goals: Goals, infra: Infra) -> None:
    body = goal_body(new_area(), year=1900)
    assert (await goals.client.post("/v1/goals", json=body)).status_code == 401
    r = await goals.client.post("/v1/goals", json=body, headers=infra.headers("resident"))
    assert r.status_code == 403 and r.headers["content-type"] == "application/problem+json"
    garbled = await goals.client.post("/v1/goals", json={"year": "soon"}, headers=infra.headers("resident"))
    assert garbled.status_code == 403  # authorisation before validation


async def test_every_bad_goal_field_is_reported_at_once(goals: Goals, infra: Infra) -> None:
    body = goal_body(
        "WK036301",
        year=2029,
        categories=["litter"],
        indicators=[
            {"kind": "signal_count", "target": 10, "direction": "decrease"},
            {"kind": "resolved_share", "baseline": 0.5, "target": 0.5, "direction": "increase"},
        ],
        partnerIds=[str(uuid4())],
    )
    r = await goals.client.post("/v1/goals", json=body, headers=infra.headers("coordinator"))
    assert r.status_code == 400
    assert r.json()["code"] == "BAD_USER_INPUT"
    assert names(r) == {
        "area",
        "year",
        "categories.0",
        "indicators.0.category",
        "indicators.1.target",
        "partnerIds.0",
    }


async def test_fourth_active_goal_in_an_area_is_refused_under_concurrent_requests(goals: Goals, infra: Infra) -> None:
    area = new_area()
    coordinator = infra.headers("coordinator")
    responses = await asyncio.gather(
        *(
            goals.client.post("/v1/goals", json=goal_body(area, title=f"Doel {i}"), headers=coordinator)
            for i in range(5)
        )
    )
    assert sorted(r.status_code for r in responses) == [201, 201, 201, 409, 409]
    refused = next(r for r in responses if r.status_code == 409)
    assert refused.headers["content-type"] == "application/problem+json"
    assert "already has 3 active goals for 2026" in refused.json()["detail"]
    listed = await goals.client.get(f"/v1/goals?area={area}&year=2026&status=active", headers=coordinator)
    assert listed.json()["totalCount"] == 3
    page1 = (await goals.client.get(f"/v1/goals?area={area}&first=2", headers=coordinator)).json()
    page2 = (await goals.client.get(f"/v1/goals?area={area}&first=2&after={page1['next']}", headers=coordinator)).json()
    assert len(page1["results"]) == 2 and page1["totalCount"] == 3
    assert len(page2["results"]) == 1 and page2["next"] is None
    assert {g["id"] for g in page1["results"] + page2["results"]} == {g["id"] for g in listed.json()["results"]}

    # Dropping one makes room; bringing it back while the area is full again is refused.
    dropped = next(r.json() for r in responses if r.status_code == 201)
    r = await goals.client.patch(f"/v1/goals/{dropped['id']}", json={"status": "dropped"}, headers=coordinator)
    assert r.status_code == 200 and r.json()["status"] == "dropped"
    assert (await goals.client.post("/v1/goals", json=goal_body(area), headers=coordinator)).status_code == 201
    r = await goals.client.patch(f"/v1/goals/{dropped['id']}", json={"status": "active"}, headers=coordinator)
    assert r.status_code == 409
    # Another year of the same area is not affected.
    assert (
        await goals.client.post("/v1/goals", json=goal_body(area, year=2027), headers=coordinator)
    ).status_code == 201


async def test_setting_a_goal_twice_with_one_idempotency_key_creates_it_once(goals: Goals, infra: Infra) -> None:
    area = new_area()
    headers = {**infra.headers("coordinator", sub="coordinator-idem"), "Idempotency-Key": str(uuid4())}
    first = await goals.client.post("/v1/goals", json=goal_body(area), headers=headers)
    again = await goals.client.post("/v1/goals", json=goal_body(area), headers=headers)
    assert first.status_code == again.status_code == 201 and first.json()["id"] == again.json()["id"]
    other = await goals.client.post("/v1/goals", json=goal_body(area, title="Anders"), headers=headers)
    assert other.status_code == 422
    listed = await goals.client.get(f"/v1/goals?area={area}", headers=headers)
    assert listed.json()["totalCount"] == 1


async def test_updating_a_goal_changes_what_is_given(goals: Goals, wire: Wire, infra: Infra) -> None:
    partner = await known_partner(goals, wire, infra)
    coordinator = infra.headers("coordinator")
    goal = (await goals.client.post("/v1/goals", json=goal_body(new_area()), headers=coordinator)).json()
    async with TopicReader(infra, "goal.updated") as reader:
        r = await goals.client.patch(
            f"/v1/goals/{goal['id']}",
            json={"title": "Schoon en heel", "partnerIds": [str(partner)], "categories": ["vandalism"]},
            headers=coordinator,
        )
        assert r.status_code == 200, r.text
        assert r.json()["title"] == "Schoon en heel"
        assert r.json()["partnerIds"] == [str(partner)]
        assert r.json()["indicators"] == goal["indicators"]
        await reader.until(lambda s: any(e.subject == goal["id"] and e.sequence.endswith("2") for e, _, _ in s))
    bad = await goals.client.patch(
        f"/v1/goals/{goal['id']}", json={"status": "finished", "partnerIds": ["x"]}, headers=coordinator
    )
    assert bad.status_code == 400 and names(bad) == {"status", "partnerIds.0"}


async def test_residents_propose_and_support_and_coordinators_adopt_or_decline(goals: Goals, infra: Infra) -> None:
    area = new_area()
    proposer = infra.headers("resident", sub="resident-proposer")
    neighbour = infra.headers("resident", sub="resident-neighbour")
    coordinator = infra.headers("coordinator")
    body = {"municipality": "GM0479", "area": area, "year": 2026, "title": "Minder hangjongeren-overlast"}
    async with TopicReader(infra, "goal.proposed", "goal.set") as reader:
        r = await goals.client.post("/v1/goal-proposals", json=body, headers=proposer)
        assert r.status_code == 201, r.text
        first = r.json()
        assert first["status"] == "open" and first["supportCount"] == 0
        second = (
            await goals.client.post("/v1/goal-proposals", json={**body, "title": "Schone straat"}, headers=neighbour)
        ).json()

        for _ in range(2):  # supporting twice changes nothing
            r = await goals.client.post(f"/v1/goal-proposals/{first['id']}/support", headers=neighbour)
            assert r.status_code == 200 and r.json()["supportCount"] == 1 and r.json()["supportedByMe"] is True
        await goals.client.post(f"/v1/goal-proposals/{first['id']}/support", headers=proposer)

        listed = (await goals.client.get(f"/v1/goal-proposals?area={area}&year=2026", headers=proposer)).json()
        counts = {p["id"]: (p["supportCount"], p["supportedByMe"]) for p in listed["results"]}
        assert counts == {first["id"]: (2, True), second["id"]: (0, False)}

        r = await goals.client.post(
            f"/v1/goal-proposals/{second['id']}/decline", json={"reason": "Valt samen met doel 1"}, headers=coordinator
        )
        assert r.status_code == 200 and r.json()["status"] == "declined"
        seen_by_proposer = (await goals.client.get(f"/v1/goal-proposals/{second['id']}", headers=neighbour)).json()
        seen_by_other = (await goals.client.get(f"/v1/goal-proposals/{second['id']}", headers=proposer)).json()
        assert seen_by_proposer["declineReason"] == "Valt samen met doel 1"
        assert seen_by_other["declineReason"] is None

        adoption = {
            "indicators": [
                {"kind": "signal_count", "category": "youth_nuisance", "target": 5, "direction": "decrease"}
            ],
            "categories": ["youth_nuisance"],
        }
        r = await goals.client.post(f"/v1/goal-proposals/{first['id']}/adoption", json=adoption, headers=coordinator)
        assert r.status_code == 201, r.text
        goal = r.json()
        assert goal["proposalId"] == first["id"] and goal["title"] == "Minder hangjongeren-overlast"
        seen = await reader.until(
            lambda s: (
                any(e.event_type == "goal.set" and e.subject == goal["id"] for e, _, _ in s)
                and any(e.subject == first["id"] for e, _, _ in s)
            )
        )
    assert next(d for e, d, _ in seen if e.subject == goal["id"]).proposal_id == UUID(first["id"])
    proposed = next(e for e, _, _ in seen if e.subject == first["id"])
    assert "title" not in proposed.data  # events never carry residents' free text

    adopted = (await goals.client.get(f"/v1/goal-proposals/{first['id']}", headers=neighbour)).json()
    assert adopted["status"] == "adopted" and adopted["goalId"] == goal["id"]
    again = await goals.client.post(f"/v1/goal-proposals/{first['id']}/adoption", json=adoption, headers=coordinator)
    assert again.status_code == 409
    assert (
        await goals.client.post(f"/v1/goal-proposals/{first['id']}/decline", json={"reason": "x"}, headers=proposer)
    ).status_code == 403
    elsewhere = infra.headers("resident", ["GM0363"])
    assert (await goals.client.post(f"/v1/goal-proposals/{first['id']}/support", headers=elsewhere)).status_code == 404


async def test_group_admins_propose_for_their_group(goals: Goals, infra: Infra) -> None:
    group = str(uuid4())
    body = {"municipality": "GM0479", "area": new_area(), "year": 2027, "title": "Veilig naar school"}
    r = await goals.client.post("/v1/goal-proposals", json=body, headers=infra.headers("group_admin", partner_id=group))
    assert r.status_code == 201 and r.json()["groupId"] == group
    bad = await goals.client.post(
        "/v1/goal-proposals",
        json={**body, "area": "BU03630101", "year": 2020, "title": ""},
        headers=infra.headers("resident"),
    )
    assert bad.status_code == 400 and names(bad) == {"area", "year", "title"}
    assert (
        await goals.client.post("/v1/goal-proposals", json=body, headers=infra.headers("partner_agent"))
    ).status_code == 403


async def test_review_snapshots_measurements_once_per_quarter(goals: Goals, wire: Wire, infra: Infra) -> None:
    partner = await known_partner(goals, wire, infra)
    coordinator = infra.headers("coordinator")
    goal = (await goals.client.post("/v1/goals", json=goal_body(new_area(), [partner]), headers=coordinator)).json()
    url = f"/v1/goals/{goal['id']}/reviews"

    bad = await goals.client.post(
        url,
        json={
            "quarter": "2026-4",
            "assessment": "great",
            "decision": "continue",
            "cooperation": [{"partnerId": str(partner), "score": 6}, {"partnerId": str(uuid4()), "score": 3}],
        },
        headers=coordinator,
    )
    assert bad.status_code == 400
    assert names(bad) == {"quarter", "assessment", "cooperation.0.score", "cooperation.1.partnerId"}
    future = await goals.client.post(
        url, json={"quarter": "2027-Q1", "assessment": "on_track", "decision": "continue"}, headers=coordinator
    )
    assert future.status_code == 400 and names(future) == {"quarter"}

    review = {
        "quarter": "2026-Q3",
        "assessment": "at_risk",
        "decision": "adjust",
        "cooperation": [{"partnerId": str(partner), "score": 4}],
        "notes": "Meer vuilnisbakken bij het plein",
    }
    assert (await goals.client.post(url, json=review, headers=infra.headers("resident"))).status_code == 403
    async with TopicReader(infra, "goal.reviewed") as reader:
        r = await goals.client.post(url, json=review, headers=coordinator)
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["goalId"] == goal["id"] and body["quarter"] == "2026-Q3"
        assert body["cooperation"] == [{"partnerId": str(partner), "score": 4}]
        assert body["measurements"] == [
            {"indicator": goal["indicators"][0], "value": 0.0, "previous": 0.0, "onTrack": True, "partial": False}
        ]
        seen = await reader.until(lambda s: any(e.subject == goal["id"] for e, _, _ in s))
    reviewed = next(d for e, d, _ in seen if e.subject == goal["id"])
    assert str(reviewed.review_id) == body["id"] and reviewed.partner_ids == [partner]

    second = await goals.client.post(url, json={**review, "assessment": "on_track"}, headers=coordinator)
    assert second.status_code == 409 and "2026-Q3" in second.json()["detail"]

    achieved = await goals.client.post(
        url, json={"quarter": "2026-Q4", "assessment": "on_track", "decision": "achieved"}, headers=coordinator
    )
    assert achieved.status_code == 201
    assert (await goals.client.get(f"/v1/goals/{goal['id']}", headers=coordinator)).json()["status"] == "achieved"
    listed = (await goals.client.get(url, headers=infra.headers("resident"))).json()
    assert [rv["quarter"] for rv in listed["results"]] == ["2026-Q3", "2026-Q4"]
    batch = (await goals.client.get(f"/v1/goal-reviews?goalIds={goal['id']}", headers=coordinator)).json()
    assert len(batch["results"]) == 2


async def test_trend_chart_is_served_as_well_formed_svg(goals: Goals, infra: Infra) -> None:
    coordinator = infra.headers("coordinator")
    body = goal_body(new_area(), title="Schone buurt")
    body["indicators"].append({"kind": "resolved_share", "baseline": 0.4, "target": 0.8, "direction": "increase"})
    goal = (await goals.client.post("/v1/goals", json=body, headers=coordinator)).json()
    r = await goals.client.get(f"/v1/goals/{goal['id']}/trend.svg", headers=infra.headers("resident"))
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("image/svg+xml")
    root = ET.fromstring(r.text)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    texts = {t.text for t in root.iter("{http://www.w3.org/2000/svg}text")}
    assert {"Schone buurt", "Gemeten", "Doel", "Nulmeting", "K1 2026", "K4 2026"} <= texts
    assert "Aantal meldingen: afval en dumping" in texts
    assert "Aandeel opgelost (%): afval en dumping" in texts


async def test_openapi_is_served_without_auth(goals: Goals) -> None:
    r = await goals.client.get("/v1/openapi.json")
    assert r.status_code == 200
    paths = r.json()["paths"]
    assert {"/v1/goals", "/v1/goals/{goal_id}/reviews", "/v1/goal-proposals/{proposal_id}/adoption"} <= set(paths)
