"""Open311 GeoReport v2 at the gateway, driven by a client written from the specification's
examples (wiki.open311.org/GeoReport_v2 and /Service_Discovery): discovery, services, a service
definition, a POST form-encoded and as JSON, and the status of requests, against the real services.
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.gateway.conftest import GM, Platform, fresh_area


class GeoReportClient:
    """What a civic app does: find the endpoint in discovery.json, then speak GeoReport v2 JSON."""

    def __init__(self, http: httpx.AsyncClient, jurisdiction: str, api_key: str | None = None) -> None:
        self.http = http
        self.jurisdiction = jurisdiction
        self.api_key = api_key
        self.base = ""

    async def discover(self) -> dict[str, Any]:
        answer = await self.http.get("/open311/v2/discovery.json")
        assert answer.status_code == 200, answer.text
        discovery: dict[str, Any] = answer.json()
        endpoint = next(e for e in discovery["endpoints"] if e["specification"].endswith("GeoReport_v2"))
        assert "application/json" in endpoint["formats"]
        self.base = httpx.URL(endpoint["url"]).path
        return discovery

    async def services(self) -> httpx.Response:
        return await self.http.get(f"{self.base}/services.json", params={"jurisdiction_id": self.jurisdiction})

    async def definition(self, code: str) -> httpx.Response:
        return await self.http.get(f"{self.base}/services/{code}.json", params={"jurisdiction_id": self.jurisdiction})

    async def post_form(self, **fields: Any) -> httpx.Response:
        """POST Service Request, form-encoded, as the specification's example does."""
        form = {"jurisdiction_id": self.jurisdiction, **({"api_key": self.api_key} if self.api_key else {}), **fields}
        return await self.http.post(f"{self.base}/requests.json", data=form)

    async def request(self, request_id: str, headers: dict[str, str]) -> httpx.Response:
        params = {"jurisdiction_id": self.jurisdiction}
        return await self.http.get(f"{self.base}/requests/{request_id}.json", params=params, headers=headers)

    async def requests(self, ids: list[str], headers: dict[str, str]) -> httpx.Response:
        params = {"jurisdiction_id": self.jurisdiction, "service_request_id": ",".join(ids)}
        return await self.http.get(f"{self.base}/requests.json", params=params, headers=headers)


def bearer(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


def open311_errors(answer: httpx.Response, code: int) -> list[str]:
    """The descriptions of an Open311 error answer, after checking its form and status."""
    assert answer.status_code == code, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    body = answer.json()
    assert isinstance(body, list) and body and all(set(e) == {"code", "description"} for e in body), body
    assert all(e["code"] == code for e in body)
    return [e["description"] for e in body]


async def police_for(platform: Platform, wk: str, bu: str) -> str:
    registered = await platform.data(
        platform.headers("coordinator"),
        "mutation($input: RegisterPartnerInput!) { registerPartner(input: $input) { partner { id } } }",
        input={
            "name": f"Wijkagent {bu}",
            "kind": "POLICE",
            "municipalities": [GM],
            "areas": [wk],
            "categories": ["VANDALISM"],
            "autoEscalate": ["VANDALISM"],
            "acknowledgeWithinMinutes": 60,
        },
    )
    police: str = registered["registerPartner"]["partner"]["id"]
    await platform.partner_known_to_signals(police)
    return police


async def test_a_civic_app_reports_with_lat_long_and_follows_the_request_until_closed(platform: Platform) -> None:
    wk, bu = fresh_area()
    police = await police_for(platform, wk, bu)
    resident = platform.headers("resident")
    app = GeoReportClient(platform.gateway, GM, api_key=bearer(resident))

    discovery = await app.discover()
    assert app.base == "/open311/v2" and discovery["changeset"]
    services = await app.services()
    assert services.status_code == 200
    by_code = {s["service_code"]: s for s in services.json()}
    assert len(by_code) == 9 and by_code["vandalism"]["service_name"] == "Vandalisme"
    assert by_code["vandalism"]["type"] == "realtime" and by_code["vandalism"]["metadata"] is True
    definition = await app.definition("vandalism")
    assert definition.status_code == 200
    assert [a["code"] for a in definition.json()["attributes"]] == ["area"]

    created = await app.post_form(
        service_code="vandalism",
        lat="52.4381",
        long="4.8262",
        description="Bushokje vernield",
        email="bewoner@example.org",
        **{"attribute[area]": bu},
    )
    assert created.status_code == 201, created.text
    [answer] = created.json()
    assert set(answer) == {"service_request_id", "service_notice", "account_id"}
    reference = answer["service_request_id"]
    assert reference.startswith("SIG-") and answer["account_id"] is None

    read = await app.request(reference, resident)
    assert read.status_code == 200, read.text
    [request] = read.json()
    assert request["service_request_id"] == reference and request["status"] == "open"
    assert request["service_code"] == "vandalism" and request["description"] == "Bushokje vernield"
    assert (request["lat"], request["long"]) == (52.4381, 4.8262)
    assert request["agency_responsible"] == f"Wijkagent {bu}"  # escalated at once: automatic for vandalism
    assert request["status_notes"] is None and request["requested_datetime"] == request["updated_datetime"]

    signal_id = (await platform.data(resident, "{ mySignals { nodes { id reference } } }"))["mySignals"]["nodes"]
    [signal] = [s for s in signal_id if s["reference"] == reference]
    system = platform.headers("integration", partner_id=police)
    resolved = await platform.gateway.post(
        f"/v1/signals/{signal['id']}/resolution", json={"feedback": "Bushokje is gerepareerd"}, headers=system
    )
    assert resolved.status_code == 200, resolved.text

    [after] = (await app.request(signal["id"], resident)).json()  # by id as well as by reference
    assert after["service_request_id"] == reference and after["status"] == "closed"
    assert after["status_notes"] == "Bushokje is gerepareerd"
    assert after["updated_datetime"] > after["requested_datetime"]


async def test_a_json_post_with_a_bearer_is_idempotent_and_a_duplicate_is_merged(platform: Platform) -> None:
    _, bu = fresh_area()
    resident = platform.headers("resident")
    app = GeoReportClient(platform.gateway, GM)
    await app.discover()
    body = {"jurisdiction_id": GM, "service_code": "litter_dumping", "description": "Afval bij de container"}
    body["attribute"] = {"area": bu}  # type: ignore[assignment]
    headers = {**resident, "Idempotency-Key": "open311-retry-1"}
    first = await platform.gateway.post("/open311/v2/requests.json", json=body, headers=headers)
    again = await platform.gateway.post("/open311/v2/requests.json", json=body, headers=headers)
    assert first.status_code == again.status_code == 201, (first.text, again.text)
    assert first.json()[0]["service_request_id"] == again.json()[0]["service_request_id"]

    neighbour = platform.headers("resident")
    other = {**body, "api_key": bearer(neighbour), "description": "Nog meer afval"}
    duplicate = await platform.gateway.post("/open311/v2/requests.json", json=other)
    assert duplicate.status_code == 201, duplicate.text
    assert "samengevoegd" in duplicate.json()[0]["service_notice"]

    mine = first.json()[0]["service_request_id"]
    theirs = duplicate.json()[0]["service_request_id"]
    coordinator = platform.headers("coordinator")
    both = await app.requests([theirs, mine], coordinator)
    assert both.status_code == 200, both.text
    assert [r["service_request_id"] for r in both.json()] == [theirs, mine]  # in the order asked
    assert [r["status"] for r in both.json()] == ["closed", "open"]  # merged is final
    only_mine = await app.requests([mine, theirs], resident)
    assert [r["service_request_id"] for r in only_mine.json()] == [mine]  # what the caller may see
    assert open311_errors(await app.request(theirs, resident), 404)


async def test_open311_errors_come_in_open311_form_with_the_status_of_their_code(platform: Platform) -> None:
    _, bu = fresh_area()
    resident = platform.headers("resident")
    base = "/open311/v2"
    form = {"jurisdiction_id": GM, "service_code": "vandalism", "description": "x", "attribute[area]": bu}

    assert open311_errors(await platform.gateway.post(f"{base}/requests.json", data=form), 401)
    bad_token = {**form, "api_key": "not-a-token"}
    assert open311_errors(await platform.gateway.post(f"{base}/requests.json", data=bad_token), 401)
    in_url = await platform.gateway.post(f"{base}/requests.json", params={"api_key": bearer(resident)}, data=form)
    assert "never in the URL" in open311_errors(in_url, 400)[0]
    missing = {k: v for k, v in form.items() if k != "jurisdiction_id"}
    assert (
        "jurisdiction_id"
        in open311_errors(await platform.gateway.post(f"{base}/requests.json", data=missing, headers=resident), 400)[0]
    )
    elsewhere = {**form, "jurisdiction_id": "GM0363", "service_code": "potholes"}
    assert open311_errors(await platform.gateway.post(f"{base}/requests.json", data=elsewhere, headers=resident), 404)
    wrong = {**form, "service_code": "potholes", "lat": "north"}
    described = open311_errors(await platform.gateway.post(f"{base}/requests.json", data=wrong, headers=resident), 400)
    assert len(described) == 2 and "service_code" in described[0] and "lat" in described[1]
    no_area = {k: v for k, v in form.items() if k != "attribute[area]"}
    area = open311_errors(await platform.gateway.post(f"{base}/requests.json", data=no_area, headers=resident), 400)
    assert any("attribute[area]" in d for d in area), area
    empty = {**form, "description": ""}
    text = open311_errors(await platform.gateway.post(f"{base}/requests.json", data=empty, headers=resident), 400)
    assert any(d.startswith("description") for d in text), text
    huge = {**form, "description": "x" * (1024 * 1024 + 1)}
    assert open311_errors(await platform.gateway.post(f"{base}/requests.json", data=huge, headers=resident), 413)

    assert open311_errors(await platform.gateway.get(f"{base}/services/potholes.json"), 404)
    assert open311_errors(await platform.gateway.get(f"{base}/services.json", params={"jurisdiction_id": "x"}), 400)
    assert open311_errors(await platform.gateway.get(f"{base}/requests.json", params={"jurisdiction_id": GM}), 401)
    no_jurisdiction = await platform.gateway.get(f"{base}/requests/SIG-2026-000001.json", headers=resident)
    assert "jurisdiction_id" in open311_errors(no_jurisdiction, 400)[0]
    other = await platform.gateway.get(
        f"{base}/requests/SIG-2026-000001.json", params={"jurisdiction_id": "GM0363"}, headers=resident
    )
    assert open311_errors(other, 404)
    unknown = await platform.gateway.get(
        f"{base}/requests/SIG-1999-000001.json", params={"jurisdiction_id": GM}, headers=resident
    )
    assert open311_errors(unknown, 404)


async def test_a_point_alone_lands_in_its_buurt_where_boundaries_are_loaded(platform: Platform) -> None:
    """reportSignal's own rule (CONTRACT.md "The neighbourhood"): without attribute[area] the
    loaded boundaries place the point; outside every boundary the area is asked for."""
    resident = platform.headers("resident")
    app = GeoReportClient(platform.gateway, GM, api_key=bearer(resident))
    await app.discover()
    poelenburg = {"lat": "52.436", "long": "4.848"}  # inside buurt Poelenburg on the demo kaart
    created = await app.post_form(service_code="traffic_safety", description="Drempel los", **poelenburg)
    assert created.status_code == 201, created.text
    reference = created.json()[0]["service_request_id"]
    mine = (await platform.data(resident, "{ mySignals { nodes { reference area } } }"))["mySignals"]["nodes"]
    assert {"reference": reference, "area": "BU04791210"} in mine
    dam = {"lat": "52.3731", "long": "4.8922"}  # Amsterdam: outside every loaded boundary
    outside = await app.post_form(service_code="traffic_safety", description="Drempel los", **dam)
    assert any("attribute[area]" in d for d in open311_errors(outside, 400))
