"""A real JWKS endpoint on a thread of its own: serves a set that tests change, counts fetches,
and can hang (as a slow identity provider does) until released."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa


def jwk_of(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    jwk: dict[str, Any] = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update({"kid": kid, "use": "sig", "alg": "RS256"})
    return jwk


@dataclass
class JwksEndpoint:
    keys: list[dict[str, Any]]
    url: str = ""
    fetches: int = 0
    hang: threading.Event = field(default_factory=threading.Event)  # set: requests wait
    release: threading.Event = field(default_factory=threading.Event)
    waiting: threading.Event = field(default_factory=threading.Event)  # a request is hanging now

    def body(self) -> bytes:
        self.fetches += 1
        if self.hang.is_set():
            self.waiting.set()
            self.release.wait(timeout=60)
        return json.dumps({"keys": self.keys}).encode()


@contextmanager
def jwks_endpoint(keys: list[dict[str, Any]]) -> Iterator[JwksEndpoint]:
    endpoint = JwksEndpoint(keys)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = endpoint.body()
            try:
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                pass  # the client gave up waiting

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    endpoint.url = f"http://127.0.0.1:{server.server_address[1]}/certs"
    try:
        yield endpoint
    finally:
        endpoint.release.set()
        server.shutdown()
        server.server_close()
