"""Small asyncio helpers for long-running background loops."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from shared.observability import get_logger

log = get_logger(__name__)


async def sleep_or_stop(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep up to `seconds`; True when `stop` was set meanwhile."""
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
        return True
    except TimeoutError:
        return False


async def every(stop: asyncio.Event, seconds: float, tick: Callable[[], Awaitable[object]], name: str) -> None:
    """Run `tick` every `seconds` until stopped; a failing tick is logged and tried next time."""
    while not stop.is_set():
        try:
            await tick()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("periodic_task_failed", task=name, error=type(exc).__name__)
        if await sleep_or_stop(stop, seconds):
            return
