"""A real Apache Kafka broker (KRaft, one node that is broker and controller), started with `java`.

Its jars come from Maven Central through `mvn` and the committed `stack/kafka_pom.xml`, into
`.stack/kafka/libs` (resolved once, stamped). `KafkaBroker(root, port, controller_port)` works
for any folder and ports: the local stack runs one on 59092/59093 in `.stack/kafka`, tests start
their own for broker-restart tests.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from stack import STACK_DIR, say
from stack.proc import kill_hard, pid_alive, read_pid, tail, terminate

# The one pin of the Kafka version (the pom's default property must equal it; a test checks).
# 4.1.2: the newest 4.1.x; aiokafka 0.14 produces, consumes (consumer groups, classic protocol)
# and administers topics against it (checked by tests/stack/test_local_stack.py).
KAFKA_VERSION = "4.1.2"
POM = Path(__file__).resolve().parent / "kafka_pom.xml"
DEFAULT_LIBS_DIR = STACK_DIR / "kafka" / "libs"
_STAMP = ".resolved"

T = TypeVar("T")


def run_sync(factory: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to completion from sync code, also when the caller already runs a loop."""

    async def main() -> T:
        return await factory()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(main())
    box: dict[str, Any] = {}

    def worker() -> None:
        try:
            box["value"] = asyncio.run(main())
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=worker, name="stack-run-sync")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    value: T = box["value"]
    return value


def _apt_install(package: str) -> None:
    say(f"{package} missing: apt-get update && apt-get install -y {package}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", package], check=True, env=env)


def ensure_java() -> str:
    java = shutil.which("java")
    if java is None:
        _apt_install("openjdk-17-jre-headless")
        java = shutil.which("java")
    if java is None:
        raise RuntimeError("java not found")
    return java


def _stamp_text() -> str:
    return f"{KAFKA_VERSION}\n{hashlib.sha256(POM.read_bytes()).hexdigest()}\n"


def ensure_jars(libs_dir: Path = DEFAULT_LIBS_DIR, *, quiet: bool = False) -> Path:
    """Resolve the broker's class path into `libs_dir` once (skipped while the stamp matches)."""
    stamp = libs_dir / _STAMP
    if stamp.exists() and stamp.read_text() == _stamp_text():
        return libs_dir
    libs_dir.parent.mkdir(parents=True, exist_ok=True)
    with (libs_dir.parent / "libs.lock").open("a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stamp.exists() and stamp.read_text() == _stamp_text():
            return libs_dir
        ensure_java()
        if shutil.which("mvn") is None:
            _apt_install("maven")
        if not quiet:
            say(f"resolving Kafka {KAFKA_VERSION} jars with mvn into {libs_dir} (once)")
        staging = libs_dir.parent / f"libs.tmp-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        result = subprocess.run(
            [
                "mvn",
                "-q",
                "-B",
                "-f",
                str(POM),
                f"-Dkafka.version={KAFKA_VERSION}",
                "dependency:copy-dependencies",
                f"-DoutputDirectory={staging}",
                "-DincludeScope=runtime",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0 or not (staging / f"kafka_2.13-{KAFKA_VERSION}.jar").exists():
            shutil.rmtree(staging, ignore_errors=True)
            raise RuntimeError(f"mvn could not resolve the Kafka jars:\n{result.stdout}\n{result.stderr}")
        shutil.rmtree(libs_dir, ignore_errors=True)
        staging.rename(libs_dir)
        stamp.write_text(_stamp_text())
        if not quiet:
            say(f"resolved {sum(1 for _ in libs_dir.glob('*.jar'))} jars")
    return libs_dir


def _cluster_id() -> str:
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


_LOG4J2 = """\
# Written by stack/kafka.py; the broker logs to files only.
status = warn
name = wijkaanpak-kafka
appender.file.type = RollingFile
appender.file.name = file
appender.file.fileName = {logs}/server.log
appender.file.filePattern = {logs}/server.log.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d{{ISO8601}}] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 20MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 3
rootLogger.level = info
rootLogger.appenderRef.file.ref = file
logger.state.name = state.change.logger
logger.state.level = warn
logger.request.name = kafka.request.logger
logger.request.level = warn
logger.authorizer.name = kafka.authorizer.logger
logger.authorizer.level = warn
"""


class KafkaBroker:
    """One single-node KRaft Kafka: `ensure_jars()`, `format()`, `start()`, `stop()`, `kill()`."""

    def __init__(
        self,
        root: Path,
        port: int,
        controller_port: int,
        *,
        libs_dir: Path | None = None,
        heap: str = "512m",
        quiet: bool = False,
        extra_config: dict[str, str] | None = None,
    ) -> None:
        self.root = Path(root).resolve()
        self.port = port
        self.controller_port = controller_port
        self.libs_dir = libs_dir or DEFAULT_LIBS_DIR
        self.heap = heap
        self.quiet = quiet
        self.extra_config = dict(extra_config or {})
        self._proc: subprocess.Popen[bytes] | None = None

    # ----- locations -------------------------------------------------------------------------

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def config_file(self) -> Path:
        return self.root / "server.properties"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    @property
    def log_file(self) -> Path:
        return self.logs_dir / "server.log"

    @property
    def stdout_file(self) -> Path:
        return self.logs_dir / "stdout.log"

    @property
    def pid_file(self) -> Path:
        return self.root / "kafka.pid"

    def _log(self, message: str) -> None:
        if not self.quiet:
            say(message)

    # ----- setup -----------------------------------------------------------------------------

    def ensure_jars(self) -> Path:
        return ensure_jars(self.libs_dir, quiet=self.quiet)

    def config(self) -> dict[str, str]:
        config = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "log.dirs": str(self.data_dir),
            "num.partitions": "6",
            "default.replication.factor": "1",
            "min.insync.replicas": "1",
            "auto.create.topics.enable": "false",
            "delete.topic.enable": "true",
            "offsets.topic.replication.factor": "1",
            # Fewer internal partitions than the default 50: the first consumer group join
            # and the first transaction come quicker, which matters for tests' own brokers.
            "offsets.topic.num.partitions": "10",
            "transaction.state.log.num.partitions": "10",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "log.retention.hours": "168",
            "num.recovery.threads.per.data.dir": "2",
            # After a crash (kill()) the controller keeps the old broker registration until its
            # session times out (default 9 s) before the restarted broker may register again.
            "broker.heartbeat.interval.ms": "500",
            "broker.session.timeout.ms": "3000",
        }
        config.update(self.extra_config)
        return config

    def write_config(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.logs_dir.mkdir(exist_ok=True)
        lines = ["# Written by stack/kafka.py on every start; edit the code, not this file."]
        lines += [f"{key}={value}" for key, value in self.config().items()]
        self.config_file.write_text("\n".join(lines) + "\n")
        (self.root / "log4j2.properties").write_text(_LOG4J2.format(logs=self.logs_dir))

    def _java(self, main: str, *args: str, heap: str | None = None) -> list[str]:
        return [
            ensure_java(),
            f"-Xmx{heap or self.heap}",
            "-Xms128m",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-XX:+ExitOnOutOfMemoryError",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile=file:{self.root / 'log4j2.properties'}",
            f"-Dkafka.logs.dir={self.logs_dir}",
            "-cp",
            f"{self.libs_dir}/*",
            main,
            *args,
        ]

    def is_formatted(self) -> bool:
        return (self.data_dir / "meta.properties").exists()

    def format(self) -> None:
        """Format the log folder once (KRaft storage with a fresh cluster id)."""
        if self.is_formatted():
            return
        self.ensure_jars()
        self.write_config()
        self._log(f"formatting Kafka storage in {self.data_dir}")
        result = subprocess.run(
            self._java(
                "kafka.tools.StorageTool", "format", "-t", _cluster_id(), "-c", str(self.config_file), heap="256m"
            ),
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"kafka StorageTool format failed:\n{result.stdout}\n{result.stderr}")

    # ----- process ---------------------------------------------------------------------------

    def pid(self) -> int | None:
        pid = read_pid(self.pid_file)
        if pid is None:
            return None
        if self._proc is not None and self._proc.pid == pid:  # started by us: ask the child itself
            return pid if self._proc.poll() is None else None
        return pid if pid_alive(pid, marker=str(self.config_file)) else None

    def is_running(self) -> bool:
        return self.pid() is not None

    def start(self, *, wait: bool = True, timeout: float = 90) -> None:
        """Start in the background (no-op when this broker runs); with `wait`, until ready."""
        if not self.is_running():
            self.ensure_jars()
            self.write_config()
            self.format()
            self._log(f"starting Kafka {KAFKA_VERSION} on {self.bootstrap} (controller {self.controller_port})")
            with self.stdout_file.open("ab") as out:
                self._proc = subprocess.Popen(
                    self._java("kafka.Kafka", str(self.config_file)),
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    cwd=self.root,
                    start_new_session=True,
                )
            self.pid_file.write_text(f"{self._proc.pid}\n")
        if wait:
            self.wait_ready(timeout)

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        announced = time.monotonic()
        while True:
            if not self.is_running():
                code = self._proc.poll() if self._proc is not None else None
                raise RuntimeError(
                    f"Kafka on {self.bootstrap} exited during start-up (exit code {code}); "
                    f"{self.stdout_file}:\n{tail(self.stdout_file, 15)}\n{self.log_file}:\n{tail(self.log_file, 15)}"
                )
            if self.is_ready():
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kafka on {self.bootstrap} not ready after {timeout:.0f}s; see {self.log_file}")
            if time.monotonic() - announced > 10:
                self._log(f"waiting for Kafka on {self.bootstrap} ...")
                announced = time.monotonic()
            time.sleep(0.2)

    def stop(self, *, timeout: float = 30) -> None:
        """SIGTERM (controlled shutdown), SIGKILL after `timeout`. Data stays."""
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return
        self._log(f"stopping Kafka on {self.bootstrap}")
        terminate(pid, timeout=timeout, proc=self._proc if self._proc and self._proc.pid == pid else None)
        self.pid_file.unlink(missing_ok=True)
        self._proc = None

    def kill(self) -> None:
        """SIGKILL, as a crash would; the next start recovers the logs."""
        pid = self.pid()
        if pid is None:
            return
        kill_hard(pid, proc=self._proc if self._proc and self._proc.pid == pid else None)
        self.pid_file.unlink(missing_ok=True)
        self._proc = None

    def restart(self, *, timeout: float = 90) -> None:
        self.stop()
        self.start(timeout=timeout)

    def remove(self) -> None:
        """Stop and delete this broker's folder (for tests' own brokers)."""
        self.stop(timeout=10)
        shutil.rmtree(self.root, ignore_errors=True)

    # ----- readiness -------------------------------------------------------------------------

    def is_ready(self, timeout: float = 5.0) -> bool:
        """A metadata request answers and lists this broker (i.e. it is registered and unfenced)."""
        return run_sync(lambda: metadata_ready(self.bootstrap, timeout))


async def metadata_ready(bootstrap: str, timeout: float = 5.0) -> bool:
    from aiokafka.client import AIOKafkaClient

    host, _, port = bootstrap.rpartition(":")
    try:
        # A plain connect first: aiokafka logs every refused connection at ERROR level.
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), timeout)
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
    except (OSError, TimeoutError):
        return False
    client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout * 1000))
    try:
        await asyncio.wait_for(client.bootstrap(), timeout)
        return len(client.cluster.brokers()) > 0
    except Exception:
        return False
    finally:
        with contextlib.suppress(Exception):
            await client.close()
