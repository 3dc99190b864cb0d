"""The local stack as a whole: `infra()`, `up()`, `down()`, `status()`. All idempotent."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from stack import (
    REPO_ROOT,
    SERVICE_NAMES,
    STACK_DIR,
    kafka_controller_port,
    kafka_port,
    pg_port,
    say,
    smtp_port,
    stack_lock,
)
from stack import services as svc
from stack.browser import ensure_chromium
from stack.kafka import KafkaBroker
from stack.keys import KEYS_DIR, ensure_dev_keys
from stack.pg import PgServer
from stack.proc import running_pid, spawn, tail, terminate
from stack.topics import ensure_topics, prune_finished_test_topics

READY_TIMEOUT = 90.0
MAIL_DIR = STACK_DIR / "mail"
LOGS_DIR = STACK_DIR / "logs"
RUN_DIR = STACK_DIR / "run"
SMTP_PID = RUN_DIR / "smtp.pid"
SMTP_MARKER = "stack.smtp"
DEMO_AREAS = REPO_ROOT / "services" / "neighbourhoods" / "data" / "cbs-2014-GM0479.geojson"


class StackError(RuntimeError):
    """Something did not come up; the message says what and shows the log's tail."""


def local_pg() -> PgServer:
    return PgServer(STACK_DIR / "pg", pg_port())


def local_kafka() -> KafkaBroker:
    # More heap than a test's own broker: the shared local broker carries every test session's
    # topics until they are pruned (512m ran out at ~16,000 partitions).
    heap = os.environ.get("WK_KAFKA_HEAP", "2g")
    return KafkaBroker(STACK_DIR / "kafka" / "broker", kafka_port(), kafka_controller_port(), heap=heap)


def external_infra() -> bool:
    return bool(os.environ.get("DATABASE_URL")) and bool(os.environ.get("KAFKA_BOOTSTRAP_SERVERS"))


def test_env() -> dict[str, str]:
    """What `make test` exports when the caller set nothing: the local stack's servers."""
    env = {}
    if not os.environ.get("DATABASE_URL"):
        env["DATABASE_URL"] = local_pg().admin_url
    if not os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        env["KAFKA_BOOTSTRAP_SERVERS"] = local_kafka().bootstrap
    return env


def _infra() -> None:
    ensure_dev_keys(KEYS_DIR)
    pg = local_pg()
    pg.ensure_installed(postgis=True)
    pg.init()
    pg.start()
    if not pg.ensure_postgis():
        say("PostGIS is not available: areas work on codes alone (no boundaries, areaAt answers null)")
    pg.ensure_service_roles(SERVICE_NAMES)
    say(f"PostgreSQL ready: {pg.admin_url}")
    kafka = local_kafka()
    try:
        kafka.start(timeout=180)  # recovery of many partitions after a crash takes a while
    except RuntimeError as exc:
        if not kafka.is_running():
            raise
        say(f"Kafka runs but does not answer ({str(exc).splitlines()[0]}); restarting it once")
        kafka.stop(timeout=30)
        kafka.start(timeout=180)
    say(f"Kafka ready: {kafka.bootstrap}")
    ensure_topics(kafka.bootstrap)
    databases = set(pg.psql("SELECT datname FROM pg_database WHERE datname LIKE 'wk\\_test\\_%'").split())
    prune_finished_test_topics(kafka.bootstrap, databases)


def infra(*, respect_external: bool = True) -> None:
    """PostgreSQL (database, roles, schemas) + Kafka (topics) + dev keys; no-op parts that run."""
    ensure_chromium()
    if respect_external and external_infra():
        ensure_dev_keys(KEYS_DIR)
        say("DATABASE_URL and KAFKA_BOOTSTRAP_SERVERS are set: using those, starting no servers")
        return
    with stack_lock():
        _infra()


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _start_smtp() -> None:
    port = smtp_port()
    if running_pid(SMTP_PID, SMTP_MARKER) is not None and _port_open(port):
        say(f"SMTP already running on 127.0.0.1:{port}")
        return
    say(f"starting SMTP on 127.0.0.1:{port} (mail to {MAIL_DIR})")
    log = LOGS_DIR / "smtp.log"
    proc = spawn(
        [sys.executable, "-m", "stack.smtp", "--port", str(port), "--dir", str(MAIL_DIR)],
        log_file=log,
        pid_file=SMTP_PID,
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    deadline = time.monotonic() + 15
    while not _port_open(port):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise StackError(f"SMTP server did not start; {log}:\n{tail(log)}")
        time.sleep(0.1)


def _wait_ready(specs: list[svc.ServiceSpec]) -> None:
    pending = list(specs)
    start = time.monotonic()
    announced = start
    while pending:
        for spec in list(pending):
            if svc.pid_of(spec) is None:
                raise StackError(f"{spec.name} exited during start-up; {spec.log_file}:\n{tail(spec.log_file)}")
            if svc.is_ready(spec):
                say(f"{spec.name} ready on {spec.base_url} ({time.monotonic() - start:.1f}s)")
                pending.remove(spec)
        if not pending:
            return
        if time.monotonic() - start > READY_TIMEOUT:
            spec = pending[0]
            raise StackError(
                f"{', '.join(s.name for s in pending)} not ready after {READY_TIMEOUT:.0f}s; "
                f"{spec.log_file}:\n{tail(spec.log_file)}"
            )
        if time.monotonic() - announced >= 5:
            say(f"waiting for /readyz of {', '.join(s.name for s in pending)} ...")
            announced = time.monotonic()
        time.sleep(0.3)


def _seed() -> None:
    if not svc.module_exists("services.partners.seed"):
        say("no seeding hook yet (services.partners.seed): skipped")
        return
    partners = next(s for s in svc.all_specs() if s.name == "partners")
    say("seeding the demo region (python -m services.partners.seed)")
    log = LOGS_DIR / "seed.log"
    with log.open("ab") as out:
        result = subprocess.run(
            [sys.executable, "-m", "services.partners.seed"],
            env=svc.service_env(partners),
            cwd=REPO_ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=180,
            check=False,
        )
    if result.returncode != 0:
        raise StackError(f"seeding failed ({result.returncode}); {log}:\n{tail(log)}")


def _load_demo_areas() -> None:
    """Zaanstad's wijken and buurten (CBS 2014) with their boundaries, unless already loaded."""
    if not svc.module_exists("services.neighbourhoods.areas"):
        return
    spec = next(s for s in svc.all_specs() if s.name == "neighbourhoods")
    say("loading the demo region's areas (python -m services.neighbourhoods.areas load --unless-loaded)")
    log = LOGS_DIR / "areas.log"
    with log.open("ab") as out:
        result = subprocess.run(
            [sys.executable, "-m", "services.neighbourhoods.areas", "load", "--unless-loaded", str(DEMO_AREAS)],
            env=svc.service_env(spec),
            cwd=REPO_ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=180,
            check=False,
        )
    if result.returncode != 0:
        raise StackError(f"loading the demo areas failed ({result.returncode}); {log}:\n{tail(log)}")


def _print_summary(running: list[svc.ServiceSpec]) -> None:
    say("the local stack is up:")
    names = {s.name for s in running}
    specs = {s.name: s for s in svc.all_specs()}
    if "gateway" in names:
        say(f"  gateway GraphQL  {specs['gateway'].base_url}/graphql")
    for name in SERVICE_NAMES:
        if name in names:
            say(f"  {name:<16} {specs[name].base_url}/v1/openapi.json")
    if not running:
        say("  no services exist yet (services/<name>/app.py, gateway/app.py): infra and SMTP only")
    pg, kafka = local_pg(), local_kafka()
    say(f"  PostgreSQL       {pg.admin_url}  (service roles <name>:<name>-dev; log {pg.log_file})")
    say(f"  Kafka            {kafka.bootstrap}  (log {kafka.log_file})")
    say(f"  SMTP             127.0.0.1:{smtp_port()}  mail in {MAIL_DIR}")
    say(f"  logs             {LOGS_DIR}")
    say("  a token:         make -s token ROLE=coordinator MUNICIPALITIES=GM0479")
    say("                   (ROLE=partner_agent|integration|group_admin also take PARTNER=<partner id>)")


def up() -> None:
    with stack_lock():
        _infra()
        _start_smtp()
        specs = [s for s in svc.all_specs() if s.exists()]
        missing = [s.module for s in svc.all_specs() if not s.exists()]
        if missing:
            say(f"not there yet, so not started: {', '.join(missing)}")
        starting: list[svc.ServiceSpec] = []
        for spec in specs:
            if svc.pid_of(spec) is not None:
                if svc.is_ready(spec):
                    say(f"{spec.name} already running on {spec.base_url}")
                else:
                    say(f"{spec.name} runs but is not ready yet; waiting for it")
                    starting.append(spec)
                continue
            say(f"starting {spec.name} on {spec.base_url} (log {spec.log_file})")
            svc.start(spec)
            starting.append(spec)
        _wait_ready(starting)
        if specs:
            _seed()
            _load_demo_areas()
        _print_summary(specs)


def down() -> None:
    with stack_lock():
        for spec in reversed(svc.all_specs()):
            if svc.stop(spec):
                say(f"stopped {spec.name}")
        pid = running_pid(SMTP_PID, SMTP_MARKER)
        if pid is not None:
            terminate(pid, timeout=10)
            say("stopped SMTP")
        SMTP_PID.unlink(missing_ok=True)
        local_kafka().stop()
        pg = local_pg()
        if pg.is_initialised():
            pg.stop()
        say("down; data stays in .stack/ for the next `make up`")


def status() -> int:
    """Print what runs; 0 when every part that exists is up."""
    ok = True
    pg, kafka = local_pg(), local_kafka()
    pg_up = pg.is_initialised() and pg.is_running()
    kafka_up = kafka.is_running() and kafka.is_ready()
    say(f"PostgreSQL {pg.admin_url}: {'up' if pg_up else 'down'}")
    say(f"Kafka {kafka.bootstrap}: {'up' if kafka_up else 'down'}")
    smtp_up = running_pid(SMTP_PID, SMTP_MARKER) is not None
    say(f"SMTP 127.0.0.1:{smtp_port()}: {'up' if smtp_up else 'down'}")
    ok = pg_up and kafka_up and smtp_up
    for spec in svc.all_specs():
        if not spec.exists():
            continue
        alive = svc.pid_of(spec) is not None
        ready = alive and svc.is_ready(spec)
        say(f"{spec.name} {spec.base_url}: {'ready' if ready else 'running, not ready' if alive else 'down'}")
        ok = ok and ready
    return 0 if ok else 1


def log_path(name: str) -> Path:
    return LOGS_DIR / f"{name}.log"
