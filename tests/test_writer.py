"""Durable group commit: many requests share one transaction, and an answer means committed."""

from __future__ import annotations

import asyncio
import sqlite3

import asyncpg

from collector.appkeys import WRITER
from collector.ids import new_id
from collector.model import NewEvent
from collector.storage.sqlite import SQLiteStorage
from collector.writer import Writer, WriterStopped


async def _row_count(url: str, table: str = "events") -> int:
    """Rows committed, as a connection of its own sees them."""
    if url.startswith("postgresql://"):
        conn = await asyncpg.connect(url)
        try:
            return await conn.fetchval(f"SELECT count(*) FROM {table}")
        finally:
            await conn.close()
    with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
        return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


async def test_concurrent_requests_are_committed_in_fewer_transactions(api, db_url):
    await api.define("tick", [], scope="system")
    writer = api.app[WRITER]
    before = writer.batches
    answers = await asyncio.gather(*(api.send({"event": "tick"}) for _ in range(60)))
    assert all(a["results"][0]["status"] == "accepted" for a in answers)
    used = writer.batches - before
    assert 1 <= used < 60, f"{used} transactions for 60 requests: no grouping happened"
    assert await _row_count(db_url) == 60


async def test_an_acknowledged_event_is_visible_to_another_connection_at_once(api, db_url):
    await api.define("tick", [], scope="system")
    for expected in range(1, 6):
        await api.send({"event": "tick"}, expect=200)
        assert await _row_count(db_url) == expected


def _event() -> NewEvent:
    return NewEvent(
        id=new_id(),
        event="tick",
        ts=1,
        received_at=1,
        contact=None,
        session_id=None,
        params={},
        context={},
        version=1,
        source="api",
        api_inserted=True,
        api_verified=False,
    )


async def test_stopping_the_writer_drains_what_was_queued(tmp_path):
    storage = SQLiteStorage(str(tmp_path / "w.db"))
    await storage.open()
    writer = Writer(storage, max_batch=7)
    writer.start()
    pending = [asyncio.create_task(writer.write([_event(), _event()])) for _ in range(50)]
    await asyncio.sleep(0)  # every write is queued before the stop
    await writer.stop()
    outcomes = [o for task in pending for o in task.result()]
    assert len(outcomes) == 100 and {o.status for o in outcomes} == {"accepted"}
    await storage.close()
    assert await _row_count(f"sqlite:///{tmp_path / 'w.db'}") == 100
    assert writer.batches >= 100 // 8  # whole jobs of 2 fill a batch of at most 7 + 1


async def test_a_stopped_writer_refuses_new_work(tmp_path):
    storage = SQLiteStorage(str(tmp_path / "w.db"))
    await storage.open()
    writer = Writer(storage)
    writer.start()
    await writer.stop()
    try:
        await writer.write([_event()])
    except WriterStopped:
        pass
    else:
        raise AssertionError("a stopped writer took work")
    finally:
        await storage.close()
