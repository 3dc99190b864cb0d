"""A real local SMTP server (aiosmtpd) that keeps every message as an .eml file.

    python -m stack.smtp --port 2525 --dir .stack/mail

Files are named `<utc time>-<random>.eml`, written atomically, with the envelope added as
`X-Envelope-From` / `X-Envelope-To` headers on top. `read_messages(dir)` parses them back.
`MailSink(dir, port)` runs the same server in a thread, for tests.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import email
import email.policy
import os
import secrets
import signal
import time
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP


class EmlHandler:
    """aiosmtpd handler: one file per accepted message."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode("utf-8", errors="replace")
        head = (f"X-Envelope-From: {envelope.mail_from}\r\nX-Envelope-To: {', '.join(envelope.rcpt_tos)}\r\n").encode()
        name = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + f"-{time.time_ns() % 10**9:09d}-{secrets.token_hex(4)}"
        tmp = self.directory / f".{name}.tmp"
        tmp.write_bytes(head + content)
        os.replace(tmp, self.directory / f"{name}.eml")
        return "250 Message accepted for delivery"


def read_messages(directory: Path) -> list[EmailMessage]:
    """Every stored message, oldest first."""
    messages: list[EmailMessage] = []
    for path in sorted(Path(directory).glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        messages.append(message)
    return messages


class MailSink:
    """The same server in a background thread: `with MailSink(tmp_path, port) as sink: ...`."""

    def __init__(self, directory: Path, port: int = 0, host: str = "127.0.0.1") -> None:
        self.directory = Path(directory)
        self.host = host
        self.port = port or _free_port()
        self._controller = Controller(EmlHandler(self.directory), hostname=host, port=self.port)

    def start(self) -> MailSink:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def messages(self) -> list[EmailMessage]:
        return read_messages(self.directory)

    def __enter__(self) -> MailSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def serve(directory: Path, port: int, host: str = "127.0.0.1") -> None:
    loop = asyncio.get_running_loop()
    handler = EmlHandler(directory)
    server = await loop.create_server(lambda: SMTP(handler, hostname="wijkaanpak-local"), host=host, port=port)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"[stack] SMTP on {host}:{port}, mail to {directory}", flush=True)
    async with server:
        await stop.wait()
    with contextlib.suppress(Exception):
        server.close()
        await server.wait_closed()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m stack.smtp", description="local SMTP sink")
    parser.add_argument("--port", type=int, default=int(os.environ.get("WK_SMTP_PORT", "2525")))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--dir", type=Path, required=True)
    args = parser.parse_args(argv)
    asyncio.run(serve(args.dir.resolve(), args.port, args.host))


if __name__ == "__main__":
    main()
