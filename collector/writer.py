"""Group commit: the one task per process that writes events.

Requests put items on a queue and wait; the writer takes everything queued (up to a cap),
writes it in one transaction and only then answers each waiting request. While one batch
commits the next one gathers, so throughput grows with load instead of with fsyncs, and
an acknowledged event is always a committed one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from collector.errors import Unavailable
from collector.model import NewEvent, NewFailure, Outcome
from collector.storage import Storage

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Job:
    items: list[NewEvent | NewFailure]
    done: asyncio.Future[list[Outcome]]


class WriterStopped(Unavailable):
    """The writer is shutting down and takes no more work (503: the client retries)."""

    code = "shutting_down"


class Writer:
    def __init__(
        self,
        storage: Storage,
        max_batch: int = 5000,
        on_commit: Callable[[list[NewEvent | NewFailure], list[Outcome]], None] | None = None,
    ) -> None:
        self.storage = storage
        self.max_batch = max_batch
        self.on_commit = on_commit
        self._queue: asyncio.Queue[_Job | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.batches = 0  # how many transactions, for the benchmark's report

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="ekevents-writer")

    async def write(self, items: list[NewEvent | NewFailure]) -> list[Outcome]:
        """Outcomes of `items`, once the transaction holding them has committed."""
        if self._closing:
            raise WriterStopped("the collector is shutting down")
        if not items:
            return []
        job = _Job(items, asyncio.get_running_loop().create_future())
        self._queue.put_nowait(job)
        return await job.done

    async def stop(self) -> None:
        """Stop taking work, write everything already queued, then end."""
        self._closing = True
        if self._task is None:
            return
        self._queue.put_nowait(None)
        await self._task
        self._task = None

    async def _run(self) -> None:
        stopping = False
        while not stopping:
            first = await self._queue.get()
            if first is None:
                break
            jobs, size = [first], len(first.items)
            while size < self.max_batch and not self._queue.empty():
                job = self._queue.get_nowait()
                if job is None:
                    stopping = True
                    break
                jobs.append(job)
                size += len(job.items)
            await self._commit(jobs)

    async def _commit(self, jobs: list[_Job]) -> None:
        items = [item for job in jobs for item in job.items]
        try:
            outcomes = await self.storage.write_batch(items)
        except Exception as exc:
            # The batch rolled back, so nobody is acknowledged. One request's bad item must
            # not fail its neighbours: write each request alone, and fail only the culprit.
            if len(jobs) > 1:
                for job in jobs:
                    await self._commit([job])
                return
            log.exception("writing a batch of %d items failed", len(items))
            if not jobs[0].done.done():
                jobs[0].done.set_exception(exc)
            return
        self.batches += 1
        if self.on_commit is not None:
            self.on_commit(items, outcomes)
        start = 0
        for job in jobs:
            end = start + len(job.items)
            if not job.done.done():
                job.done.set_result(outcomes[start:end])
            start = end
