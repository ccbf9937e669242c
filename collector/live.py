"""The live feed: every committed event and failure, fanned out to live-debugger viewers.

The writer hands each committed batch here; each viewer has a bounded queue, and a
viewer too slow to keep up loses its oldest entries rather than slowing the writer.
"""

from __future__ import annotations

import asyncio
from typing import Any

from collector.model import NewEvent, NewFailure, Outcome
from collector.timeutil import format_us

_QUEUE = 500
_PARAMS_SHOWN = 20


class LiveFeed:
    def __init__(self) -> None:
        self._viewers: set[asyncio.Queue[dict[str, Any]]] = set()

    def subscribe(self) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(_QUEUE)
        self._viewers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        self._viewers.discard(queue)

    def committed(self, items: list[NewEvent | NewFailure], outcomes: list[Outcome]) -> None:
        """Called by the writer after each commit; costs nothing without viewers."""
        if not self._viewers:
            return
        entries = [_entry(item, outcome) for item, outcome in zip(items, outcomes, strict=True)]
        for queue in list(self._viewers):
            for entry in entries:
                if queue.full():
                    queue.get_nowait()  # drop the oldest for this slow viewer
                queue.put_nowait(entry)


def _entry(item: NewEvent | NewFailure, outcome: Outcome) -> dict[str, Any]:
    if isinstance(item, NewEvent):
        shown = dict(list(item.params.items())[:_PARAMS_SHOWN])
        return {
            "status": outcome.status,
            "id": outcome.id,
            "event": item.event,
            "at": format_us(item.received_at),
            "key": item.key_name,
            "contact_id": None if item.contact is None else str(item.contact.value),
            "session": bool(item.session_id),
            "params": shown,
        }
    return {
        "status": "failed",
        "id": outcome.id,
        "event": item.event,
        "at": format_us(item.received_at),
        "key": item.source.get("key", ""),
        "reasons": [r.as_json() for r in item.reasons],
    }


def matches(entry: dict[str, Any], event: str | None, key: str | None) -> bool:
    return (not event or entry.get("event") == event) and (not key or entry.get("key") == key)
