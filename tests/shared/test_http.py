"""The HTTP conventions of every service, on a small app built only from shared/."""

from __future__ import annotations

import secrets
from typing import Annotated, ClassVar

from fastapi import APIRouter, Header
from pydantic import BaseModel, Field
from pydantic_settings import SettingsConfigDict

from shared import idempotency
from shared.auth import CurrentPrincipal, demand
from shared.errors import Conflict
from shared.http import create_service_app
from shared.runtime import RuntimeDep, ServiceRuntime
from shared.settings import ServiceSettings
from tests.support import Infra, serve


class DemoSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DEMO_")
    service_name: ClassVar[str] = "demo"


class Thing(BaseModel):
    name: str = Field(min_length=1, max_length=10)
    count: int = Field(ge=1)


router = APIRouter(prefix="/v1")


@router.post("/things", status_code=201)
async def create_thing(
    thing: Thing,
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> dict[str, object]:
    demand(principal, "coordinator", municipality="GM0479")
    if thing.name == "taken":
        raise Conflict("a thing with that name exists")
    async with runtime.uow() as uow:
        if idempotency_key:
            body_hash = idempotency.request_hash(thing.model_dump())
            stored = await idempotency.claim(uow.session, principal.sub, idempotency_key, body_hash)
            if stored is not None:
                return dict(stored.body)
        answer: dict[str, object] = {"id": secrets.token_hex(8), "name": thing.name}
        if idempotency_key:
            await idempotency.complete(uow.session, principal.sub, idempotency_key, 201, answer)
        await uow.commit()
    return answer


def demo_app(infra: Infra):  # type: ignore[no-untyped-def]
    settings = infra.settings(DemoSettings, db_schema=f"demo_{secrets.token_hex(3)}")
    runtime = ServiceRuntime(settings, configure_logs=False)
    return create_service_app(
        service="demo", title="demo", api_version="1.2.0", routers=[router],
        lifespan=runtime.lifespan(), readiness=runtime.readiness(),
    )  # fmt: skip


async def test_every_error_is_problem_json_with_every_invalid_field_at_once(infra: Infra) -> None:
    async with serve(demo_app(infra)) as client:
        headers = infra.headers("coordinator")
        r = await client.post("/v1/things", json={"name": "", "count": 0}, headers=headers)
        assert r.status_code == 400
        assert r.headers["content-type"] == "application/problem+json"
        body = r.json()
        assert body["code"] == "BAD_USER_INPUT" and body["status"] == 400
        assert {p["name"] for p in body["invalidParams"]} == {"name", "count"}

        r = await client.post("/v1/things", json={"name": "x", "count": 1})
        assert (r.status_code, r.json()["code"]) == (401, "UNAUTHENTICATED")
        r = await client.post("/v1/things", json={"name": "x", "count": 1}, headers=infra.headers("resident"))
        assert (r.status_code, r.json()["code"]) == (403, "FORBIDDEN")
        other = infra.headers("coordinator", ["GM0453"])
        r = await client.post("/v1/things", json={"name": "x", "count": 1}, headers=other)
        assert (r.status_code, r.json()["code"]) == (404, "NOT_FOUND")
        r = await client.post("/v1/things", json={"name": "taken", "count": 1}, headers=headers)
        assert (r.status_code, r.json()["code"]) == (409, "CONFLICT")
        r = await client.get("/v1/nothing-here")
        assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"


async def test_responses_carry_api_version_security_headers_and_trace_context(infra: Infra) -> None:
    async with serve(demo_app(infra)) as client:
        incoming = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        r = await client.get("/healthz", headers={"traceparent": incoming})
        assert r.status_code == 200
        assert r.headers["api-version"] == "1.2.0"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert "default-src 'none'" in r.headers["content-security-policy"]
        assert r.headers["traceparent"].split("-")[1] == "0af7651916cd43dd8448eb211c80319c"
        openapi = await client.get("/v1/openapi.json")
        assert openapi.status_code == 200 and "/v1/things" in openapi.json()["paths"]
        ready = await client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["checks"] == {"started": "ok", "database": "ok"}
        metrics = await client.get("/metrics")
        assert "wijkaanpak_http_request_seconds" in metrics.text


async def test_readyz_says_unavailable_when_the_database_is_unreachable(infra: Infra) -> None:
    settings = infra.settings(
        DemoSettings, database_url="postgresql+asyncpg://nobody:x@127.0.0.1:1/none", startup_wait_seconds=0.5
    )
    runtime = ServiceRuntime(settings, configure_logs=False)
    app = create_service_app(
        service="demo", title="demo", api_version="1", routers=[], lifespan=runtime.lifespan(),
        readiness=runtime.readiness(),
    )  # fmt: skip
    async with serve(app) as client:
        r = await client.get("/readyz")
        assert r.status_code == 503
        assert r.json()["checks"]["database"].startswith("unavailable")


async def test_readyz_stays_ready_while_load_holds_every_pooled_connection(infra: Infra) -> None:
    settings = infra.settings(DemoSettings, db_schema=f"demo_{secrets.token_hex(3)}", db_pool_size=1)
    runtime = ServiceRuntime(settings, configure_logs=False)
    app = create_service_app(
        service="demo", title="demo", api_version="1", routers=[], lifespan=runtime.lifespan(),
        readiness=runtime.readiness(),
    )  # fmt: skip
    async with serve(app) as client, runtime.db.engine.connect() as a, runtime.db.engine.connect() as b:
        await a.exec_driver_sql("SELECT 1")
        await b.exec_driver_sql("SELECT 1")  # pool_size 1 + overflow 1: the pool is exhausted
        r = await client.get("/readyz")
        assert r.status_code == 200 and r.json()["checks"]["database"] == "ok"


async def test_idempotency_key_replays_the_first_answer_and_refuses_another_body(infra: Infra) -> None:
    async with serve(demo_app(infra)) as client:
        headers = {**infra.headers("coordinator", sub="coord-1"), "Idempotency-Key": "key-1"}
        first = await client.post("/v1/things", json={"name": "a", "count": 1}, headers=headers)
        again = await client.post("/v1/things", json={"name": "a", "count": 1}, headers=headers)
        assert first.status_code == 201 and again.json() == first.json()
        other = await client.post("/v1/things", json={"name": "b", "count": 1}, headers=headers)
        assert other.status_code == 422 and other.json()["code"] == "BAD_USER_INPUT"
