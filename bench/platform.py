"""The whole platform as real processes: five services and the gateway, each `uvicorn --factory` on a
free port of 127.0.0.1, with the environment the local stack gives them, but schemas, topics,
consumer groups and signing keys of this run only, so nothing disturbs (or is disturbed by)
`make up` or another engineer's tests. A process can be killed with SIGKILL and started again.
The neighbourhoods service gets its areas with `load_demo_areas` (Zaanstad's CBS 2014 kaart, with
boundaries where the database has PostGIS, names and hierarchy only where not).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import httpx

from services.neighbourhoods.app import Settings as NeighbourhoodsSettings
from services.neighbourhoods.areas import DEMO_FILE, load_file
from shared.db import asyncpg_dsn
from shared.kafka import ensure_topics
from stack import REPO_ROOT
from stack.testing import free_ports
from tests.support import ISSUER, Infra, Keys, eventually

SERVICES = ("partners", "signals", "goals", "notifications", "neighbourhoods")
PROCESSES = (*SERVICES, "gateway")
# Reports of a run spread over these, so no two share (municipality, area, category): none merges.
MUNICIPALITIES = ["GM0479", "GM0453", "GM0363", "GM0599"]
PARTITIONS = 6  # of every topic of a run


def _module(name: str) -> str:
    return "gateway.app" if name == "gateway" else f"services.{name}.app"


@dataclass
class Process:
    name: str
    port: int
    popen: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen is not None and self.popen.poll() is None else None


@dataclass
class Platform:
    database_url: str  # SQLAlchemy URL of a role that may create schemas (each service gets its own)
    kafka: str
    workdir: Path
    receiver_url: str = ""
    env_overrides: dict[str, str] = field(default_factory=dict)
    run: str = field(default_factory=lambda: f"b{secrets.token_hex(3)}")
    processes: dict[str, Process] = field(default_factory=dict)
    partners: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> registration answer

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.keys = Keys.generate(self.workdir / "keys")
        self.prefix = f"{self.run}."
        self.infra = Infra("", self.database_url, self.kafka, self.prefix, self.keys, self.run)
        ports = free_ports(len(PROCESSES))
        self.processes = {name: Process(name, port) for name, port in zip(PROCESSES, ports, strict=True)}
        self.secrets_key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
        # one key for every service, as in the local stack: goals and neighbourhoods meet the same residents
        self.resident_ref_key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()

    # ----- processes -------------------------------------------------------------------------

    def schema(self, name: str) -> str:
        return f"{self.run}_{name}"

    def url(self, name: str) -> str:
        return self.processes[name].url

    def env(self, name: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "USER")}
        env.update(
            {
                "PYTHONPATH": str(REPO_ROOT),
                "PYTHONUNBUFFERED": "1",
                "WK_ENV": "local",
                "DATABASE_URL": self.database_url,
                "DB_SCHEMA": self.schema(name),
                "KAFKA_BOOTSTRAP_SERVERS": self.kafka,
                "TOPIC_PREFIX": self.prefix,
                "CONSUMER_GROUP_PREFIX": f"{self.run}.",
                "AUTH_JWKS_PATH": str(self.keys.jwks_path),
                "AUTH_ISSUER": ISSUER,
                "AUTH_AUDIENCE": "wijkaanpak",
                "SERVICE_TOKEN_KEY_PATH": str(self.keys.private_path),
                "SERVICE_TOKEN_KID": self.keys.kid,
                "SECRETS_KEY": self.secrets_key,
                "RESIDENT_REF_KEY": self.resident_ref_key,
                "WEBHOOK_ALLOWED_HOSTS": "127.0.0.1",
                "WEBHOOK_ALLOW_HTTP_ON_ALLOWED": "true",
                "PUBLIC_BASE_URL": self.url("gateway"),
                "LOG_REQUESTS": "false",
                "LOG_LEVEL": "WARNING",
                "GATEWAY_RATE_LIMIT_PER_SECOND": "1000000",
                "GATEWAY_RATE_LIMIT_BURST": "1000000",
                "NOTIFICATIONS_DELIVERY_POLL_SECONDS": "0.2",
            }
        )
        for service in SERVICES:
            env[f"SERVICE_URLS_{service.upper()}"] = self.url(service)
        env.update(self.env_overrides)
        return env

    def spawn(self, name: str) -> None:
        proc = self.processes[name]
        log = (self.workdir / f"{name}.log").open("ab")
        args = [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            f"{_module(name)}:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(proc.port),
            "--no-access-log",
            "--log-level",
            "warning",
        ]
        proc.popen = subprocess.Popen(
            args,
            env=self.env(name),
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        proc.starts += 1

    async def wait_ready(self, name: str, timeout: float = 90.0) -> float:
        """Seconds until `/readyz` answers 200 (raises with the log's tail when it does not)."""
        proc = self.processes[name]
        started = time.monotonic()
        async with httpx.AsyncClient(timeout=2.0) as client:
            while True:
                if proc.popen is None or proc.popen.poll() is not None:
                    raise RuntimeError(f"{name} exited during start-up:\n{self.log_tail(name)}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"{proc.url}/readyz")).status_code == 200:
                        return time.monotonic() - started
                if time.monotonic() - started > timeout:
                    raise RuntimeError(f"{name} not ready after {timeout:.0f}s:\n{self.log_tail(name)}")
                await asyncio.sleep(0.1)

    def log_tail(self, name: str, lines: int = 30) -> str:
        path = self.workdir / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def kill(self, name: str) -> None:
        """SIGKILL, as the kernel's OOM killer or a node failure would."""
        proc = self.processes[name]
        if proc.popen is not None and proc.popen.poll() is None:
            os.killpg(proc.popen.pid, signal.SIGKILL)
            proc.popen.wait()

    def terminate(self, name: str, timeout: float = 25.0) -> None:
        proc = self.processes[name]
        if proc.popen is None or proc.popen.poll() is not None:
            return
        os.killpg(proc.popen.pid, signal.SIGTERM)
        try:
            proc.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.popen.pid, signal.SIGKILL)
            proc.popen.wait()

    def rss_mb(self, name: str) -> float | None:
        pid = self.processes[name].pid
        if pid is None:
            return None
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return None

    async def start(self, names: tuple[str, ...] = PROCESSES) -> None:
        await ensure_topics(self.kafka, self.prefix, partitions=PARTITIONS)
        for name in names:
            self.spawn(name)
        await asyncio.gather(*(self.wait_ready(name) for name in names))

    async def stop(self) -> None:
        await asyncio.gather(*(asyncio.to_thread(self.terminate, name) for name in reversed(PROCESSES)))

    async def load_demo_areas(self) -> int:
        """Zaanstad's CBS 2014 kaart into this run's neighbourhoods schema; the number of areas loaded."""
        settings = NeighbourhoodsSettings(database_url=self.database_url, db_schema=self.schema("neighbourhoods"))
        return await load_file(settings, DEMO_FILE)

    # ----- callers ---------------------------------------------------------------------------

    def token(self, role: str, **kw: Any) -> str:
        return self.infra.token(role, MUNICIPALITIES, ttl=6 * 3600, **kw)

    def headers(self, role: str, **kw: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(role, **kw)}"}

    async def register_partner(self, name: str, **fields: Any) -> dict[str, Any]:
        """Register through the partners API and wait until signals and notifications know it."""
        body = {
            "name": f"{name} {self.run}",
            "municipalities": MUNICIPALITIES,
            "areas": MUNICIPALITIES,
            "categories": [
                "suspicious_situation",
                "burglary",
                "youth_nuisance",
                "drugs_nuisance",
                "noise_nuisance",
                "vandalism",
                "litter_dumping",
                "traffic_safety",
                "other",
            ],
            "acknowledgeWithinMinutes": 30,
            **fields,
        }
        async with httpx.AsyncClient(timeout=30) as client:
            r = await client.post(
                f"{self.url('partners')}/v1/partners", json=body, headers=self.headers("region_admin")
            )
            if r.status_code != 201:
                r = await client.post(
                    f"{self.url('partners')}/v1/partners", json=body, headers=self.headers("coordinator")
                )
        if r.status_code != 201:
            raise RuntimeError(f"registering {name}: {r.status_code} {r.text}")
        answer: dict[str, Any] = r.json()
        self.partners[name] = answer
        partner_id = UUID(answer["partner"]["id"] if "partner" in answer else answer["id"])
        await self.until_known(partner_id, "signals", "partners", "partner_id")
        if fields.get("webhookUrl"):
            await self.until_known(partner_id, "notifications", "channels", "partner_id")
        return answer

    async def until_known(self, partner_id: UUID, service: str, table: str, column: str) -> None:
        conn = await self.connect(service)
        try:

            async def known() -> bool:
                found = await conn.fetchval(f"SELECT 1 FROM {table} WHERE {column} = $1", partner_id)
                return found is not None

            await eventually(known, timeout=60, interval=0.2)
        finally:
            await conn.close()

    async def connect(self, service: str) -> asyncpg.Connection:
        conn: asyncpg.Connection = await asyncpg.connect(
            asyncpg_dsn(self.database_url), server_settings={"search_path": self.schema(service)}
        )
        return conn
