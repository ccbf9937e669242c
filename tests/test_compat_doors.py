"""The enKod, MSG91 and Squeezely doors: their wire formats, the same pipeline."""

from __future__ import annotations

import pytest


@pytest.fixture
async def doors(api):
    await api.define("signup", [{"code": "plan", "type": "text"}])
    await api.define("purchase", [{"code": "amount", "type": "decimal"}])
    return api


async def _contact(api, **query):
    found = (await (await api.get("/api/v1/contacts", params=query)).json())["contacts"]
    return found[0] if found else None


async def test_enkod_events_go_to_a_known_contact(doors):
    known = await (await doors.post("/api/v1/contacts", {"email": "ann@example.com"})).json()
    response = await doors.post(
        "/api/v1/customEvent/save",
        {"event": "signup", "email": "Ann@Example.com", "params": {"plan": "pro"}},
    )
    assert response.status == 200, await response.text()
    [event] = await doors.events(event="signup")
    assert event["contact_id"] == known["id"] and event["params"]["plan"] == "pro"
    assert event["api_inserted"] and event["api_verified"]


async def test_enkod_events_of_unknown_people_wait_on_the_session_then_join(doors):
    session = (await (await doors.post("/api/v1/sessions")).json())["session"]
    response = await doors.post(
        "/api/v1/customEvent/save",
        {"event": "signup", "email": "new@example.com", "session": session, "params": {}},
    )
    assert response.status == 200
    assert await _contact(doors, email="new@example.com") is None  # no contact made
    [waiting] = await doors.events(event="signup")
    assert waiting["contact_id"] is None and waiting["session_id"]
    linked = await (
        await doors.post("/api/v1/identify", {"session": session, "email": "new@example.com"})
    ).json()
    assert linked["backfilled"] == 1
    [joined] = await doors.events(event="signup")
    assert joined["contact_id"] == linked["contact_id"] and joined["backfilled"]


async def test_enkod_events_with_nobody_and_no_session_fail_and_are_kept(doors):
    response = await doors.post(
        "/api/v1/customEvent/save", {"event": "signup", "phone": "+100200300", "params": {}}
    )
    assert response.status == 422
    errors = (await response.json())["results"][0]["errors"]
    assert [(e["code"], e["path"]) for e in errors] == [("unknown_contact", "phone")]
    assert len(await doors.failed(reason="unknown_contact")) == 1


async def test_msg91_items_answer_one_by_one(doors):
    crm = await (await doors.post("/api/v1/contacts", {"external_id": "crm-1"})).json()
    response = await doors.client.post(
        "/api/v1/user-events",
        headers={"authkey": doors.key},
        json={
            "data": [
                {
                    "event_name": "purchase",
                    "visitor_id": "crm-1",
                    "event_timestamp": "2026-11-20 08:30:00",
                    "event_properties": {"amount": "12.5"},
                    "context": {"app": "ios"},
                    "type": "custom",
                },
                {"event_name": "purchase", "visitor_id": str(crm["id"]), "event_properties": {}},
                {"event_name": "purchase", "visitor_id": "stranger", "event_properties": {}},
                {"event_name": "purchase", "event_properties": {}},
            ]
        },
    )
    body = await response.json()
    assert response.status == 200, body
    assert [r["status"] for r in body["results"]] == ["accepted", "accepted", "failed", "failed"]
    assert body["results"][2]["errors"][0] == {
        "code": "unknown_contact",
        "path": "visitor_id",
        "message": "no contact with visitor_id stranger",
    }
    assert body["results"][3]["errors"][0]["path"] == "visitor_id"
    events = await doors.events(event="purchase")
    assert {e["contact_id"] for e in events} == {crm["id"]}
    first = next(e for e in events if e["params"].get("amount") == 12.5)
    assert first["timestamp"] == "2026-11-20T08:30:00Z"
    assert first["context"] == {"app": "ios", "type": "custom"}


async def test_msg91_needs_its_data_list(doors):
    response = await doors.post("/api/v1/user-events", {"event_name": "purchase"})
    assert response.status == 400
    assert len(await doors.failed(reason="malformed")) == 1


async def test_squeezely_backend_events_need_event_and_email(doors):
    ok = await doors.post(
        "/api/v1/backend-events",
        {
            "event": "purchase",
            "email": "sue@example.com",
            "amount": 30,
            "currency": "EUR",
            "language": "nl",
        },
    )
    assert ok.status == 200, await ok.text()
    [event] = await doors.events(event="purchase")
    assert event["params"] == {"amount": 30, "currency": "EUR", "language": "nl", "source": "api"}
    assert event["api_inserted"] and event["api_verified"]
    bad = await doors.post("/api/v1/backend-events", {"event": "purchase", "amount": 1})
    assert bad.status == 422
    assert (await bad.json())["results"][0]["errors"][0]["path"] == "email"


async def test_squeezely_custom_fields_set_existing_contact_fields_only(doors):
    await doors.post(
        "/api/v1/contacts", {"email": "sue@example.com", "attributes": {"tier": "silver"}}
    )
    ok = await doors.post(
        "/api/v1/backend-events",
        {"event": "signup", "email": "sue@example.com", "custom_tier": "gold"},
    )
    assert ok.status == 200
    sue = await _contact(doors, email="sue@example.com")
    assert sue["attributes"] == {"tier": "gold"}
    unknown = await doors.post(
        "/api/v1/backend-events",
        {"event": "signup", "email": "sue@example.com", "custom_shoe_size": 42},
    )
    assert unknown.status == 422
    [failed] = await doors.failed(reason="unknown_contact_field")
    assert failed["reasons"][0]["path"] == "custom_shoe_size"
    await doors.post("/api/v1/contacts", {"email": "x@example.com", "attributes": {"shoe_size": 0}})
    replay = await doors.post("/api/v1/failed-events/replay", {"ids": [failed["id"]]})
    assert (await replay.json())["results"][0]["status"] == "accepted"
    assert (await _contact(doors, email="sue@example.com"))["attributes"]["shoe_size"] == 42
