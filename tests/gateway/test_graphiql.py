"""GraphiQL in the local stack works without internet: the page loads only scripts and styles the
gateway serves itself (the published bytes: the page's integrity hashes match), and headless
Chromium, with every host but 127.0.0.1 unresolvable, renders it and runs a query."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import re
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import pytest
import websockets

from gateway.graphiql import ASSETS, referenced_assets, sri
from stack import browser
from tests.gateway.conftest import Platform, free_socket
from tests.support import eventually

HTML = {"accept": "text/html"}


async def test_the_graphiql_page_loads_only_assets_the_gateway_serves(platform: Platform) -> None:
    page = await platform.gateway.get("/graphql", headers=HTML)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources and all(s.startswith((ASSETS, "data:")) for s in sources), sources
    assert "unpkg.com" not in html and "https://" not in page.headers["content-security-policy"]
    assets = referenced_assets(html)
    assert len(assets) == 7  # react, react-dom, js-cookie, graphiql js and css, the explorer's js and css
    for path, integrity in assets:
        served = await platform.gateway.get(path)
        assert served.status_code == 200, path
        kind = "text/css" if path.endswith(".css") else "javascript"
        assert kind in served.headers["content-type"], (path, served.headers["content-type"])
        assert sri(served.content) == integrity, path  # byte for byte what the npm registry published
    missing = await platform.gateway.get(f"{ASSETS}graphiql@0.0.0/graphiql.min.js")
    assert missing.status_code == 404


class DevTools:
    """Just enough of the Chrome DevTools Protocol to drive one page."""

    def __init__(self, socket: Any) -> None:
        self.socket = socket
        self.ids = itertools.count(1)

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        number = next(self.ids)
        await self.socket.send(json.dumps({"id": number, "method": method, "params": params}))
        while True:
            message = json.loads(await asyncio.wait_for(self.socket.recv(), timeout=30))
            if message.get("id") == number:
                assert "error" not in message, message
                result: dict[str, Any] = message["result"]
                return result

    async def evaluate(self, expression: str) -> Any:
        answer = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return answer["result"].get("value")


@contextlib.asynccontextmanager
async def chromium(profile: Path) -> AsyncIterator[DevTools]:
    """Headless Chromium that can reach 127.0.0.1 only (no CDN, no internet)."""
    binary = browser.chromium()
    if binary is None:  # `make test` installs it (stack.browser): missing is a failure, not a skip
        pytest.fail("headless Chromium is needed to check GraphiQL offline (apt-get install -y chromium)")
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    process = subprocess.Popen(  # noqa: ASYNC220 (started once; the test waits on its port, not on it)
        [
            binary,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            f"--user-data-dir={profile}",
            f"--remote-debugging-port={port}",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "--window-size=1400,900",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:

            async def listening() -> bool:
                with contextlib.suppress(httpx.TransportError):
                    return (await http.get("/json/version")).status_code == 200
                return False

            await eventually(listening, timeout=30, interval=0.1)
            target = (await http.put("/json/new?about:blank")).json()
        async with websockets.connect(target["webSocketDebuggerUrl"], max_size=None) as socket:
            yield DevTools(socket)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


async def test_graphiql_renders_and_runs_a_query_offline_in_headless_chromium(
    platform: Platform, tmp_path: Path
) -> None:
    token = platform.headers("resident")["Authorization"]
    query = "{ categories { code label } }"
    url = f"{platform.gateway_url}/graphql?" + urlencode(
        {"q": query, "headers": json.dumps({"Authorization": token})}, quote_via=quote
    )  # the page decodes with decodeURIComponent: "+" is not a space there
    async with chromium(tmp_path / "profile") as page:
        await page.call("Runtime.enable")
        await page.call("Page.enable")
        await page.call("Page.navigate", url=url)

        async def rendered() -> bool:
            return bool(await page.evaluate("!!document.querySelector('.graphiql-execute-button')"))

        await eventually(rendered, timeout=30, interval=0.2)
        failed = await page.evaluate(
            "performance.getEntriesByType('resource').filter(r => !r.name.startsWith(location.origin)).map(r => r.name)"
        )
        assert failed == [], failed  # nothing was even asked of another host
        await page.evaluate("document.querySelector('.graphiql-execute-button').click()")
        result = "document.querySelector('.result-window') && document.querySelector('.result-window').innerText"

        async def answered() -> bool:
            return "Vandalisme" in str(await page.evaluate(result))

        screenshot = tmp_path / "graphiql.png"
        try:
            await eventually(answered, timeout=30, interval=0.2)
        finally:  # kept also when the query did not run, to see why
            shot = await page.call("Page.captureScreenshot", format="png")
            screenshot.write_bytes(base64.b64decode(shot["data"]))
            print(f"screenshot: {screenshot}")
    assert screenshot.read_bytes().startswith(b"\x89PNG") and screenshot.stat().st_size > 10_000
