"""PostGIS in the local stack: created by the superuser where a database is made, usable by a
service's own role (whose search_path is its own schema); the resident pseudonym key shared."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from stack.pg import PgServer
from stack.services import DEFAULT_PORTS, all_specs, port_of, service_env
from stack.testing import free_ports


def test_neighbourhoods_runs_on_8005_with_the_resident_ref_key_goals_has_too() -> None:
    specs = {s.name: s for s in all_specs()}
    assert DEFAULT_PORTS["neighbourhoods"] == 8005
    assert specs["neighbourhoods"].port == port_of("neighbourhoods")
    neighbourhoods, goals = service_env(specs["neighbourhoods"]), service_env(specs["goals"])
    assert neighbourhoods["NEIGHBOURHOODS_DATABASE_URL"].startswith("postgresql+asyncpg://neighbourhoods:")
    assert neighbourhoods["RESIDENT_REF_KEY"]
    assert neighbourhoods["RESIDENT_REF_KEY"] == goals["RESIDENT_REF_KEY"]
    assert neighbourhoods["RESIDENT_REF_KEY"] != neighbourhoods["SECRETS_KEY"]


@pytest.mark.slow
async def test_a_service_role_uses_postgis_the_stack_created(tmp_path: Path) -> None:
    (port,) = free_ports(1)
    server = PgServer(tmp_path / "pg", port, quiet=True)
    try:
        server.ensure_installed()
        server.start()
        if not server.ensure_postgis():
            pytest.fail("PostGIS is not installed on this machine (the stack installs it: stack.pg)")
        assert server.ensure_postgis()  # idempotent
        server.ensure_service_roles(["neighbourhoods"])
        conn = await asyncpg.connect(server.service_url("neighbourhoods").replace("+asyncpg", ""))
        try:
            await conn.execute(
                "CREATE TABLE shapes (boundary postgis.geometry(MultiPolygon, 4326));"
                " INSERT INTO shapes VALUES (postgis.ST_Multi(postgis.ST_GeomFromText("
                "'POLYGON((4.8 52.4, 4.9 52.4, 4.9 52.5, 4.8 52.5, 4.8 52.4))', 4326)))"
            )
            found = await conn.fetchval(
                "SELECT count(*) FROM shapes"
                " WHERE postgis.ST_Covers(boundary, postgis.ST_SetSRID(postgis.ST_MakePoint(4.84, 52.44), 4326))"
            )
            assert found == 1
        finally:
            await conn.close()
    finally:
        server.remove()


@pytest.mark.slow
async def test_the_neighbourhoods_role_migrates_and_loads_boundaries_without_superuser_rights(tmp_path: Path) -> None:
    from services.neighbourhoods.app import Settings
    from services.neighbourhoods.areas import DEMO_FILE, load_file

    (port,) = free_ports(1)
    server = PgServer(tmp_path / "pg", port, quiet=True)
    try:
        server.ensure_installed()
        server.start()
        if not server.ensure_postgis():
            pytest.fail("PostGIS is not installed on this machine (the stack installs it: stack.pg)")
        server.ensure_service_roles(["neighbourhoods"])
        settings = Settings(database_url=server.service_url("neighbourhoods"), resident_ref_key="k")
        assert await load_file(settings, DEMO_FILE) == 70
        conn = await asyncpg.connect(server.service_url("neighbourhoods").replace("+asyncpg", ""))
        try:
            found = await conn.fetchval(
                "SELECT code FROM areas WHERE postgis.ST_Covers(boundary,"
                " postgis.ST_SetSRID(postgis.ST_MakePoint(4.842619091336563, 52.4444505), 4326))"
            )
            assert found == "BU04791310"
        finally:
            await conn.close()
    finally:
        server.remove()
