"""The neighbourhood through GraphQL only, on the real services with Zaanstad's CBS 2014 boundaries
loaded (CONTRACT.md "The neighbourhood"): a resident finds their buurt from a point (Poelenburg,
Peldersveld), joins it and starts a clean-up asking for material; the municipality pledges it, a neighbour joins
(counted, never named), the leader completes it with an outcome; the wijkagent posts a warning to
the district and it lists for the buurt; a report with only a point gets the buurt; the quarter's
summary shows the counts, the goal, the initiative and the message. Then who may do what, and
validation, every invalid field at once."""

from __future__ import annotations

from collections import Counter
from typing import Any

import orjson

from bench.areas import direct_calls
from tests.gateway.conftest import GM, Platform, fresh_area, reserve_district
from tests.gateway.test_story import quarter_now, register, signature_valid
from tests.support import eventually

# Real CBS 2014 areas; no other gateway test reports there, so the quarter's counts are this file's.
reserve_district(12)
reserve_district(13)
POELENBURG = {"lat": 52.436, "lon": 4.848}  # inside buurt Poelenburg (BU04791210, Wijk 12) on the coarse kaart
WK, BU = "WK047913", "BU04791310"  # Wijk 13 Peldersveld and its buurt Peldersveld
PELDERSVELD = {"lat": 52.445, "lon": 4.845}
AMSTERDAM = {"lat": 52.3731, "lon": 4.8922}  # Dam square: outside every loaded boundary
OTHER = "GM0363"

AREA = "fragment A on Area { code level name municipality parent year }"
INITIATIVE = """
fragment I on Initiative {
  id municipality area title description kind status place participantCount joinedByMe ledByMe outcome createdAt
  asks { kind note }
  pledges { id kind note at partner { id name kind } }
  goal { id title }
}
"""
MESSAGE = "fragment M on NeighbourhoodMessage { id area kind title body postedAt validUntil partner { id name kind } }"
START = INITIATIVE + "mutation($input: StartInitiativeInput!) { startInitiative(input: $input) { ...I } }"
POST = MESSAGE + "mutation($input: PostMessageInput!) { postNeighbourhoodMessage(input: $input) { ...M } }"
PLEDGE = (
    INITIATIVE
    + "mutation($id: ID!, $kind: SupportKind!, $note: String) {"
    + " pledgeSupport(initiativeId: $id, kind: $kind, note: $note) { ...I } }"
)
REPORT = "mutation($input: ReportSignalInput!) { reportSignal(input: $input) { duplicate signal { id area status } } }"
SUMMARY = (
    INITIATIVE
    + MESSAGE
    + AREA
    + """
query($area: String!, $quarter: String!) { neighbourhoodSummary(area: $area, quarter: $quarter) {
  area { ...A } quarter resolvedShare medianAcknowledgeMinutes
  reported { category count previous }
  goals { id title area }
  initiatives { ...I }
  messages { ...M }
} }"""
)


def codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors") or []]


def fields(body: dict[str, Any]) -> set[str]:
    assert codes(body) == ["BAD_USER_INPUT"], body
    return {f["field"] for f in body["errors"][0]["extensions"]["fields"]}


async def until_accepted(
    platform: Platform, headers: dict[str, str], query: str, refused: str = "FORBIDDEN", **variables: Any
) -> dict[str, Any]:
    """The data of a write a service refuses (`refused`) until a partner's facts have reached it by event."""
    answers: list[dict[str, Any]] = []

    async def accepted() -> bool:
        body = await platform.graphql(headers, query, **variables)
        answers.append(body)
        assert codes(body) in ([], [refused]), body
        return not codes(body)

    await eventually(accepted, timeout=30, interval=0.2)
    data: dict[str, Any] = answers[-1]["data"]
    return data


async def test_a_resident_finds_their_buurt_from_a_point_lives_there_and_a_report_with_only_the_point_lands_there(
    platform: Platform,
) -> None:
    resident = platform.headers("resident", sub="bewoner-poelenburg-0")
    found = await platform.data(
        resident, AREA + "query($lat: Float!, $lon: Float!) { areaAt(lat: $lat, lon: $lon) { ...A } }", **POELENBURG
    )
    assert found["areaAt"] == {
        "code": "BU04791210",
        "level": "NEIGHBOURHOOD",
        "name": "Poelenburg",
        "municipality": GM,
        "parent": "WK047912",
        "year": 2014,
    }
    outside = await platform.data(
        resident, "query($lat: Float!, $lon: Float!) { areaAt(lat: $lat, lon: $lon) { code } }", **AMSTERDAM
    )
    assert outside["areaAt"] is None
    district = await platform.data(
        resident,
        AREA + '{ area(code: "WK047912") { ...A } areas(municipality: "GM0479", parent: "WK047912") { code } }',
    )
    assert (district["area"]["name"], district["area"]["level"]) == ("Wijk 12 Poelenburg", "DISTRICT")
    assert district["areas"] == [{"code": "BU04791210"}]

    join = AREA + "mutation($a: String!) { joinNeighbourhood(area: $a) { ...A } }"
    for _ in range(2):  # idempotent
        assert (await platform.data(resident, join, a="BU04791210"))["joinNeighbourhood"]["name"] == "Poelenburg"
    mine = await platform.data(resident, "{ myNeighbourhoods { code name } }")
    assert mine["myNeighbourhoods"] == [{"code": "BU04791210", "name": "Poelenburg"}]
    left = "mutation($a: String!) { leaveNeighbourhood(area: $a) }"
    assert (await platform.data(resident, left, a="BU04791210"))["leaveNeighbourhood"] is True
    assert (await platform.data(resident, left, a="BU04791210"))["leaveNeighbourhood"] is False
    assert (await platform.data(resident, "{ myNeighbourhoods { code } }"))["myNeighbourhoods"] == []

    report = {
        "municipality": GM,
        "category": "OTHER",
        "urgency": "LOW",
        "description": "Losse stoeptegel",
        **POELENBURG,
    }
    reported = (await platform.data(resident, REPORT, input=report))["reportSignal"]
    assert reported["signal"]["area"] == "BU04791210"  # found from the point
    given = await platform.data(resident, REPORT, input={**report, "area": "WK047912", "category": "VANDALISM"})
    assert given["reportSignal"]["signal"]["area"] == "WK047912"  # a given area is used as given


async def test_a_resident_finds_joins_and_leads_a_cleanup_the_municipality_pledges_and_the_quarter_shows_it(
    platform: Platform,
) -> None:
    year, quarter = quarter_now()
    municipality = await register(
        platform,
        name="Gemeente Zaanstad wijkteam Peldersveld",
        kind="MUNICIPALITY",
        municipalities=[GM],
        areas=[WK],
        categories=["LITTER_DUMPING", "VANDALISM"],
        acknowledgeWithinMinutes=240,
        webhookUrl=f"{platform.receiver_url}/gemeente/{WK}",
    )
    group = await register(
        platform,
        name="Buurtapp Peldersveld (verhaal)",
        kind="WHATSAPP_GROUP",
        municipalities=[GM],
        areas=[BU],
        categories=[],  # a group reports and hears back; it handles nothing
        webhookUrl=f"{platform.receiver_url}/buurtapp/{BU}",
    )
    police = await register(
        platform,
        name="Wijkagent Peldersveld",
        kind="POLICE",
        municipalities=[GM],
        areas=[WK],
        categories=["SUSPICIOUS_SITUATION"],
        acknowledgeWithinMinutes=60,
    )
    municipality_id, police_id = municipality["partner"]["id"], police["partner"]["id"]
    leader = platform.headers("resident", sub="bewoner-peldersveld-1")
    neighbour = platform.headers("resident", sub="bewoner-peldersveld-2")
    coordinator = platform.headers("coordinator")

    found = await platform.data(
        leader, "query($lat: Float!, $lon: Float!) { areaAt(lat: $lat, lon: $lon) { code name } }", **PELDERSVELD
    )
    assert found["areaAt"] == {"code": BU, "name": "Peldersveld"}
    await platform.data(leader, "mutation($a: String!) { joinNeighbourhood(area: $a) { code } }", a=BU)

    goal_input = {
        "municipality": GM,
        "area": WK,
        "year": year,
        "title": "Schoon Peldersveld",
        "categories": ["LITTER_DUMPING"],
        "indicators": [{"kind": "SIGNAL_COUNT", "category": "LITTER_DUMPING", "target": 10, "direction": "DECREASE"}],
        "partnerIds": [municipality_id],
    }
    goal = await until_accepted(  # goals knows the partner by event: until then partnerIds is refused
        platform,
        coordinator,
        "mutation($input: SetGoalInput!) { setGoal(input: $input) { id } }",
        refused="BAD_USER_INPUT",
        input=goal_input,
    )
    goal_id = goal["setGoal"]["id"]

    started = (
        await platform.data(
            leader,
            START,
            input={
                "municipality": GM,
                "area": BU,
                "title": "Zwerfvuil prikken in het Peldersveld",
                "description": "Zaterdagochtend samen de straten schoon, koffie na afloop.",
                "kind": "CLEANUP",
                "place": "Speeltuin Pelderslaan",
                "asks": [{"kind": "MATERIAL", "note": "grijpers en vuilniszakken"}],
                "goalId": goal_id,
                "contactEmail": "leider@example.org",
            },
        )
    )["startInitiative"]
    assert (started["status"], started["ledByMe"], started["participantCount"]) == ("ACTIVE", True, 1)  # the leader
    assert started["asks"] == [{"kind": "MATERIAL", "note": "grijpers en vuilniszakken"}]
    assert started["goal"] == {"id": goal_id, "title": "Schoon Peldersveld"}  # through the goals loader
    initiative_id = started["id"]

    municipality_agent = platform.headers("partner_agent", partner_id=municipality_id)
    pledged = (
        await until_accepted(
            platform,
            municipality_agent,
            PLEDGE,
            id=initiative_id,
            kind="MATERIAL",
            note="50 grijpers bij de buurtbeheerder",
        )
    )["pledgeSupport"]
    assert [(p["kind"], p["partner"]["id"], p["partner"]["kind"]) for p in pledged["pledges"]] == [
        ("MATERIAL", municipality_id, "MUNICIPALITY")
    ]

    joined_by_neighbour = (
        await platform.data(
            neighbour, INITIATIVE + "mutation($id: ID!) { joinInitiative(id: $id) { ...I } }", id=initiative_id
        )
    )["joinInitiative"]
    assert (
        joined_by_neighbour["participantCount"],
        joined_by_neighbour["joinedByMe"],
        joined_by_neighbour["ledByMe"],
    ) == (2, True, False)
    again = await platform.data(
        neighbour, "mutation($id: ID!) { joinInitiative(id: $id) { participantCount } }", id=initiative_id
    )
    assert again["joinInitiative"]["participantCount"] == 2  # idempotent: counted once
    named = await platform.graphql(leader, "query($id: ID!) { initiative(id: $id) { participants } }", id=initiative_id)
    assert codes(named) == ["GRAPHQL_VALIDATION_FAILED"]  # counted, never named

    completed = (
        await platform.data(
            leader,
            INITIATIVE + "mutation($id: ID!, $o: String!) { completeInitiative(id: $id, outcome: $o) { ...I } }",
            id=initiative_id,
            o="Twaalf buren, veertig zakken afval",
        )
    )["completeInitiative"]
    assert (completed["status"], completed["outcome"], completed["participantCount"]) == (
        "DONE",
        "Twaalf buren, veertig zakken afval",
        2,
    )
    twice = await platform.graphql(
        leader, 'mutation($id: ID!) { stopInitiative(id: $id, reason: "te laat") { id } }', id=initiative_id
    )
    assert codes(twice) == ["CONFLICT"]

    wijkagent = platform.headers("partner_agent", partner_id=police_id)
    warning = (
        await until_accepted(
            platform,
            wijkagent,
            POST,
            input={
                "area": WK,
                "kind": "WARNING",
                "title": "Inbraakgolf in Peldersveld",
                "body": "Sluit ramen en deuren, ook als u even weg bent. Zie iets verdachts? Bel 112.",
                "partnerId": police_id,
            },
        )
    )["postNeighbourhoodMessage"]
    assert (warning["area"], warning["kind"], warning["partner"]["id"]) == (WK, "WARNING", police_id)
    for area in (BU, WK):  # a BU's messages include its WK's
        listed = await platform.data(
            neighbour,
            MESSAGE + "query($a: String!) { neighbourhoodMessages(area: $a, first: 10) { totalCount nodes { ...M } } }",
            a=area,
        )
        assert [m["id"] for m in listed["neighbourhoodMessages"]["nodes"]] == [warning["id"]]

    # who hears (signed webhooks, ids and codes only): the municipality partner heard of the
    # clean-up so it could connect to it; the buurt's WhatsApp group heard the warning to share it
    started_hook = await heard(platform, f"/gemeente/{WK}", "initiative.started", initiative_id)
    warning_hook = await heard(platform, f"/buurtapp/{BU}", "neighbourhood.message_posted", warning["id"])
    for partner, (headers, body) in ((municipality, started_hook), (group, warning_hook)):
        assert signature_valid(partner["webhookSecret"], headers, body)
        for text in ("Zwerfvuil", "grijpers", "leider@example.org", "Inbraakgolf", "Sluit ramen"):
            assert text not in body.decode()
    assert orjson.loads(started_hook[1])["data"]["area"] == BU
    assert orjson.loads(warning_hook[1])["data"]["kind"] in ("warning", "WARNING")

    reported = (
        await platform.data(
            leader,
            REPORT,
            input={
                "municipality": GM,
                "category": "LITTER_DUMPING",
                "urgency": "NORMAL",
                "description": "Matras en zakken bij de container",
                **PELDERSVELD,
            },
        )
    )["reportSignal"]
    assert reported["signal"]["area"] == BU  # found from the point
    litter_again = {"category": "LITTER_DUMPING", "urgency": "NORMAL", "description": "Weer een matras"}
    again = await platform.data(neighbour, REPORT, input={"municipality": GM, "area": BU, **litter_again})
    assert again["reportSignal"]["duplicate"] is True  # merged: not counted in the summary
    vandalism = (
        await platform.data(
            neighbour,
            REPORT,
            input={
                "municipality": GM,
                "area": WK,
                "category": "VANDALISM",
                "urgency": "LOW",
                "description": "Bushokje vernield",
            },
        )
    )["reportSignal"]
    assert vandalism["signal"]["area"] == WK

    summaries: list[dict[str, Any]] = []

    async def counted() -> bool:
        summaries.append((await platform.data(neighbour, SUMMARY, area=WK, quarter=quarter))["neighbourhoodSummary"])
        return {c["category"] for c in summaries[-1]["reported"]} == {"LITTER_DUMPING", "VANDALISM"}

    await eventually(counted, timeout=30, interval=0.2)
    summary = summaries[-1]
    assert summary["area"]["code"] == WK and summary["area"]["name"] == "Wijk 13 Pelders- en Hoornseveld"
    assert summary["quarter"] == quarter
    assert sorted(summary["reported"], key=lambda c: c["category"]) == [
        {"category": "LITTER_DUMPING", "count": 1, "previous": 0},
        {"category": "VANDALISM", "count": 1, "previous": 0},
    ]
    assert summary["resolvedShare"] == 0.0
    assert [g["id"] for g in summary["goals"]] == [goal_id]
    assert [(i["id"], i["status"], i["participantCount"]) for i in summary["initiatives"]] == [
        (initiative_id, "DONE", 2)
    ]
    assert [(m["id"], m["kind"]) for m in summary["messages"]] == [(warning["id"], "WARNING")]
    assert "description" not in str(summary["reported"])

    dataref = await platform.gateway.get(f"/v1/initiatives/{initiative_id}", headers=municipality_agent)
    assert dataref.status_code == 200 and dataref.json()["status"] == "done"
    assert "contactEmail" not in dataref.json() and "leider@example.org" not in dataref.text
    message_ref = await platform.gateway.get(f"/v1/messages/{warning['id']}", headers=municipality_agent)
    assert message_ref.status_code == 200 and message_ref.json()["kind"] == "warning"


async def test_who_may_post_pledge_join_and_read_in_the_neighbourhood(platform: Platform) -> None:
    wk, bu = fresh_area()
    other_wk, _ = fresh_area()
    youth = await register(
        platform,
        name=f"Jongerenwerk {wk}",
        kind="YOUTH_WORK",
        municipalities=[GM],
        areas=[wk],
        categories=["YOUTH_NUISANCE"],
        acknowledgeWithinMinutes=120,
    )
    youth_id = youth["partner"]["id"]
    agent = platform.headers("partner_agent", partner_id=youth_id)
    resident = platform.headers("resident", sub=f"bewoner-{bu}")
    message = {"area": bu, "kind": "EVENT", "title": "Voetbaltoernooi", "body": "Woensdagmiddag op het trapveld."}

    posted = await until_accepted(platform, agent, POST, input=message)
    assert posted["postNeighbourhoodMessage"]["partner"]["id"] == youth_id
    for title in ("Inloopavond", "Kookclub"):
        await platform.data(agent, POST, input={**message, "title": title})
    before = platform.calls_to("partners")
    listed = await platform.data(
        resident, MESSAGE + "query($a: String!) { neighbourhoodMessages(area: $a) { totalCount nodes { ...M } } }", a=wk
    )
    assert listed["neighbourhoodMessages"]["totalCount"] == 3
    assert [m["title"] for m in listed["neighbourhoodMessages"]["nodes"]] == [
        "Kookclub",
        "Inloopavond",
        "Voetbaltoernooi",
    ]
    assert platform.calls_to("partners") - before == 1  # the messages' partner in one batch read, not one per message
    page = "query($a: String!, $after: String) { neighbourhoodMessages(area: $a, first: 2, after: $after) {"
    page += " totalCount endCursor hasNextPage nodes { title } } }"
    first = (await platform.data(resident, page, a=wk))["neighbourhoodMessages"]
    assert ([m["title"] for m in first["nodes"]], first["totalCount"], first["hasNextPage"]) == (
        ["Kookclub", "Inloopavond"],
        3,
        True,
    )
    rest = (await platform.data(resident, page, a=wk, after=first["endCursor"]))["neighbourhoodMessages"]
    assert ([m["title"] for m in rest["nodes"]], rest["totalCount"], rest["endCursor"], rest["hasNextPage"]) == (
        ["Voetbaltoernooi"],
        3,
        None,
        False,
    )
    by_resident = await platform.graphql(resident, POST, input=message)
    assert codes(by_resident) == ["FORBIDDEN"] and by_resident["data"] is None
    outside = await platform.graphql(agent, POST, input={**message, "area": other_wk})
    assert codes(outside) == ["FORBIDDEN"]  # the partner does not cover that district
    withdrawn_by_resident = await platform.graphql(
        resident,
        "mutation($id: ID!) { withdrawNeighbourhoodMessage(id: $id) { id } }",
        id=posted["postNeighbourhoodMessage"]["id"],
    )
    assert codes(withdrawn_by_resident) == ["FORBIDDEN"]

    started = await platform.data(
        resident, START, input={"municipality": GM, "area": bu, "title": "Buurtbarbecue", "kind": "SOCIAL"}
    )
    initiative_id = started["startInitiative"]["id"]
    by_agent = await platform.graphql(
        agent, START, input={"municipality": GM, "area": bu, "title": "X", "kind": "OTHER"}
    )
    assert codes(by_agent) == ["FORBIDDEN"]  # residents and group admins start initiatives
    agent_joins = await platform.graphql(
        agent, "mutation($id: ID!) { joinInitiative(id: $id) { id } }", id=initiative_id
    )
    assert codes(agent_joins) == ["FORBIDDEN"]
    resident_pledges = await platform.graphql(resident, PLEDGE, id=initiative_id, kind="BUDGET", note=None)
    assert codes(resident_pledges) == ["FORBIDDEN"]
    neighbour_completes = await platform.graphql(
        platform.headers("resident", sub=f"buur-{bu}"),
        'mutation($id: ID!) { completeInitiative(id: $id, outcome: "klaar") { id } }',
        id=initiative_id,
    )
    assert codes(neighbour_completes) == ["FORBIDDEN"]  # only its leader or a coordinator
    joined_wk = await platform.graphql(resident, "mutation($a: String!) { joinNeighbourhood(area: $a) { code } }", a=wk)
    assert codes(joined_wk) == ["BAD_USER_INPUT"]  # a resident lives in a buurt, not a wijk

    stranger = platform.headers("coordinator", (OTHER,))
    unseen = await platform.graphql(stranger, "query($id: ID!) { initiative(id: $id) { id title } }", id=initiative_id)
    assert unseen["data"] == {"initiative": None} and codes(unseen) == ["NOT_FOUND"]
    for query, variables in (
        ("query($a: String!) { area(code: $a) { code } }", {"a": bu}),
        ("query($a: String!) { initiatives(area: $a) { id } }", {"a": bu}),
        ("query($a: String!) { neighbourhoodMessages(area: $a) { totalCount } }", {"a": bu}),
        (
            "query($a: String!, $q: String!) { neighbourhoodSummary(area: $a, quarter: $q) { quarter } }",
            {"a": wk, "q": quarter_now()[1]},
        ),
    ):
        refused = await platform.graphql(stranger, query, **variables)
        assert codes(refused) == ["NOT_FOUND"], (query, refused)
    stranger_ref = await platform.gateway.get(f"/v1/initiatives/{initiative_id}", headers=stranger)
    assert stranger_ref.status_code == 404
    anonymous = await platform.gateway.post("/graphql", json={"query": "{ myNeighbourhoods { code } }"})
    assert codes(anonymous.json()) == ["UNAUTHENTICATED"]

    everyone = await platform.data(
        platform.headers("region_admin"),
        "query($a: String!) { initiatives(area: $a, status: [ACTIVE]) { id } area(code: $a) { code name level } }",
        a=wk,
    )
    assert [i["id"] for i in everyone["initiatives"]] == [initiative_id]  # a WK lists its BUs' initiatives
    assert (everyone["area"]["code"], everyone["area"]["level"]) == (wk, "DISTRICT")  # any well-formed code


async def test_invalid_input_is_refused_with_every_field_at_once(platform: Platform) -> None:
    _, bu = fresh_area()
    resident = platform.headers("resident", sub=f"bewoner-{bu}")
    coordinator = platform.headers("coordinator")

    initiative = await platform.graphql(
        resident,
        START,
        input={"municipality": GM, "area": "BU12", "title": "", "description": "x" * 2001, "kind": "CLEANUP"},
    )
    assert {"area", "title", "description"} <= fields(initiative)

    message = await platform.graphql(
        coordinator, POST, input={"area": "WK0479", "kind": "INFO", "title": "t" * 121, "body": ""}
    )
    assert {"area", "title", "body"} <= fields(message)

    pointless = await platform.graphql(
        resident,
        REPORT,
        input={"municipality": GM, "category": "OTHER", "urgency": "NORMAL", "description": "", **AMSTERDAM},
    )
    assert fields(pointless) == {"area", "description"}  # no loaded buurt at the point: the area is required
    area_error = next(f for f in pointless["errors"][0]["extensions"]["fields"] if f["field"] == "area")
    assert "lat/lon" in area_error["message"]
    without_anything = await platform.graphql(
        resident,
        REPORT,
        input={"municipality": GM, "category": "OTHER", "urgency": "NORMAL", "description": "Losse stoeptegel"},
    )
    assert fields(without_anything) == {"area"}

    summary = await platform.graphql(resident, SUMMARY, area="WK0479XYZ", quarter="2026-Q9")
    assert {"area", "quarter"} <= fields(summary)


async def test_a_summary_reads_partners_and_goals_in_batches_not_once_per_initiative(platform: Platform) -> None:
    wk, bu = fresh_area()
    year, quarter = quarter_now()
    registered = await register(
        platform,
        name=f"Gemeente {wk}",
        kind="MUNICIPALITY",
        municipalities=[GM],
        areas=[wk],
        categories=["OTHER"],
        acknowledgeWithinMinutes=60,
    )
    partner_id = registered["partner"]["id"]
    agent = platform.headers("partner_agent", partner_id=partner_id)
    resident = platform.headers("resident", sub=f"bewoner-{bu}")
    goal_ids = []
    for area in (wk, bu):
        goal = {
            "municipality": GM,
            "area": area,
            "year": year,
            "title": f"Doel {area}",
            "categories": ["OTHER"],
            "indicators": [{"kind": "SIGNAL_COUNT", "category": "OTHER", "target": 1, "direction": "DECREASE"}],
            "partnerIds": [partner_id],
        }
        set_goal = "mutation($input: SetGoalInput!) { setGoal(input: $input) { id } }"
        coordinator = platform.headers("coordinator")
        answer = await until_accepted(platform, coordinator, set_goal, refused="BAD_USER_INPUT", input=goal)
        goal_ids.append(answer["setGoal"]["id"])
    initiative_ids = []
    for number in range(4):
        started = await platform.data(
            resident,
            START,
            input={
                "municipality": GM,
                "area": bu,
                "title": f"Activiteit {number}",
                "kind": "SOCIAL",
                "goalId": goal_ids[number % 2],
            },
        )
        initiative_ids.append(started["startInitiative"]["id"])
    for initiative_id in initiative_ids:
        await until_accepted(platform, agent, PLEDGE, id=initiative_id, kind="BUDGET", note=None)
    await platform.data(agent, POST, input={"area": wk, "kind": "INFO", "title": "Spreekuur", "body": "Elke dinsdag."})

    platform.calls.clear()
    summary = (await platform.data(resident, SUMMARY, area=wk, quarter=quarter))["neighbourhoodSummary"]
    assert sorted(i["id"] for i in summary["initiatives"]) == sorted(initiative_ids)
    assert {i["goal"]["id"] for i in summary["initiatives"]} == set(goal_ids)
    assert sorted(g["id"] for g in summary["goals"]) == sorted(goal_ids)  # the WK's and its BU's
    assert {p["partner"]["id"] for i in summary["initiatives"] for p in i["pledges"]} == {partner_id}
    calls = {(service, path): n for (service, _, path), n in platform.calls.items()}
    assert calls[("neighbourhoods", "/v1/summary")] == 1
    assert calls[("partners", "/v1/partners")] == 1  # four pledges and a message: one batch read
    assert calls[("goals", "/v1/goals")] == 2  # the area's goals, and the initiatives' goals in one batch
    assert calls[("goals", "/v1/area-statistics")] == 2  # this and the last quarter, each with its breakdown
    # bench.areas' baseline sends the gateway's calls directly: the same ones (no initiative asks for its goal there)
    urls = {"neighbourhoods": "n", "goals": "g"}
    wave = Counter((base, path.split("?")[0]) for base, path in direct_calls(urls, wk, GM))
    assert wave == {("n", "/v1/summary"): 1, ("g", "/v1/area-statistics"): 2, ("g", "/v1/goals"): 1}


async def heard(platform: Platform, path: str, event_type: str, subject: str) -> tuple[dict[str, str], bytes]:
    """The first webhook of `event_type` about `subject` that arrived at `path` (waits for it)."""

    def found() -> list[tuple[dict[str, str], bytes]]:
        hits = []
        for at, (headers, body) in zip(platform.receiver.paths, platform.receiver.requests, strict=True):
            if at == path and body:
                event = orjson.loads(body)
                if event.get("subject") == subject and event["type"] == f"nl.wijkaanpak.{event_type}":
                    hits.append((headers, body))
        return hits

    async def arrived() -> bool:
        return bool(found())

    await eventually(arrived, timeout=30)
    return found()[0]
