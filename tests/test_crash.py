"""Crash safety: SIGKILL in the middle of a stream of events, then a restart: every
acknowledged event is stored exactly once and the database is intact."""

from __future__ import annotations

import asyncio
import signal
import sqlite3

import aiohttp
from serverproc import Server, ekevents


async def test_sigkill_mid_stream_loses_no_acknowledged_event(tmp_path):
    db = tmp_path / "crash.db"
    server = Server(db).start()
    acknowledged: list[str] = []
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

            async def client(n: int) -> None:
                for i in range(10_000):
                    body = {"batch": [{"event": "tick", "id": f"k{n}-{i}-{j}"} for j in range(10)]}
                    try:
                        async with http.post(f"{server.url}/api/v1/events", json=body) as r:
                            if r.status == 200:
                                acknowledged.extend(
                                    x["id"]
                                    for x in (await r.json())["results"]
                                    if x["status"] == "accepted"
                                )
                    except aiohttp.ClientError:
                        return

            clients = [asyncio.create_task(client(n)) for n in range(6)]
            while len(acknowledged) < 2000:
                await asyncio.sleep(0.01)
            server.signal(signal.SIGKILL)
            await asyncio.gather(*clients)
        server.wait()
    finally:
        server.stop()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    restarted = Server(db).start()  # recovery from the WAL happens on open
    try:
        with sqlite3.connect(db) as conn:
            stored = [row[0] for row in conn.execute("SELECT id FROM events")]
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        restarted.stop()
    assert len(acknowledged) >= 2000
    missing = set(acknowledged) - set(stored)
    assert not missing, f"{len(missing)} acknowledged events were lost"
    assert len(stored) == len(set(stored))
