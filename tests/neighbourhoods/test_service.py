"""The service's conventions: OpenAPI, health, metrics, and Idempotency-Key on creating POSTs."""

from __future__ import annotations

import pytest

from services.neighbourhoods.app import create_app
from tests.neighbourhoods.conftest import NeighbourhoodsApp, fresh_district, invalid, nbh_settings


async def test_openapi_health_and_metrics_answer_without_a_token(app: NeighbourhoodsApp) -> None:
    spec = (await app.client.get("/v1/openapi.json")).json()
    for path in ("/v1/areas/{code}", "/v1/area-at", "/v1/me/neighbourhoods/{code}", "/v1/messages", "/v1/initiatives",
                 "/v1/initiatives/{initiative_id}/leader-contact", "/v1/summary", "/v1/me/data", "/v1/me"):  # fmt: skip
        assert path in spec["paths"], path
    assert (await app.client.get("/healthz")).status_code == 200
    assert (await app.client.get("/readyz")).status_code == 200
    assert "wijkaanpak_outbox" in (await app.client.get("/metrics")).text


def test_the_service_refuses_to_start_without_the_resident_pseudonym_key(app: NeighbourhoodsApp) -> None:
    with pytest.raises(ValueError, match="RESIDENT_REF_KEY"):
        create_app(nbh_settings(app.infra, "neighbourhoods_nokey", resident_ref_key=""))


async def test_a_retried_post_with_the_same_idempotency_key_answers_the_first_result(app: NeighbourhoodsApp) -> None:
    district = fresh_district()
    h = {**app.headers("coordinator", sub="coordinator-idem"), "Idempotency-Key": f"post-{district}"}
    body = {"area": district, "kind": "event", "title": "Buurtfeest", "body": "Zaterdag op het plein."}
    first = await app.client.post("/v1/messages", json=body, headers=h)
    again = await app.client.post("/v1/messages", json=body, headers=h)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    other = await app.client.post("/v1/messages", json={**body, "title": "Anders"}, headers=h)
    assert other.status_code == 422
    listed = await app.client.get(f"/v1/messages?area={district}", headers=h)
    assert [m["id"] for m in listed.json()["results"]] == [first.json()["id"]]

    resident = {**app.headers("resident", sub="resident-idem"), "Idempotency-Key": f"start-{district}"}
    start = {"municipality": "GM0479", "area": district, "title": "Opruimen", "kind": "cleanup"}
    one = await app.client.post("/v1/initiatives", json=start, headers=resident)
    two = await app.client.post("/v1/initiatives", json=start, headers=resident)
    assert one.json()["id"] == two.json()["id"]


async def test_paging_arguments_are_checked(app: NeighbourhoodsApp) -> None:
    h = app.headers("resident")
    assert invalid(await app.client.get("/v1/messages?area=GM0479&first=0", headers=h)) == {"first"}
    assert invalid(await app.client.get("/v1/messages?area=GM0479&after=nonsense", headers=h)) == {"after"}
    assert invalid(await app.client.get("/v1/messages", headers=h)) == {"area"}
