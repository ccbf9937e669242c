"""The live debugger streams committed events and failures over Server-Sent Events."""

from __future__ import annotations

import asyncio
import json


async def _next_data(response) -> dict:
    while True:
        line = (await asyncio.wait_for(response.content.readline(), 5)).decode()
        if line.startswith("data: "):
            return json.loads(line[6:])


async def test_the_stream_shows_accepted_and_failed_events_as_they_commit(ui, api):
    await api.define("ping", [{"code": "n", "type": "integer"}], scope="system")
    page = await ui.get("/live")
    assert page.status == 200 and "Live debugger" in await page.text()
    async with api.client.get("/live/stream") as stream:
        assert stream.headers["Content-Type"] == "text/event-stream"
        assert (await stream.content.readline()).startswith(b": connected")
        await api.send({"event": "ping", "params": {"n": 1}}, expect=200)
        accepted = await _next_data(stream)
        assert (accepted["status"], accepted["event"], accepted["params"]["n"]) == (
            "accepted",
            "ping",
            1,
        )
        assert accepted["key"] == "test server"
        await api.send({"event": "ping", "params": {"n": "x"}}, expect=422)
        failed = await _next_data(stream)
        assert failed["status"] == "failed"
        assert failed["reasons"][0]["path"] == "params.n"


async def test_the_stream_filters_by_event_name_and_key(ui, api):
    await api.define("ping", [], scope="system")
    await api.define("pong", [], scope="system")
    other = await api.new_key(name="other backend")
    async with api.client.get(
        "/live/stream", params={"event": "pong", "key": "other backend"}
    ) as s:
        await s.content.readline()
        await api.send({"event": "ping"}, expect=200)
        await api.post("/api/v1/events", {"event": "pong"})  # right event, wrong key
        await api.post("/api/v1/events", {"event": "pong", "id": "wanted"}, key=other)
        entry = await _next_data(s)
        assert (entry["event"], entry["id"], entry["key"]) == ("pong", "wanted", "other backend")


async def test_the_stream_needs_a_signed_in_user(api):
    response = await api.client.get("/live/stream", allow_redirects=False)
    assert response.status == 302
