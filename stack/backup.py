"""Point-in-time backup and restore of a local PostgreSQL: the restore drill the suite runs.

The same mechanism CloudNativePG uses in production (deploy/k8s/README.md "Restore"): a base
backup plus archived WAL, replayed into a fresh data folder up to a target time. Here the archive
is a folder (`archive_command = cp`), so the drill runs on any machine with the OS packages.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from stack.pg import SUPERUSER, SUPERUSER_PASSWORD, PgServer, _is_root


def _own(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    if _is_root():
        shutil.chown(path, "postgres", "postgres")


def _as_postgres(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if _is_root() else args


def archive_dir(server: PgServer) -> Path:
    return server.root / "wal-archive"


def enable_archiving(server: PgServer) -> Path:
    """WAL archiving into `<root>/wal-archive` (restarts the server). Returns the archive folder."""
    archive = archive_dir(server)
    _own(archive)
    with (server.data_dir / "postgresql.conf").open("a") as conf:
        conf.write(
            "\n# --- point-in-time recovery (stack.backup) ---\n"
            "wal_level = replica\n"
            "archive_mode = on\n"
            f"archive_command = 'test ! -f {archive}/%f && cp %p {archive}/%f'\n"
        )
    server.restart()
    return archive


def base_backup(server: PgServer, name: str = "base") -> Path:
    """`pg_basebackup` of the whole cluster into `<root>/<name>` (WAL fetched with it)."""
    target = server.root / name
    if target.exists():
        shutil.rmtree(target)
    _own(server.root)
    env = {**os.environ, "PGPASSWORD": SUPERUSER_PASSWORD}
    args = [
        str(server.bin_dir / "pg_basebackup"),
        "-h", "127.0.0.1", "-p", str(server.port), "-U", SUPERUSER,
        "-D", str(target), "-X", "fetch", "--checkpoint=fast",
    ]  # fmt: skip
    result = subprocess.run(_as_postgres(args), capture_output=True, text=True, env=env, cwd="/", check=False)
    if result.returncode != 0:
        raise RuntimeError(f"pg_basebackup failed: {result.stderr.strip()}")
    return target


def archive_current_wal(server: PgServer) -> str:
    """Close the current WAL segment so it is archived; returns its file name."""
    return server.psql("SELECT pg_walfile_name(pg_switch_wal())")


def archived(server: PgServer, wal_file: str) -> bool:
    return (archive_dir(server) / wal_file).exists()


def restore(backup: Path, archive: Path, target_time: str, into: PgServer) -> PgServer:
    """A fresh data folder for `into` from `backup`, replaying `archive` up to `target_time`
    (exclusive of later commits), then promoted. Starts `into` and returns it."""
    if into.data_dir.exists():
        shutil.rmtree(into.data_dir)
    _own(into.root)
    shutil.copytree(backup, into.data_dir, symlinks=True)
    (into.data_dir / "recovery.signal").touch()
    with (into.data_dir / "postgresql.auto.conf").open("a") as conf:
        conf.write(
            f"restore_command = 'cp {archive}/%f %p'\n"
            f"recovery_target_time = '{target_time}'\n"
            "recovery_target_inclusive = off\n"
            "recovery_target_action = 'promote'\n"
            "archive_mode = off\n"
        )
    if _is_root():
        subprocess.run(["chown", "-R", "postgres:postgres", str(into.data_dir)], check=True)
    into.data_dir.chmod(0o700)
    (into.socket_dir).mkdir(exist_ok=True)
    if _is_root():
        shutil.chown(into.socket_dir, "postgres", "postgres")
    into.start()
    return into
