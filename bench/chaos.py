"""`python -m bench.chaos [--short] [--only FAULT ...]`: fault injection on servers of its own.

A PostgreSQL and a Kafka broker of this run (free ports, a temp folder; never the local stack),
the five services and the gateway as uvicorn processes, and a partner's webhook receiver. Under
a steady load of reports (half acute: escalated at intake) and escalations (the other half, by
a coordinator), one fault at a time:

- `kill <service>`: SIGKILL of the process, then started again at once (as a supervisor would);
- `sigterm <service>`: SIGTERM under load, as a rolling update sends it; the process must exit
  within k8s' grace (`grace_seconds`, else SIGKILL and the row says so), then it is started again;
- `kafka stopped`: the broker stopped for `kafka_down_seconds`, then started;
- `postgres restarted`: `pg_ctl restart` (fast shutdown: every connection is cut);
- `postgres down`: PostgreSQL stopped for `pg_down_seconds` (60), then started: requests fail,
  consumers retry their batch, the relay and the sender wait;
- `receiver 500`: the partner's receiver answers 500 for `receiver_fail_seconds`.

After each, once the system is quiet, `bench.reconcile` counts what was lost or happened
twice. Recovery time: from the fault being lifted until every escalation accepted before that
moment has its webhook delivered and a request sent after it was accepted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any
from uuid import UUID

from bench.platform import MUNICIPALITIES, SERVICES, Platform
from bench.receiver import Receiver, serving
from bench.reconcile import Accepted, Findings, quiet_now, reconcile
from bench.report import RESULTS_DIR
from stack.kafka import KafkaBroker
from stack.pg import PgServer
from stack.testing import own_kafka_async, own_pg_async

FAULTS = (
    *(f"kill {name}" for name in (*SERVICES, "gateway")),
    *(f"sigterm {name}" for name in SERVICES),
    "kafka stopped",
    "postgres restarted",
    "postgres down",
    "receiver 500",
)
# Short intervals, so a fault's backlog clears in seconds. The retry schedule outlasts the
# receiver's longest 500 window (sum ~ 85 s), so a webhook is late but never given up.
ENV = {
    "NOTIFICATIONS_DELIVERY_RETRY_SCHEDULE": ",".join(["0.5", "1", "1", "2", "2"] + ["3"] * 25),
    "NOTIFICATIONS_WEBHOOK_TIMEOUT_SECONDS": "3",
    "NOTIFICATIONS_DELIVERY_LEASE_SECONDS": "6",
    "RETRY_INITIAL_SECONDS": "0.1",
    "RETRY_MAX_SECONDS": "1",
    "RELAY_POLL_SECONDS": "0.5",
    "DB_POOL_SIZE": "10",
}
TARGET = "police"


@dataclass(frozen=True)
class ChaosSettings:
    rate: float = 20.0  # reports per second; half of them get an escalation call after
    acute_share: float = 0.5
    before_seconds: float = 5.0
    after_seconds: float = 10.0
    kafka_down_seconds: float = 30.0
    pg_down_seconds: float = 60.0
    receiver_fail_seconds: float = 60.0
    quiet_timeout_seconds: float = 180.0
    grace_seconds: float = 25.0  # k8s' 30 s terminationGracePeriod minus the 5 s preStop
    faults: tuple[str, ...] = FAULTS


# The short form (make test): every fault for seconds; the gateway's and the neighbourhoods
# service's kills are left to `make chaos`, as the load does not pass through them (their restart
# costs the test time and proves nothing here).
SHORT = ChaosSettings(
    # a SIGTERM is a gentler kill and a PostgreSQL stop a longer restart: the short form keeps to the
    # kills and the restart (tests/shared/test_shutdown.py sends SIGTERM during a database outage)
    faults=tuple(
        f
        for f in FAULTS
        if f not in ("kill gateway", "kill neighbourhoods", "postgres down") and not f.startswith("sigterm")
    ),
    rate=8.0,
    before_seconds=2.0,
    after_seconds=2.0,
    kafka_down_seconds=3.0,
    receiver_fail_seconds=4.0,
    quiet_timeout_seconds=90.0,
)


@dataclass
class FaultResult:
    fault: str
    offered: float  # requests/s the load generator meant to send (reports + escalation calls)
    held: float  # requests/s accepted over the load's run
    accepted: int
    lost: int
    duplicated: int
    down_seconds: float
    recovery_seconds: float | None
    failed_attempts: int
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        drained = not self.details.get("killed_after_grace")
        recovered = self.recovery_seconds is not None
        return self.lost == 0 and self.duplicated == 0 and recovered and self.accepted > 0 and drained


@dataclass
class Chaos:
    platform: Platform
    receiver: Receiver
    pg: PgServer
    kafka: KafkaBroker
    settings: ChaosSettings
    exit_seconds: dict[str, float] = field(default_factory=dict)  # per sigterm fault: SIGTERM to exit

    async def inject(self, fault: str) -> None:
        """Cause the fault and return once it is lifted."""
        kind, _, what = fault.partition(" ")
        if kind == "kill":
            self.platform.kill(what)
            self.platform.spawn(what)
            await self.platform.wait_ready(what, timeout=120)
        elif kind == "sigterm":
            started = time.monotonic()
            await asyncio.to_thread(self.platform.terminate, what, self.settings.grace_seconds)
            self.exit_seconds[fault] = time.monotonic() - started
            self.platform.spawn(what)
            await self.platform.wait_ready(what, timeout=120)
        elif fault == "kafka stopped":
            await asyncio.to_thread(self.kafka.stop)
            await asyncio.sleep(self.settings.kafka_down_seconds)
            await asyncio.to_thread(self.kafka.start)
        elif fault == "postgres restarted":
            await asyncio.to_thread(self.pg.restart)
        elif fault == "postgres down":
            await asyncio.to_thread(self.pg.stop)
            await asyncio.sleep(self.settings.pg_down_seconds)
            await asyncio.to_thread(self.pg.start)
        elif fault == "receiver 500":
            self.receiver.fail_for(self.settings.receiver_fail_seconds)
            await asyncio.sleep(self.settings.receiver_fail_seconds)
        else:
            raise ValueError(f"unknown fault {fault!r}")

    async def recovered(self, accepted: Accepted, lifted: float) -> float:
        """Seconds from `lifted` until the escalations accepted before it arrived and new work is accepted."""
        while True:
            due = {s for s, at in accepted.escalations.items() if at <= lifted}
            delivered = {UUID(a.subject) for a in self.receiver.delivered() if a.event_type == "signal.escalated"}
            if due <= delivered and any(t >= lifted for t in accepted.ok_sent):
                return time.time() - lifted
            await asyncio.sleep(0.1)

    async def run_fault(self, index: int, fault: str) -> FaultResult:
        s = self.settings
        spec = {
            "mode": "report",
            "url": self.platform.url("signals"),
            "token": self.platform.token("coordinator"),
            "rate": s.rate,
            "duration": 0,
            "start": index * 40_000,
            "acute_share": s.acute_share,
            "escalate": True,
            "retry": True,
            "give_up_seconds": s.quiet_timeout_seconds,
            "municipalities": MUNICIPALITIES,
            "run": f"{self.platform.run}-{index}",
        }
        accepted = Accepted()
        load = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.load",
            json.dumps(spec),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        lines: list[dict[str, Any]] = []

        async def read() -> None:
            assert load.stdout is not None
            async for raw in load.stdout:
                line = json.loads(raw)
                lines.append(line)
                accepted.add(line)

        reader = asyncio.create_task(read())
        await asyncio.sleep(s.before_seconds)
        began = time.time()
        await self.inject(fault)
        lifted = time.time()
        watch = asyncio.create_task(self.recovered(accepted, lifted))
        await asyncio.sleep(s.after_seconds)
        assert load.stdin is not None
        load.stdin.close()
        await asyncio.wait_for(reader, timeout=s.quiet_timeout_seconds + 30)
        await load.wait()
        deadline = time.monotonic() + s.quiet_timeout_seconds
        while not await _quiet(self.platform) and time.monotonic() < deadline:  # noqa: ASYNC110 (polling servers)
            await asyncio.sleep(0.5)
        recovery: float | None
        try:
            recovery = await asyncio.wait_for(watch, timeout=max(1.0, deadline - time.monotonic()))
        except TimeoutError:
            recovery = None
        findings = await reconcile(self.platform, self.receiver, accepted, TARGET)
        result = _result(fault, s, lines, accepted, findings, lifted - began, recovery)
        if fault in self.exit_seconds:
            took = self.exit_seconds[fault]
            result.details["exit_seconds"] = round(took, 1)
            if took >= s.grace_seconds:  # terminate() had to SIGKILL it: the drain outlasted the grace
                result.details["killed_after_grace"] = True
        return result


async def _quiet(platform: Platform) -> bool:
    try:
        return await quiet_now(platform)
    except Exception:  # a server still coming back: not quiet yet
        return False


def _result(
    fault: str,
    s: ChaosSettings,
    lines: list[dict[str, Any]],
    accepted: Accepted,
    findings: Findings,
    down: float,
    recovery: float | None,
) -> FaultResult:
    requests = [line for line in lines if line.get("k") == "r"]
    ok = [line for line in requests if line["ok"]]
    span = (max(r["t"] + r["ms"] / 1000 for r in requests) - min(r["t"] for r in requests)) if requests else 0.0
    return FaultResult(
        fault=fault,
        offered=s.rate * (1 + (1 - s.acute_share)),
        held=len(ok) / span if span else 0.0,
        accepted=len(ok),
        lost=findings.lost,
        duplicated=findings.duplicated,
        down_seconds=down,
        recovery_seconds=recovery,
        failed_attempts=sum(r["tries"] - 1 for r in requests) + accepted.failed,
        details=findings.details(),
    )


def table(results: list[FaultResult], started: str) -> str:
    head = (
        f"{'fault':<22} {'load held (req/s)':>17} {'accepted':>9} {'lost':>5} {'duplicated':>10}"
        f" {'down (s)':>9} {'recovery (s)':>12} {'retried':>8}"
    )
    lines = [head, "-" * len(head)]
    for r in results:
        recovery = f"{r.recovery_seconds:.1f}" if r.recovery_seconds is not None else "never"
        lines.append(
            f"{r.fault:<22} {r.held:>8.1f} of {r.offered:>5.1f} {r.accepted:>9} {r.lost:>5} {r.duplicated:>10}"
            f" {r.down_seconds:>9.1f} {recovery:>12} {r.failed_attempts:>8}"
        )
    load = [round(x, 2) for x in os.getloadavg()]
    lines.append(f"machine: {os.cpu_count()} cores, load average {load}, started {started}")
    lines.append("accepted = reports answered 201 + escalations accepted; retried = attempts the clients repeated")
    lines.append("down = from the fault to its lifting; recovery = from then until every earlier escalation arrived")
    return "\n".join(lines)


@contextlib.asynccontextmanager
async def chaos_platform(root: Path) -> AsyncIterator[tuple[Platform, Receiver, PgServer, KafkaBroker]]:
    """PostgreSQL, Kafka, the platform and a receiver registered as a police partner's webhook."""
    async with own_pg_async(root / "pg") as pg, own_kafka_async(root / "kafka") as kafka:
        receiver = Receiver()
        async with serving(receiver) as receiver_url:
            platform = Platform(pg.admin_url, kafka.bootstrap, root / "platform", env_overrides=ENV)
            try:
                await platform.start()
                police = await platform.register_partner(
                    "Politie", kind="police", webhookUrl=f"{receiver_url}/hooks/{TARGET}"
                )
                receiver.secrets[TARGET] = police["webhookSecret"]
                yield platform, receiver, pg, kafka
            finally:
                await platform.stop()


async def run_chaos(settings: ChaosSettings, root: Path, *, echo: bool = True) -> list[FaultResult]:
    results: list[FaultResult] = []
    async with chaos_platform(root) as (platform, receiver, pg, kafka):
        chaos = Chaos(platform, receiver, pg, kafka, settings)
        for index, fault in enumerate(settings.faults):
            if echo:
                print(f"[chaos] {fault} ...", flush=True)
            result = await chaos.run_fault(index, fault)
            if echo:
                print(
                    f"[chaos] {fault}: accepted {result.accepted}, lost {result.lost}, duplicated"
                    f" {result.duplicated}, recovery {result.recovery_seconds}",
                    flush=True,
                )
            results.append(result)
    return results


async def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.chaos", description=__doc__.split("\n")[0])
    parser.add_argument("--short", action="store_true", help="seconds-long faults (what make test runs)")
    parser.add_argument("--only", nargs="*", choices=FAULTS, help="run only these faults")
    args = parser.parse_args(argv)
    settings = SHORT if args.short else ChaosSettings()
    if args.only:
        settings = replace(settings, faults=tuple(args.only))
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    with tempfile.TemporaryDirectory(prefix="wk-chaos-") as tmp:
        results = await run_chaos(settings, Path(tmp))
    print()
    print(table(results, started))
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"chaos-{time.strftime('%Y%m%dT%H%M%S')}.json"
    path.write_text(
        json.dumps(
            {"started": started, "settings": asdict(settings), "results": [asdict(r) for r in results]},
            indent=2,
            default=str,
        )
    )
    print(f"results: {path}")
    return 0 if all(r.clean for r in results) else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
