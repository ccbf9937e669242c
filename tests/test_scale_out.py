"""Several collector processes on one database share nothing else: definitions, identity,
scenario deliveries and the live feed all go through the database (both backends)."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from serverproc import Server, ekevents
from webhooks import Receiver

from collector.storage import open_storage


@pytest.fixture
async def two(tmp_path, db_url, monkeypatch):
    monkeypatch.setenv("EKEVENTS_WEBHOOK_RETRY_BASE", "0.05")
    a = Server(tmp_path / "a.db", db_url=db_url).start()
    b = Server(tmp_path / "b.db", db_url=db_url).start()
    key = (
        ekevents("keys", "create", "--db", db_url, "--name", "k", "--kind", "server")
        .stdout.strip()
        .splitlines()[-1]
    )
    http = aiohttp.ClientSession(headers={"Authorization": f"Bearer {key}"})
    yield a, b, http, db_url
    await http.close()
    a.stop()
    b.stop()


async def _json(response):
    async with response as r:
        return r.status, await r.json()


async def test_two_processes_share_definitions_identity_deliveries_and_the_live_feed(two):
    a, b, http, db_url = two
    receiver = await Receiver().start()
    try:
        status, _ = await _json(
            http.post(
                f"{a.url}/api/v1/event-definitions",
                json={"name": "signup", "fields": [{"code": "plan", "type": "text"}]},
            )
        )
        assert status == 201
        await asyncio.sleep(
            2.5
        )  # b learns of it from the database (a 1 s version check; margin for a loaded CI)
        status, _ = await _json(
            http.post(
                f"{a.url}/api/v1/scenarios",
                json={
                    "name": "hook",
                    "trigger": {"type": "event", "event": "signup"},
                    "actions": [
                        {"type": "webhook", "url": receiver.url, "template": "{{client.email}}"}
                    ],
                },
            )
        )
        assert status == 201
        await asyncio.sleep(2.5)

        # events to both processes, on one session; identify on a backfills b's events too
        _, body = await _json(http.post(f"{a.url}/api/v1/sessions"))
        session = body["session"]
        for n, server in enumerate([a, b, a, b]):
            status, body = await _json(
                http.post(
                    f"{server.url}/api/v1/events",
                    json={
                        "event": "signup",
                        "id": f"s{n}",
                        "session": session,
                        "params": {"plan": "x"},
                    },
                )
            )
            assert status == 200, body
        status, linked = await _json(
            http.post(
                f"{b.url}/api/v1/identify", json={"session": session, "email": "two@example.com"}
            )
        )
        assert status == 200 and linked["backfilled"] == 4

        # a definition changed through b is enforced by a within about a second
        status, _ = await _json(
            http.put(
                f"{b.url}/api/v1/event-definitions/signup",
                json={"fields": [{"code": "plan", "type": "text", "required": True}]},
            )
        )
        assert status == 200
        await asyncio.sleep(2.5)
        status, body = await _json(
            http.post(
                f"{a.url}/api/v1/events",
                json={"event": "signup", "contact": {"email": "two@example.com"}, "params": {}},
            )
        )
        assert status == 422 and body["results"][0]["errors"][0]["code"] == "missing_required"

        # each of the four events is delivered exactly once, though both processes work
        await receiver.wait(4, timeout=20)
        await asyncio.sleep(1.0)
        ids = sorted(call[0]["event"]["id"] for call in receiver.calls)
        assert ids == ["s0", "s1", "s2", "s3"], ids
    finally:
        await receiver.stop()

    # the live feed reads the database: what either process committed is there
    storage = open_storage(db_url)
    await storage.open()
    try:
        entries, _, _ = await storage.live_since(0, 0)
    finally:
        await storage.close()
    assert {e["id"] for e in entries if e["status"] == "accepted"} == {"s0", "s1", "s2", "s3"}


async def test_concurrent_writers_in_two_processes_lose_and_double_nothing(two):
    a, b, http, db_url = two
    await _json(
        http.post(f"{a.url}/api/v1/event-definitions", json={"name": "tick", "scope": "system"})
    )
    await asyncio.sleep(2.5)
    acknowledged: list[str] = []

    async def client(n: int, server: Server) -> None:
        for i in range(40):
            batch = [{"event": "tick", "id": f"c{n}-{i}-{j}"} for j in range(10)]
            batch.append({"event": "tick", "id": f"shared-{i}"})  # sent to both processes
            _, body = await _json(http.post(f"{server.url}/api/v1/events", json={"batch": batch}))
            acknowledged.extend(r["id"] for r in body["results"] if r["status"] == "accepted")

    await asyncio.gather(*(client(n, a if n % 2 else b) for n in range(6)))
    assert len([i for i in acknowledged if i.startswith("shared-")]) == 40  # once each
    storage = open_storage(db_url)
    await storage.open()
    try:
        stored = await storage.stored_ids(acknowledged)
    finally:
        await storage.close()
    assert stored == set(acknowledged) and len(acknowledged) == len(set(acknowledged))


def test_workers_start_together_on_a_fresh_sqlite_file(tmp_path):
    server = Server(tmp_path / "fresh.db", "--workers", "3").start()
    try:
        made = ekevents("keys", "create", "--db", server.db_url, "--name", "k", "--kind", "server")
        assert made.returncode == 0
    finally:
        server.stop()
    output = server.output()
    assert "Traceback" not in output and "locked" not in output, output
    assert output.count("Running on") == 3, output
