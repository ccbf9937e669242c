"""Segment's HTTP Tracking API, spoken by hand: messages, auth, limits, identity."""

from __future__ import annotations

import base64
import json

import pytest


@pytest.fixture
async def seg(api):
    await api.define("signed-up", [{"code": "plan", "type": "text"}])
    api.basic = {"Authorization": "Basic " + base64.b64encode(f"{api.key}:".encode()).decode()}
    return api


async def _post(api, path, body, headers=None, raw=None):
    response = await api.client.post(
        path, data=raw or json.dumps(body), headers=headers if headers is not None else api.basic
    )
    return response.status, await response.json()


async def test_track_with_basic_auth_maps_names_and_keys(seg):
    status, body = await _post(
        seg,
        "/v1/track",
        {
            "userId": "u-1",
            "event": "Signed Up",
            "messageId": "m-1",
            "properties": {"plan": "pro", "referralCode": "X1"},
            "timestamp": "2026-11-20T10:00:00Z",
            "context": {"library": {"name": "test"}},
        },
    )
    assert status == 200 and body["success"] is True
    [event] = await seg.events(event="signed-up")
    assert event["id"] == "m-1" and event["timestamp"] == "2026-11-20T10:00:00Z"
    assert event["params"] == {"plan": "pro", "referral_code": "X1", "source": "api"}
    assert event["context"]["library"]["name"] == "test"
    contact = await (await seg.get(f"/api/v1/contacts/{event['contact_id']}")).json()
    assert contact["external_id"] == "u-1"


async def test_the_write_key_may_come_in_the_body_and_json_whatever_the_content_type(seg):
    status, _ = await _post(
        seg,
        "/v1/t",
        None,
        headers={"Content-Type": "text/plain"},
        raw=json.dumps({"writeKey": seg.key, "anonymousId": "a-1", "event": "signed-up"}),
    )
    assert status == 200
    status, body = await _post(
        seg, "/v1/track", {"event": "signed-up", "anonymousId": "a"}, headers={}
    )
    assert status == 401


async def test_message_id_makes_a_retry_a_duplicate(seg):
    message = {"type": "track", "userId": "u", "event": "signed-up", "messageId": "again"}
    await _post(seg, "/v1/batch", {"batch": [message]})
    _, body = await _post(seg, "/v1/batch", {"batch": [message]})
    assert body["results"][0]["status"] == "duplicate"
    assert len(await seg.events(event="signed-up")) == 1


async def test_sent_at_corrects_the_clock_of_original_timestamps(seg):
    await _post(
        seg,
        "/v1/track",
        {
            "userId": "u",
            "event": "signed-up",
            "originalTimestamp": "2020-01-01T00:00:00Z",
            "sentAt": "2020-01-01T00:00:10Z",
        },
    )
    [event] = await seg.events(event="signed-up")
    received = event["received_at"]
    from collector.timeutil import parse_time_us

    assert abs(parse_time_us(received) - parse_time_us(event["timestamp"]) - 10_000_000) < 1_000_000


async def test_page_becomes_a_page_view(seg):
    await _post(
        seg,
        "/v1/page",
        {"anonymousId": "a-2", "name": "Pricing", "properties": {"url": "https://x.test/pricing"}},
    )
    [view] = await seg.events(event="page-view")
    assert view["params"]["title"] == "Pricing" and view["params"]["url"].endswith("/pricing")
    assert view["session_id"] == "seg:a-2"


async def test_identify_links_the_anonymous_session_and_backfills(seg):
    await _post(
        seg,
        "/v1/batch",
        {
            "batch": [
                {"type": "track", "anonymousId": "anon-9", "event": "signed-up", "messageId": "1"},
                {"type": "page", "anonymousId": "anon-9", "name": "Home", "messageId": "2"},
                {
                    "type": "identify",
                    "anonymousId": "anon-9",
                    "userId": "user-9",
                    "traits": {"email": "Nine@Example.com", "plan": "pro", "firstName": "Nina"},
                },
                {"type": "track", "anonymousId": "anon-9", "event": "signed-up", "messageId": "3"},
            ]
        },
    )
    contact = await (await seg.get("/api/v1/contacts", params={"external_id": "user-9"})).json()
    [nine] = contact["contacts"]
    assert nine["email"] == "nine@example.com"
    assert nine["attributes"] == {"plan": "pro", "first_name": "Nina"}
    timeline = (await (await seg.get(f"/api/v1/contacts/{nine['id']}/events")).json())["events"]
    assert [(e["id"], e["backfilled"]) for e in timeline] == [
        ("1", True),
        ("2", True),
        ("3", False),
    ]


async def test_alias_joins_the_previous_ids_events(seg):
    await _post(seg, "/v1/track", {"anonymousId": "old-anon", "event": "signed-up"})
    status, body = await _post(seg, "/v1/alias", {"previousId": "old-anon", "userId": "u-77"})
    assert status == 200 and body["results"][0]["backfilled"] == 1
    [event] = await seg.events(event="signed-up")
    contact = await (await seg.get(f"/api/v1/contacts/{event['contact_id']}")).json()
    assert contact["external_id"] == "u-77"


async def test_limits_are_answered_with_400(seg):
    big = {"userId": "u", "event": "signed-up", "properties": {"pad": "x" * 33_000}}
    status, body = await _post(seg, "/v1/track", big)
    assert status == 400 and body["error"]["code"] == "payload_too_large"
    batch = {
        "batch": [
            {
                "type": "track",
                "userId": "u",
                "event": "signed-up",
                "properties": {"pad": "x" * 20_000},
            }
        ]
        * 30
    }
    status, _ = await _post(seg, "/v1/batch", batch)
    assert status == 400
    assert await seg.events(event="signed-up") == []


async def test_unknown_events_are_kept_as_failed_events(seg):
    status, body = await _post(seg, "/v1/track", {"userId": "u", "event": "Never Defined"})
    assert status == 200 and body["results"][0]["status"] == "failed"
    [failed] = await seg.failed(event="never-defined")
    assert failed["reasons"][0]["code"] == "unknown_event"
