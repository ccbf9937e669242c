"""Retention: a definition's `retention_days` deletes its events once they are older."""

from __future__ import annotations

import asyncio
import logging

from collector.definitions import Definitions
from collector.storage import Storage
from collector.timeutil import now_us

log = logging.getLogger(__name__)
DAY_US = 86_400_000_000


async def apply_retention(storage: Storage, definitions: Definitions) -> dict[str, int]:
    """Delete what is past each definition's retention; {event: rows deleted}."""
    deleted = {}
    for definition in definitions.all_current():
        if definition.retention_days:
            cutoff = now_us() - definition.retention_days * DAY_US
            deleted[definition.name] = await storage.delete_events_before(definition.name, cutoff)
    return deleted


async def retention_loop(storage: Storage, definitions: Definitions, every: float = 3600) -> None:
    while True:
        try:
            await apply_retention(storage, definitions)
        except Exception:  # a busy database: try again next round
            log.exception("applying retention failed")
        await asyncio.sleep(every)
