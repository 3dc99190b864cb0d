"""Headless Chromium from Debian's packages: the suite looks at pages as a person would (the
printable quarterly review, GraphiQL). Installed when missing, like PostgreSQL and PostGIS."""

from __future__ import annotations

import os
import shutil
import subprocess

from stack import say


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def ensure_chromium() -> str | None:
    """The browser's path; `apt-get install chromium` when there is none (root only)."""
    found = chromium()
    if found or os.geteuid() != 0 or shutil.which("apt-get") is None:
        return found
    say("Chromium not found: apt-get install -y chromium (takes a minute or two)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]
    try:
        if subprocess.run(install, env=env, check=False).returncode != 0:
            subprocess.run(["apt-get", "update"], check=True, env=env)
            subprocess.run(install, check=True, env=env)
    except (OSError, subprocess.CalledProcessError) as exc:
        say(f"Chromium could not be installed ({exc}); the page tests will say so")
    return chromium()
