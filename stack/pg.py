"""A real PostgreSQL server from the OS packages, run as the `postgres` user, in a folder of our own.

`PgServer(root, port)` works for any root and port: the local stack uses `.stack/pg` on 55432,
tests start their own in a temp folder (restart and outage tests). initdb refuses to run as
root, so as root every server command goes through `runuser -u postgres --`; the data folder is
owned by `postgres`. When `postgres` cannot reach `root` (a checkout under a private home, a
pytest tmp dir), the data lives in `/var/tmp/wijkaanpak-<hash of root>/` instead.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from stack import say

SUPERUSER = "wijkaanpak"
SUPERUSER_PASSWORD = "wijkaanpak-dev"
DATABASE = "wijkaanpak"

# Where PostGIS is created (local stack, test databases, k8s): its own schema, usable by every role.
POSTGIS_SQL = (
    "CREATE SCHEMA IF NOT EXISTS postgis; GRANT USAGE ON SCHEMA postgis TO PUBLIC;"
    " CREATE EXTENSION IF NOT EXISTS postgis WITH SCHEMA postgis"
)

_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

# Static tuning, written once into postgresql.conf; port, socket folder and listen address are
# given on every start, so one data folder can be started on whatever port its PgServer has.
_TUNING = """
# --- wijkaanpak local stack / tests ---
max_connections = 300
fsync = on                      # durability is tested: never off
synchronous_commit = on
shared_buffers = 128MB
timezone = 'UTC'
log_timezone = 'UTC'
log_line_prefix = '%m [%p] %u@%d '
log_min_duration_statement = -1
"""


def _is_root() -> bool:
    return os.geteuid() == 0


def find_bin_dir() -> Path | None:
    """The folder holding initdb/pg_ctl/psql: from PATH, else the newest /usr/lib/postgresql/*/bin."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    candidates = glob.glob("/usr/lib/postgresql/*/bin/initdb")

    def version(path: str) -> float:
        try:
            return float(Path(path).parent.parent.name)
        except ValueError:
            return 0.0

    if candidates:
        return Path(max(candidates, key=version)).parent
    return None


class PgServer:
    """One PostgreSQL cluster: `ensure_installed()`, `init()`, `start()`, `stop()`, `restart()`."""

    def __init__(self, root: Path, port: int, *, quiet: bool = False) -> None:
        self.requested_root = Path(root).resolve()
        self.port = port
        self.quiet = quiet
        self._bin: Path | None = None
        self._root: Path | None = None

    # ----- locations -------------------------------------------------------------------------

    @property
    def root(self) -> Path:
        """Where the data actually lives (the requested root, or its /var/tmp fallback)."""
        if self._root is None:
            self._root = self._choose_root()
        return self._root

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root / "socket"

    @property
    def log_file(self) -> Path:
        return self.root / "postgres.log"

    @property
    def bin_dir(self) -> Path:
        if self._bin is None:
            self._bin = find_bin_dir()
            if self._bin is None:
                raise RuntimeError("PostgreSQL is not installed; call ensure_installed() first")
        return self._bin

    @property
    def admin_url(self) -> str:
        """SQLAlchemy URL of the superuser on the `wijkaanpak` database."""
        return self.url(SUPERUSER, SUPERUSER_PASSWORD)

    @property
    def admin_dsn(self) -> str:
        """The same as a plain libpq/asyncpg DSN."""
        return self.url(SUPERUSER, SUPERUSER_PASSWORD, driver="postgresql")

    def url(self, user: str, password: str, *, database: str = DATABASE, driver: str = "postgresql+asyncpg") -> str:
        return f"{driver}://{user}:{password}@127.0.0.1:{self.port}/{database}"

    def service_url(self, name: str) -> str:
        """URL of the per-service role made by `ensure_service_roles` (password `<name>-dev`)."""
        return self.url(name, f"{name}-dev")

    def _log(self, message: str) -> None:
        if not self.quiet:
            say(message)

    def _choose_root(self) -> Path:
        root = self.requested_root
        if not _is_root():
            return root
        root.mkdir(parents=True, exist_ok=True)
        if self._postgres_can_reach(root):
            return root
        digest = hashlib.sha256(str(root).encode()).hexdigest()[:12]
        fallback = Path(f"/var/tmp/wijkaanpak-{digest}")  # noqa: S108 (fixed name: found again next run)
        self._log(f"postgres user cannot traverse {root}; PostgreSQL data goes to {fallback} instead")
        return fallback

    @staticmethod
    def _postgres_can_reach(path: Path) -> bool:
        if shutil.which("runuser") is None:
            return False
        try:
            result = subprocess.run(
                ["runuser", "-u", "postgres", "--", "test", "-x", str(path)],
                capture_output=True,
                cwd="/",
                check=False,
            )
        except OSError:
            return False
        return result.returncode == 0

    # ----- commands --------------------------------------------------------------------------

    def _as_postgres(self, args: Sequence[str]) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *args] if _is_root() else list(args)

    def _run(
        self, args: Sequence[str], *, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            self._as_postgres(args), capture_output=True, text=True, cwd="/", timeout=timeout, check=False
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed ({result.returncode}):\n{result.stdout}{result.stderr}")
        return result

    def ensure_installed(self, *, postgis: bool = False) -> None:
        """Find the server binaries; install Debian's `postgresql` when there are none (and, with
        `postgis`, its PostGIS package when that is missing)."""
        if find_bin_dir() is None:
            self._log("PostgreSQL not found: apt-get update && apt-get install -y postgresql (takes a minute)")
            env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
            subprocess.run(["apt-get", "update"], check=True, env=env)
            subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", "postgresql"], check=True, env=env)
        self._bin = find_bin_dir()
        if self._bin is None:
            raise RuntimeError("initdb still not found after installing postgresql")
        if postgis and not self.postgis_installed():
            self._install_postgis()

    @property
    def major_version(self) -> str:
        """The major version, from Debian's layout: "15" for /usr/lib/postgresql/15/bin."""
        return self.bin_dir.parent.name

    def postgis_installed(self) -> bool:
        return Path(f"/usr/share/postgresql/{self.major_version}/extension/postgis.control").exists()

    def _install_postgis(self) -> None:
        """Debian's `postgresql-<major>-postgis-3`; without it the services work on area codes alone."""
        if not self.major_version.isdigit():
            self._log(f"PostGIS not found and {self.bin_dir} is not Debian's layout: areas work on codes alone")
            return
        package = f"postgresql-{self.major_version}-postgis-3"
        self._log(f"PostGIS not found: apt-get install -y {package} (takes a minute)")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = ["apt-get", "install", "-y", "--no-install-recommends", package]
        try:
            if subprocess.run(install, env=env, check=False).returncode != 0:
                subprocess.run(["apt-get", "update"], check=True, env=env)
                subprocess.run(install, check=True, env=env)
        except (OSError, subprocess.CalledProcessError) as exc:
            self._log(f"PostGIS could not be installed ({exc}); areas work on codes alone, without boundaries")

    def is_initialised(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def init(self) -> None:
        """initdb once: superuser `wijkaanpak` with a password, scram auth, our tuning."""
        if self.is_initialised():
            return
        self._log(f"initialising PostgreSQL data in {self.data_dir}")
        root = self.root
        root.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(exist_ok=True)
        pwfile = root / "pwfile"
        pwfile.write_text(SUPERUSER_PASSWORD + "\n")
        pwfile.chmod(0o600)
        if _is_root():
            shutil.chown(root, "postgres", "postgres")
            for path in (self.socket_dir, pwfile):
                shutil.chown(path, "postgres", "postgres")
        if self.data_dir.exists() and not any(self.data_dir.iterdir()):
            self.data_dir.rmdir()
        locale = "C.UTF-8" if self._has_c_utf8() else "C"
        try:
            self._run(
                [
                    str(self.bin_dir / "initdb"),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    SUPERUSER,
                    f"--pwfile={pwfile}",
                    "--auth-local=scram-sha-256",
                    "--auth-host=scram-sha-256",
                    "--encoding=UTF8",
                    f"--locale={locale}",
                ]
            )
        finally:
            pwfile.unlink(missing_ok=True)
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write(_TUNING)

    @staticmethod
    def _has_c_utf8() -> bool:
        try:
            out = subprocess.run(["locale", "-a"], capture_output=True, text=True, check=False).stdout
        except OSError:
            return False
        return any(line.strip().lower() in ("c.utf8", "c.utf-8") for line in out.splitlines())

    def is_running(self) -> bool:
        if not self.is_initialised():
            return False
        result = self._run([str(self.bin_dir / "pg_ctl"), "status", "-D", str(self.data_dir)], check=False)
        return result.returncode == 0

    def start(self, *, timeout: float = 60) -> None:
        """Start (no-op when running), wait until it accepts connections, ensure the database."""
        if not self.is_initialised():
            self.init()
        if not self.is_running():
            self._log(f"starting PostgreSQL on 127.0.0.1:{self.port}")
            self._run(
                [
                    str(self.bin_dir / "pg_ctl"),
                    "start",
                    "-D",
                    str(self.data_dir),
                    "-l",
                    str(self.log_file),
                    "-w",
                    "-t",
                    str(int(timeout)),
                    "-o",
                    f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1",
                ],
                timeout=timeout + 10,
            )
        self._wait_tcp(timeout)
        self.ensure_database(DATABASE)

    def stop(self, *, timeout: float = 60) -> None:
        """`pg_ctl stop -m fast`: disconnect clients, checkpoint, exit. Data stays."""
        if not self.is_running():
            return
        self._log(f"stopping PostgreSQL on port {self.port}")
        self._run(
            [
                str(self.bin_dir / "pg_ctl"),
                "stop",
                "-D",
                str(self.data_dir),
                "-m",
                "fast",
                "-w",
                "-t",
                str(int(timeout)),
            ],
            timeout=timeout + 10,
        )

    def restart(self) -> None:
        self.stop()
        self.start()

    def postmaster_pid(self) -> int | None:
        try:
            return int((self.data_dir / "postmaster.pid").read_text().splitlines()[0])
        except (FileNotFoundError, IndexError, ValueError, PermissionError):
            return None

    def kill(self) -> None:
        """SIGKILL the postmaster (crash tests); the next start runs crash recovery."""
        pid = self.postmaster_pid()
        if pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        # Orphaned backends exit on their own once the postmaster is gone; wait for the port.
        while time.monotonic() < deadline and self._port_open():
            time.sleep(0.05)

    def remove(self) -> None:
        """Stop and delete the data folder (for tests' own servers)."""
        with contextlib.suppress(Exception):
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    # ----- SQL -------------------------------------------------------------------------------

    def _port_open(self) -> bool:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.5)
            return sock.connect_ex(("127.0.0.1", self.port)) == 0

    def _wait_tcp(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not self._port_open():
            if time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL does not accept connections on {self.port}; see {self.log_file}")
            time.sleep(0.1)

    def psql(self, sql: str, *, database: str = "postgres") -> str:
        """Run SQL as the superuser over TCP; returns unaligned tuples-only output."""
        env = {**os.environ, "PGPASSWORD": SUPERUSER_PASSWORD, "PGCONNECT_TIMEOUT": "10"}
        result = subprocess.run(
            [
                str(self.bin_dir / "psql"),
                "-X",
                "-q",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                SUPERUSER,
                "-d",
                database,
                "-c",
                sql,
            ],
            capture_output=True,
            text=True,
            env=env,
            check=False,
            timeout=60,
        )
        if result.returncode != 0:
            raise RuntimeError(f"psql failed: {result.stderr.strip()}\nSQL: {sql}")
        return result.stdout.strip()

    def ensure_database(self, name: str = DATABASE) -> None:
        _check_ident(name)
        if self.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'") != "1":
            self.psql(f'CREATE DATABASE "{name}"')

    def ensure_postgis(self, database: str = DATABASE) -> bool:
        """`CREATE EXTENSION postgis` (as the superuser) when the server has it; False when not.

        It lives in a schema `postgis` every role may use, so services' migrations (run as their own
        role, whose search_path is their own schema) can name `postgis.geometry`.
        """
        _check_ident(database)
        if self.psql("SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'", database=database) != "1":
            return False
        self.psql(POSTGIS_SQL, database=database)
        return True

    def ensure_service_roles(self, names: Iterable[str], *, database: str = DATABASE) -> None:
        """One login role and one schema per service; the role owns its schema and nothing else.

        Password `<name>-dev`. `public` is closed to everyone, so a service cannot reach another's
        tables nor park its own outside its schema. Idempotent.
        """
        statements = ["REVOKE ALL ON SCHEMA public FROM PUBLIC"]
        for name in names:
            _check_ident(name)
            statements += [
                f"DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{name}') "
                f'THEN CREATE ROLE "{name}"; END IF; END $$',
                f"ALTER ROLE \"{name}\" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD '{name}-dev'",
                f'CREATE SCHEMA IF NOT EXISTS "{name}" AUTHORIZATION "{name}"',
                f'ALTER SCHEMA "{name}" OWNER TO "{name}"',
                f'REVOKE ALL ON SCHEMA "{name}" FROM PUBLIC',
                f'ALTER ROLE "{name}" IN DATABASE "{database}" SET search_path = "{name}"',
            ]
        self.psql("; ".join(statements), database=database)


def _check_ident(name: str) -> None:
    if not _IDENT.match(name):
        raise ValueError(f"not a plain SQL identifier: {name!r}")
