"""Servers of a test's own (for restart and outage tests), on free ports, removed afterwards.

    with own_pg(tmp_path) as pg:            # PgServer, started; pg.admin_url, pg.restart(), pg.kill()
        ...
    async with own_kafka_async(tmp_path) as broker:   # KafkaBroker, ready; broker.bootstrap, .kill()
        ...

The blocking calls (start, stop, restart, kill) take seconds: in async tests call them through
`asyncio.to_thread(...)` so the event loop keeps serving the code under test.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

from stack.kafka import KafkaBroker
from stack.pg import PgServer


def free_ports(count: int = 1) -> list[int]:
    """`count` distinct ports free on 127.0.0.1 right now."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


@contextlib.contextmanager
def own_pg(root: Path, port: int | None = None, *, service_roles: tuple[str, ...] = ()) -> Iterator[PgServer]:
    server = PgServer(root, port or free_ports(1)[0], quiet=True)
    try:
        server.ensure_installed()
        server.start()
        if service_roles:
            server.ensure_service_roles(service_roles)
        yield server
    finally:
        server.remove()


@contextlib.contextmanager
def own_kafka(root: Path, port: int | None = None, controller_port: int | None = None) -> Iterator[KafkaBroker]:
    ports = free_ports(2)
    broker = KafkaBroker(root, port or ports[0], controller_port or ports[1], quiet=True)
    try:
        broker.start()
        yield broker
    finally:
        broker.remove()


@contextlib.asynccontextmanager
async def own_pg_async(
    root: Path, port: int | None = None, *, service_roles: tuple[str, ...] = ()
) -> AsyncIterator[PgServer]:
    server = PgServer(root, port or free_ports(1)[0], quiet=True)
    try:
        await asyncio.to_thread(server.ensure_installed)
        await asyncio.to_thread(server.start)
        if service_roles:
            await asyncio.to_thread(server.ensure_service_roles, service_roles)
        yield server
    finally:
        await asyncio.to_thread(server.remove)


@contextlib.asynccontextmanager
async def own_kafka_async(
    root: Path, port: int | None = None, controller_port: int | None = None
) -> AsyncIterator[KafkaBroker]:
    ports = free_ports(2)
    broker = KafkaBroker(root, port or ports[0], controller_port or ports[1], quiet=True)
    try:
        await asyncio.to_thread(broker.start)
        yield broker
    finally:
        await asyncio.to_thread(broker.remove)
