"""Failed events: listed, searchable, and replayed once the definition is fixed."""

from __future__ import annotations


async def test_a_failed_event_replays_after_the_definition_gains_the_field(api):
    await api.define("signup", [{"code": "plan", "type": "integer"}])
    body = {
        "event": "signup",
        "id": "s-1",
        "contact": {"email": "a@b.c"},
        "timestamp": "2026-11-20T08:00:00Z",
        "params": {"plan": "gold"},
    }
    failed_id = (await api.send(body, expect=422))["results"][0]["id"]

    still_bad = await api.post("/api/v1/failed-events/replay", {"ids": [failed_id]})
    [result] = (await still_bad.json())["results"]
    assert result["status"] == "failed"
    assert result["errors"][0]["code"] == "invalid_type"
    assert [f["id"] for f in await api.failed()] == [failed_id]  # still listed, once

    await api.put(
        "/api/v1/event-definitions/signup", {"fields": [{"code": "plan", "type": "text"}]}
    )
    response = await api.post("/api/v1/failed-events/replay", {"ids": [failed_id, "no-such-id"]})
    results = (await response.json())["results"]
    assert results[0] == {"id": failed_id, "status": "accepted", "event_id": "s-1"}
    assert results[1] == {"id": "no-such-id", "status": "not_found"}
    assert await api.failed() == []
    [event] = await api.events()
    assert event["id"] == "s-1"
    assert event["timestamp"] == "2026-11-20T08:00:00Z"  # the original time, not the replay's
    assert event["version"] == 2
    again = await api.post("/api/v1/failed-events/replay", {"ids": [failed_id]})
    assert (await again.json())["results"][0]["status"] == "already_replayed"


async def test_an_unknown_event_replays_once_it_is_defined(api):
    failed_id = (await api.send({"event": "later", "contact": {"email": "a@b.c"}}, expect=422))[
        "results"
    ][0]["id"]
    await api.define("later")
    response = await api.post("/api/v1/failed-events/replay", {"ids": [failed_id]})
    assert (await response.json())["results"][0]["status"] == "accepted"
    assert len(await api.events(event="later")) == 1


async def test_failed_events_are_searchable_by_reason_event_and_time(api):
    await api.define("known", [{"code": "n", "type": "integer", "required": True}])
    await api.send({"event": "ghost", "contact": {"email": "a@b.c"}})
    await api.send({"event": "known", "contact": {"email": "a@b.c"}})
    await api.post("/api/v1/events", data=b"{oops")
    assert [f["event"] for f in await api.failed(reason="unknown_event")] == ["ghost"]
    assert [f["event"] for f in await api.failed(reason="missing_required")] == ["known"]
    assert [f["event"] for f in await api.failed(event="known")] == ["known"]
    assert len(await api.failed()) == 3
    assert len(await api.failed(since="2000-01-01T00:00:00Z")) == 3
    assert await api.failed(until="2000-01-01T00:00:00Z") == []
    first = await api.get("/api/v1/failed-events", params={"limit": "2"})
    page = await first.json()
    assert len(page["failed_events"]) == 2 and page["next"]
    rest = await (
        await api.get("/api/v1/failed-events", params={"limit": "2", "cursor": page["next"]})
    ).json()
    assert len(rest["failed_events"]) == 1 and rest["next"] is None
    ids = {f["id"] for f in page["failed_events"] + rest["failed_events"]}
    assert len(ids) == 3


async def test_a_replay_needs_a_list_of_ids(api):
    for body in ({}, {"ids": "x"}, {"ids": []}, {"ids": [1]}):
        response = await api.post("/api/v1/failed-events/replay", body)
        assert response.status == 400
