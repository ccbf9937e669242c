"""Bad requests get a clear JSON error, never a trace, and whatever was sent is kept."""

from __future__ import annotations

import json

import pytest


@pytest.fixture
async def defined(api):
    await api.define("ping", [{"code": "n", "type": "integer"}], scope="system")
    return api


async def test_a_missing_or_wrong_key_is_401_and_nothing_is_kept(defined):
    client = defined.client
    for headers in ({}, {"Authorization": "Bearer ek_sk_wrong"}, {"Authorization": "Basic !!"}):
        response = await client.post("/api/v1/events", json={"event": "ping"}, headers=headers)
        assert response.status == 401
        assert (await response.json())["error"]["code"] == "unauthorized"
    assert await defined.failed() == []
    assert await defined.events() == []


async def test_msg91_style_authkey_header_is_accepted(defined):
    response = await defined.client.post(
        "/api/v1/events", json={"event": "ping"}, headers={"authkey": defined.key}
    )
    assert response.status == 200, await response.text()


async def test_malformed_json_is_400_and_the_raw_body_is_kept(defined):
    response = await defined.post("/api/v1/events", data=b'{"event": "ping",, }')
    assert response.status == 400
    error = (await response.json())["error"]
    assert error["code"] == "malformed_json"
    [failed] = await defined.failed(reason="malformed")
    assert failed["payload"] == '{"event": "ping",, }'
    assert failed["reasons"][0]["code"] == "malformed"


async def test_a_body_over_512_kb_is_413_and_kept_cut_to_the_limit(defined):
    body = json.dumps({"batch": [{"event": "ping", "params": {"pad": "x" * 1000}}] * 600})
    assert len(body) > 512 * 1024
    response = await defined.post("/api/v1/events", data=body.encode())
    assert response.status == 413
    assert (await response.json())["error"]["code"] == "payload_too_large"
    [failed] = await defined.failed(reason="payload_too_large")
    assert len(failed["payload"]) == 512 * 1024
    assert body.startswith(failed["payload"])


async def test_an_event_over_32_kb_is_413_alone_and_failed_in_a_batch(defined):
    big = {"event": "ping", "params": {"pad": "x" * (33 * 1024)}}
    response = await defined.post("/api/v1/events", big)
    assert response.status == 413
    body = await response.json()
    assert body["error"]["code"] == "payload_too_large"
    batch = await defined.send({"batch": [big, {"event": "ping"}]}, expect=200)
    assert [r["status"] for r in batch["results"]] == ["failed", "accepted"]
    assert len(await defined.failed(reason="payload_too_large")) == 2


async def test_more_than_500_events_is_400_too_many_events_and_kept(defined):
    response = await defined.post("/api/v1/events", {"batch": [{"event": "ping"}] * 501})
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "too_many_events"
    assert len(await defined.failed(reason="too_many_events")) == 1
    assert await defined.events() == []
    ok = await defined.send({"batch": [{"event": "ping"}] * 500}, expect=200)
    assert len(ok["results"]) == 500


async def test_a_batch_that_is_not_a_list_is_400_and_kept(defined):
    response = await defined.post("/api/v1/events", {"batch": {"event": "ping"}})
    assert response.status == 400
    assert len(await defined.failed(reason="malformed")) == 1


async def test_unknown_paths_and_methods_answer_json_errors(defined):
    response = await defined.get("/api/v1/nothing-here")
    assert response.status == 404
    assert (await response.json())["error"]["code"] == "not_found"
    response = await defined.client.delete("/api/v1/events", headers=defined.headers())
    assert response.status == 405
    assert (await response.json())["error"]["code"] == "method_not_allowed"


@pytest.mark.parametrize(
    "query",
    [
        {"since": "not a time"},
        {"limit": "0"},
        {"limit": "abc"},
        {"cursor": "%%%"},
        {"param.Bad-Code": "1"},
    ],
)
async def test_bad_search_parameters_are_400_not_500(defined, query):
    response = await defined.get("/api/v1/events", params=query)
    assert response.status == 400, await response.text()
    assert (await response.json())["error"]["code"] == "invalid_query"


async def test_scopes_and_identifier_rights_are_enforced(defined):
    await defined.define("visit", [])
    read_only = await defined.new_key(scopes="events:read")
    response = await defined.post("/api/v1/events", {"event": "ping"}, key=read_only)
    assert response.status == 403
    no_email = await defined.new_key(allow_write="contact_id,phone", allow_read="phone")
    response = await defined.post(
        "/api/v1/events", {"event": "visit", "contact": {"email": "a@b.c"}}, key=no_email
    )
    assert response.status == 403
    assert "email" in (await response.json())["error"]["message"]
    response = await defined.post(
        "/api/v1/events", {"event": "visit", "contact": {"phone": "+123456"}}, key=no_email
    )
    assert response.status == 200
    response = await defined.get("/api/v1/events", params={"email": "a@b.c"}, key=no_email)
    assert response.status == 403
    response = await defined.get("/api/v1/contacts", params={"email": "a@b.c"}, key=no_email)
    assert response.status == 403
    assert await defined.failed() == []
