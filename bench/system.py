"""The platform the benchmark sections share: started once on the local stack's PostgreSQL and
Kafka (a fresh database and topic prefix of this run, dropped afterwards), with a police
partner whose webhook points at a receiver in this process. Also: running the load generator
and summarising what it printed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.platform import Platform
from bench.receiver import Receiver, serving
from bench.report import percentile
from tests.support import create_database, drop_database

TARGET = "police"


@dataclass
class System:
    platform: Platform
    receiver: Receiver
    receiver_url: str


_current: System | None = None
_exit = contextlib.AsyncExitStack()


async def system(admin_url: str, bootstrap: str) -> System:
    """The running platform (started on first use)."""
    global _current
    if _current is not None:
        return _current
    name = f"wk_bench_{secrets.token_hex(3)}"
    database_url = await create_database(admin_url, name)
    _exit.push_async_callback(drop_database, admin_url, name)
    tmp = _exit.enter_context(tempfile.TemporaryDirectory(prefix="wk-bench-"))
    receiver = Receiver()
    receiver_url = await _exit.enter_async_context(serving(receiver))
    # a short retry schedule: the bench's receiver never fails, but a slow moment must not park a webhook
    env = {"NOTIFICATIONS_DELIVERY_RETRY_SCHEDULE": "0.5,1,2,4,8,16", "DB_POOL_SIZE": "20"}
    platform = Platform(database_url, bootstrap, Path(tmp) / "platform", env_overrides=env)
    _exit.push_async_callback(platform.stop)
    print("[bench] starting the five services and the gateway ...", flush=True)
    await platform.start()
    await platform.load_demo_areas()
    police = await platform.register_partner("Politie", kind="police", webhookUrl=f"{receiver_url}/hooks/{TARGET}")
    receiver.secrets[TARGET] = police["webhookSecret"]
    _current = System(platform, receiver, receiver_url)
    return _current


async def close() -> None:
    global _current
    _current = None
    await _exit.aclose()


async def run_load(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Run `python -m bench.load` with this spec to its end; its request lines."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.load", json.dumps(spec), stdout=asyncio.subprocess.PIPE
    )
    out, _ = await proc.communicate()
    if proc.returncode:
        raise RuntimeError(f"load generator exited with {proc.returncode}")
    return [line for line in map(json.loads, out.splitlines()) if line.get("k") == "r"]


@dataclass(frozen=True)
class Summary:
    ok: int
    failed: int
    rate: float  # accepted requests per second over the run
    p50: float
    p99: float
    p999: float

    @classmethod
    def of(cls, lines: list[dict[str, Any]], warmup: float = 0.0) -> Summary:
        """Figures of the requests sent after the first `warmup` seconds."""
        if not lines:
            return cls(0, 0, 0.0, float("nan"), float("nan"), float("nan"))
        first = min(r["t"] for r in lines) + warmup
        kept = [r for r in lines if r["t"] >= first]
        ok = [r for r in kept if r["ok"]]
        span = max(r["t"] + r["ms"] / 1000 for r in kept) - first if kept else 0.0
        ms = [r["ms"] for r in ok]
        return cls(
            len(ok),
            len(kept) - len(ok),
            len(ok) / span if span > 0 else 0.0,
            percentile(ms, 50),
            percentile(ms, 99),
            percentile(ms, 99.9),
        )
