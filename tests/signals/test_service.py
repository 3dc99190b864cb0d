"""The service's HTTP conventions: OpenAPI without auth, API-Version, health and readiness."""

from __future__ import annotations

from tests.signals.conftest import SignalsApp


async def test_openapi_is_served_without_auth_and_lists_the_signal_endpoints(app: SignalsApp) -> None:
    r = await app.client.get("/v1/openapi.json")
    assert r.status_code == 200 and r.headers["api-version"] == "1.0.0"
    paths = r.json()["paths"]
    for path in (
        "/v1/signals",
        "/v1/signals/mine",
        "/v1/signals/{signal_id}",
        "/v1/signals/{signal_id}/escalation",
        "/v1/signals/{signal_id}/acknowledgement",
        "/v1/signals/{signal_id}/resolution",
        "/v1/signals/{signal_id}/rejection",
        "/v1/signals/{signal_id}/merge",
        "/v1/signals/{signal_id}/reclassification",
        "/v1/signals/{signal_id}/reopening",
        "/internal/v1/signals/{signal_id}/contacts",
    ):
        assert path in paths


async def test_ready_when_migrated_and_the_database_answers(app: SignalsApp) -> None:
    r = await app.client.get("/readyz")
    assert r.status_code == 200 and r.json()["checks"] == {"started": "ok", "database": "ok"}


async def test_an_unknown_signal_is_not_found_as_problem_json(app: SignalsApp) -> None:
    r = await app.client.get("/v1/signals/0b0e9a3e-0000-4000-8000-000000000000", headers=app.headers("coordinator"))
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
    assert (await app.client.get("/v1/signals/not-a-uuid", headers=app.headers("coordinator"))).status_code == 404
