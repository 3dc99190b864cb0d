"""The services and the gateway as background uvicorn processes, with the local stack's settings."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from stack import REPO_ROOT, SERVICE_NAMES, STACK_DIR, env_int, kafka_port, pg_port, smtp_port
from stack.keys import AUDIENCE, ISSUER, KEYS_DIR, ensure_dev_keys, ensure_resident_ref_key, ensure_secrets_key
from stack.proc import running_pid, spawn, terminate

DEFAULT_PORTS = {
    "gateway": 8000,
    "signals": 8001,
    "partners": 8002,
    "goals": 8003,
    "notifications": 8004,
    "neighbourhoods": 8005,
}


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    module: str
    port: int

    @property
    def is_gateway(self) -> bool:
        return self.name == "gateway"

    @property
    def app(self) -> str:
        return f"{self.module}:create_app"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        return STACK_DIR / "logs" / f"{self.name}.log"

    @property
    def pid_file(self) -> Path:
        return STACK_DIR / "run" / f"{self.name}.pid"

    def exists(self) -> bool:
        return module_exists(self.module)


def module_exists(module: str) -> bool:
    """Whether `a.b.c` is a module of the checkout (looked up on disk; nothing is imported)."""
    path = REPO_ROOT.joinpath(*module.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def port_of(name: str) -> int:
    return env_int(f"WK_{name.upper()}_PORT", DEFAULT_PORTS[name])


def all_specs() -> list[ServiceSpec]:
    """The services, then the gateway (started last, stopped first)."""
    specs = [ServiceSpec(name, f"services.{name}.app", port_of(name)) for name in SERVICE_NAMES]
    specs.append(ServiceSpec("gateway", "gateway.app", port_of("gateway")))
    return specs


def service_env(spec: ServiceSpec | None, *, keys_dir: Path = KEYS_DIR) -> dict[str, str]:
    """The environment a service (or, with None, a tool such as the seeder) gets in the local stack."""
    keys = ensure_dev_keys(keys_dir)
    env = dict(os.environ)
    env.update(
        {
            "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{kafka_port()}",
            "AUTH_JWKS_PATH": str(keys.jwks_json.resolve()),
            "AUTH_ISSUER": ISSUER,
            "AUTH_AUDIENCE": AUDIENCE,
            "WEBHOOK_ALLOWED_HOSTS": "127.0.0.1",
            "WEBHOOK_ALLOW_HTTP_ON_ALLOWED": "true",
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(smtp_port()),
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{port_of('gateway')}",
            "SERVICE_TOKEN_KEY_PATH": str(keys.private_pem.resolve()),
            "SERVICE_TOKEN_KID": keys.kid,
            "WK_ENV": "local",
            "SECRETS_KEY": ensure_secrets_key(keys_dir),
            # One platform key (neighbourhoods and goals derive the same resident pseudonym from it).
            "RESIDENT_REF_KEY": ensure_resident_ref_key(keys_dir),
            "PYTHONUNBUFFERED": "1",
        }
    )
    for name in SERVICE_NAMES:
        env[f"SERVICE_URLS_{name.upper()}"] = f"http://127.0.0.1:{port_of(name)}"
    if spec is not None and not spec.is_gateway:
        key = f"{spec.name.upper()}_DATABASE_URL"
        env[key] = f"postgresql+asyncpg://{spec.name}:{spec.name}-dev@127.0.0.1:{pg_port()}/wijkaanpak"
    pythonpath = env.get("PYTHONPATH", "")
    env["PYTHONPATH"] = str(REPO_ROOT) + (os.pathsep + pythonpath if pythonpath else "")
    return env


def pid_of(spec: ServiceSpec) -> int | None:
    return running_pid(spec.pid_file, marker=spec.app)


def start(spec: ServiceSpec) -> subprocess.Popen[bytes]:
    args = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        spec.app,
        "--host",
        "127.0.0.1",
        "--port",
        str(spec.port),
    ]
    return spawn(args, log_file=spec.log_file, pid_file=spec.pid_file, env=service_env(spec), cwd=REPO_ROOT)


def stop(spec: ServiceSpec, timeout: float = 20.0) -> bool:
    """SIGTERM, wait, SIGKILL; True when it was running."""
    pid = pid_of(spec)
    if pid is None:
        spec.pid_file.unlink(missing_ok=True)
        return False
    terminate(pid, timeout=timeout)
    spec.pid_file.unlink(missing_ok=True)
    return True


def is_ready(spec: ServiceSpec, timeout: float = 2.0) -> bool:
    return http_ok(f"{spec.base_url}/readyz", timeout)


def http_ok(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (our loopback)
            return int(response.status) == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False
