"""One page's own Content-Security-Policy: the gateway's default (`default-src 'none'`, set by
shared.http) is relaxed only for the pages that need it (GraphiQL's inline script, the printable
review's inline styles)."""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class PagePolicy:
    """ASGI middleware: responses to requests `matches` accepts carry `policy` as their CSP."""

    def __init__(self, app: ASGIApp, *, matches: Callable[[Scope], bool], policy: bytes) -> None:
        self.app = app
        self.matches = matches
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.matches(scope):
            await self.app(scope, receive, send)
            return

        async def relaxed(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k != b"content-security-policy"]
                message["headers"] = [*headers, (b"content-security-policy", self.policy)]
            await send(message)

        await self.app(scope, receive, relaxed)
