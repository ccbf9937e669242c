"""`ekevents backup`: a consistent copy of a SQLite database taken while it is written."""

from __future__ import annotations

import asyncio
import sqlite3

import aiohttp
from serverproc import Server, ekevents


async def test_a_backup_taken_during_writes_is_consistent_and_restorable(tmp_path):
    server = Server(tmp_path / "live.db").start()
    try:
        key = (
            ekevents("keys", "create", "--db", server.db_url, "--name", "k", "--kind", "server")
            .stdout.strip()
            .splitlines()[-1]
        )
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {key}"}) as http:
            await http.post(
                f"{server.url}/api/v1/event-definitions", json={"name": "tick", "scope": "system"}
            )
            stop = asyncio.Event()

            async def writer() -> None:
                n = 0
                while not stop.is_set():
                    n += 1
                    batch = [{"event": "tick", "id": f"w{n}-{j}"} for j in range(20)]
                    async with http.post(f"{server.url}/api/v1/events", json={"batch": batch}):
                        pass

            task = asyncio.create_task(writer())
            await asyncio.sleep(0.5)
            made = await asyncio.to_thread(
                ekevents, "backup", "--db", server.db_url, str(tmp_path / "copy.db")
            )
            stop.set()
            await task
        assert made.returncode == 0, made.stderr
        assert "integrity: ok" in made.stdout
    finally:
        server.stop()
    with sqlite3.connect(tmp_path / "copy.db") as copy:
        copied = copy.execute("SELECT count(*) FROM events").fetchone()[0]
        # a batch is one transaction: a consistent copy holds whole batches only
        assert copied > 0 and copied % 20 == 0
    restored = Server(tmp_path / "copy.db").start()  # restoring = serving the copy
    restored.stop()
    again = ekevents("backup", "--db", server.db_url, str(tmp_path / "copy.db"))
    assert again.returncode == 2 and "exists" in again.stderr
