"""The live feed: what every collector process commits, fanned out to live-debugger viewers.

It reads the database, not this process's writer, so a viewer connected to one process
sees events that arrived at any other. While anyone watches, one task per process polls
for rows newer than the last it saw (a few times a second: visible well within a
second); each viewer has a bounded queue and a slow one loses its oldest entries.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from collector.storage import Storage

log = logging.getLogger(__name__)
_QUEUE = 500
POLL_SECONDS = 0.25


class LiveFeed:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self._viewers: set[asyncio.Queue[dict[str, Any]]] = set()
        self._poller: asyncio.Task[None] | None = None

    async def subscribe(self) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(_QUEUE)
        self._viewers.add(queue)
        if self._poller is None or self._poller.done():
            position = await self.storage.live_position()
            self._poller = asyncio.create_task(self._poll(*position), name="ekevents-live")
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        self._viewers.discard(queue)

    async def close(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller

    async def _poll(self, event_seq: int, failed_seq: int) -> None:
        while self._viewers:
            try:
                entries, event_seq, failed_seq = await self.storage.live_since(
                    event_seq, failed_seq
                )
            except Exception:  # a busy database: the next round catches up
                log.exception("reading the live feed failed")
                entries = []
            for queue in list(self._viewers):
                for entry in entries:
                    if queue.full():
                        queue.get_nowait()
                    queue.put_nowait(entry)
            if not entries:
                await asyncio.sleep(POLL_SECONDS)


def matches(entry: dict[str, Any], event: str | None, key: str | None) -> bool:
    return (not event or entry.get("event") == event) and (not key or entry.get("key") == key)
