"""GraphiQL in the local stack, working offline: strawberry's page with its unpkg scripts and
styles served by the gateway itself from `gateway/static/vendor/` (React, GraphiQL, js-cookie and
the explorer plugin at the versions strawberry's page names, fetched once from the npm registry
with `python -m gateway.graphiql`). The page keeps strawberry's `integrity` hashes, so the browser
refuses a vendored file that is not byte for byte the published one.
"""

from __future__ import annotations

import base64
import hashlib
import re
import subprocess
import sys
import tarfile
import tempfile
from functools import cache
from pathlib import Path

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles
from starlette.types import Scope
from strawberry.http.ides import get_graphql_ide_html

from gateway.csp import PagePolicy

CDN = "https://unpkg.com/"
ASSETS = "/graphiql/assets/"
VENDOR = Path(__file__).parent / "static" / "vendor"
_CSP = (
    b"default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline';"
    b" img-src 'self' data:; font-src 'self' data:; connect-src 'self' ws: wss:"
)
# <script|link ... src|href="https://unpkg.com/<package>@<version>/<file>" integrity="sha384-...">
_ASSET = re.compile(
    r'(?:src|href)="'
    + re.escape(CDN)
    + r'(?P<path>(?P<package>(?:@[^/@"]+/)?[^/@"]+)@(?P<version>[^/"]+)/(?P<file>[^"]+))"'
    + r'\s+integrity="(?P<integrity>[^"]+)"'
)


@cache
def page() -> str:
    """Strawberry's GraphiQL page, loading every script and style from this gateway."""
    return get_graphql_ide_html(graphql_ide="graphiql").replace(CDN, ASSETS)


def install(app: FastAPI) -> None:
    """Serve the vendored assets and let the GraphiQL page run them (the local stack only)."""
    app.mount(ASSETS.rstrip("/"), StaticFiles(directory=VENDOR, check_dir=False), name="graphiql-assets")
    app.add_middleware(PagePolicy, matches=_is_page, policy=_CSP)


def _is_page(scope: Scope) -> bool:
    """GraphiQL's page runs an inline script: the CSP is relaxed for that page only (still 'self' only)."""
    return bool(scope["method"] == "GET" and scope["path"] == "/graphql")


def sri(content: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(content).digest()).decode()


def vendor(target: Path = VENDOR) -> list[Path]:
    """Fetch every asset strawberry's page names from the npm registry (`npm pack`, the versions the
    page pins), check it against the page's integrity hash, and store it under `target`."""
    written: list[Path] = []
    html = get_graphql_ide_html(graphql_ide="graphiql")
    with tempfile.TemporaryDirectory() as folder:
        for match in _ASSET.finditer(html):
            spec = f"{match['package']}@{match['version']}"
            packed = subprocess.run(
                ["npm", "pack", "--silent", spec], cwd=folder, check=True, capture_output=True, text=True
            ).stdout.split()[-1]
            with tarfile.open(Path(folder) / packed) as archive:
                content = _read(archive, f"package/{match['file']}")
                licenses = [m for m in archive.getnames() if m.lower().startswith("package/license")]
                license_text = _read(archive, licenses[0]) if licenses else None
            if sri(content) != match["integrity"]:
                raise RuntimeError(f"{spec}/{match['file']} does not match the page's integrity hash")
            path = target / match["path"]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
            written.append(path)
            if license_text:
                (target / spec / "LICENSE").write_bytes(license_text)
    return written


def _read(archive: tarfile.TarFile, name: str) -> bytes:
    member = archive.extractfile(name)
    if member is None:
        raise RuntimeError(f"{name} is not a file in the package")
    return member.read()


def referenced_assets(html: str) -> list[tuple[str, str]]:
    """(local path, integrity) of every asset the page loads from this gateway."""
    pattern = re.compile(r'(?:src|href)="(' + re.escape(ASSETS) + r'[^"]+)"\s+integrity="([^"]+)"')
    return pattern.findall(html)


if __name__ == "__main__":  # python -m gateway.graphiql
    for written_path in vendor():
        print(written_path.relative_to(Path.cwd()) if written_path.is_relative_to(Path.cwd()) else written_path)
    sys.stdout.flush()
