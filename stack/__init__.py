"""The local stack: real PostgreSQL, Kafka, an SMTP sink, dev keys and the services, no Docker.

Everything it writes lives under `.stack/` in the checkout (git-ignored). Entry point:
`python -m stack {up,down,infra,token,env,status}`; the Makefile wraps it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sys
from collections.abc import Iterator
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
STACK_DIR = REPO_ROOT / ".stack"

SERVICE_NAMES = ("signals", "partners", "goals", "notifications", "neighbourhoods")


def say(message: str) -> None:
    """One progress line, prefixed so it stands out between other tools' output."""
    print(f"[stack] {message}", flush=True)


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


def pg_port() -> int:
    return env_int("WK_PG_PORT", 55432)


def kafka_port() -> int:
    return env_int("WK_KAFKA_PORT", 59092)


def kafka_controller_port() -> int:
    return env_int("WK_KAFKA_CONTROLLER_PORT", 59093)


def smtp_port() -> int:
    return env_int("WK_SMTP_PORT", 2525)


@contextlib.contextmanager
def stack_lock(stack_dir: Path = STACK_DIR) -> Iterator[None]:
    """Serialise `up`/`down`/`infra`: several engineers share one checkout and run them at once."""
    stack_dir.mkdir(parents=True, exist_ok=True)
    with (stack_dir / "stack.lock").open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print("[stack] another `make up/down/test` holds .stack/stack.lock; waiting", file=sys.stderr)
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
