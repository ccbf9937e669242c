"""Input built to break things gets a 4xx and is kept; neighbours are never harmed."""

from __future__ import annotations

import asyncio

import pytest

from collector.ids import new_id
from collector.model import NewEvent
from collector.storage.sqlite import SQLiteStorage
from collector.writer import Writer


@pytest.fixture
async def ping(api):
    await api.define("ping", [{"code": "n", "type": "integer"}], scope="system")
    return api


@pytest.mark.parametrize(
    "body",
    [
        b'{"event": "\\ud800"}',
        b'{"event": "ping", "params": {"n": 1, "x": "a\\udfffb"}}',
        b'{"event": "ping", "params": {"x": [NaN]}}',
        b'{"event": "ping", "context": {"c": Infinity}}',
        b"[" * 100_000,
        b'{"event": "ping", "params": {"x": ' + b"[" * 40 + b"]" * 40 + b"}}",
        b'{"event": "caf\xe9"}',
    ],
    ids=["surrogate-name", "surrogate-param", "nan", "infinity", "deep-100k", "deep-40", "latin1"],
)
async def test_unstorable_json_is_400_malformed_and_kept(ping, body):
    response = await ping.post("/api/v1/events", data=body)
    assert response.status == 400, await response.text()
    assert (await response.json())["error"]["code"] == "malformed_json"
    assert len(await ping.failed(reason="malformed")) == 1
    assert await ping.events() == []


async def test_a_good_event_next_to_hostile_ones_is_stored(ping):
    bad = [ping.post("/api/v1/events", data=b'{"event": "\\ud800"}') for _ in range(5)]
    good = [
        ping.post("/api/v1/events", json={"event": "ping", "params": {"n": i}}) for i in range(5)
    ]
    responses = await asyncio.gather(*bad, *good)
    assert [r.status for r in responses] == [400] * 5 + [200] * 5
    assert len(await ping.events()) == 5


@pytest.mark.parametrize(
    ("event", "path"),
    [
        ({"event": "ping", "timestamp": "9999-12-31T23:59:59-01:00"}, "timestamp"),
        ({"event": "ping", "timestamp": "0001-01-01T00:00:00+01:00"}, "timestamp"),
        ({"event": "ping", "contact": {"id": 99999999999999999999999}}, "contact.id"),
        ({"event": "ping", "contact": {"id": True}}, "contact.id"),
        ({"event": "ping", "id": ["x"]}, "id"),
        ({"event": "ping", "params": {"bad\n": 1}}, "params.bad\n"),
    ],
)
async def test_out_of_range_values_fail_with_their_path(ping, event, path):
    data = await ping.send(event, expect=422)
    assert path in [e["path"] for e in data["results"][0]["errors"]]


async def test_a_timestamp_param_out_of_range_is_invalid_type(api):
    await api.define("at", [{"code": "when", "type": "timestamp"}], scope="system")
    data = await api.send(
        {"event": "at", "params": {"when": "9999-12-31T23:59:59-01:00"}}, expect=422
    )
    assert data["results"][0]["errors"][0] == {
        "code": "invalid_type",
        "path": "params.when",
        "message": "expected an ISO-8601 time such as 2026-11-24T10:00:00Z for timestamp field",
    }


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/events?since=9999-12-31T23:59:59-01:00",
        "/api/v1/failed-events?until=0001-01-01T00:00:00%2B01:00",
        "/api/v1/events?limit=%C2%B2",
        "/api/v1/event-definitions/ping?version=%C2%B2",
        "/api/v1/event-definitions/ping?version=99999999999999999999",
        "/api/v1/events?cursor=OTk5OTk5OTk5OTk5OTk5OTk5OTkuMQ",
    ],
)
async def test_hostile_query_values_are_400(ping, path):
    response = await ping.get(path)
    assert response.status == 400, await response.text()


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/contacts/99999999999999999999",
        "/api/v1/contacts/99999999999999999999/events",
        "/api/v1/contacts/%C2%B2",
    ],
)
async def test_impossible_contact_ids_are_404(ping, path):
    assert (await ping.get(path)).status == 404


async def test_an_impossible_contact_id_filter_finds_nothing(ping):
    await ping.send({"event": "ping"}, expect=200)
    assert await ping.events(contact_id="99999999999999999999") == []


@pytest.mark.parametrize(
    "body",
    [{"name": "nl\n"}, {"name": "ok", "fields": [{"code": "f\n", "type": "text"}]}],
)
async def test_names_with_a_trailing_newline_are_refused(api, body):
    assert (await api.post("/api/v1/event-definitions", body)).status == 422


async def test_two_concurrent_replays_of_one_failure_store_one_event(api):
    failed_id = (await api.send({"event": "late", "contact": {"email": "a@b.c"}}, expect=422))[
        "results"
    ][0]["id"]
    await api.define("late")
    answers = await asyncio.gather(
        *(api.post("/api/v1/failed-events/replay", {"ids": [failed_id]}) for _ in range(4))
    )
    statuses = sorted([(await a.json())["results"][0]["status"] for a in answers])
    assert statuses.count("accepted") == 1, statuses
    assert len(await api.events(event="late")) == 1


async def test_hiding_while_an_event_auto_creates_a_field_loses_nothing(api):
    await api.define("sig", [], scope="system")
    hide, send = await asyncio.gather(
        api.post("/api/v1/event-definitions/sig/hide"),
        api.post("/api/v1/events", {"event": "sig", "params": {"newp": 1}}),
    )
    assert hide.status == 200
    assert send.status in (200, 422), await send.text()
    kept = len(await api.events(event="sig")) + len(await api.failed(event="sig"))
    assert kept == 1


async def test_an_operators_field_wins_over_an_auto_created_one(api):
    await api.define("sig", [], scope="system")
    operator_field = {"code": "color", "label": "Colour", "type": "text", "required": True}
    for _ in range(3):
        await asyncio.gather(
            api.put(
                "/api/v1/event-definitions/sig", {"scope": "system", "fields": [operator_field]}
            ),
            api.post("/api/v1/events", {"event": "sig", "params": {"color": 5}}),
        )
    definition = await (await api.get("/api/v1/event-definitions/sig")).json()
    color = {f["code"]: f for f in definition["fields"]}["color"]
    assert (color["type"], color["label"], color["required"]) == ("text", "Colour", True)


def _event(params):
    return NewEvent(
        id=new_id(),
        event="tick",
        ts=1,
        received_at=1,
        contact=None,
        session_id=None,
        params=params,
        context={},
        version=1,
        source="api",
        api_inserted=True,
        api_verified=False,
    )


async def test_a_job_the_database_refuses_fails_alone(tmp_path):
    storage = SQLiteStorage(str(tmp_path / "w.db"))
    await storage.open()
    writer = Writer(storage)
    writer.start()
    try:
        jobs = [writer.write([_event({"n": i})]) for i in range(3)]
        jobs.insert(1, writer.write([_event({"bad": "\udc80"})]))  # SQLite cannot encode it
        results = await asyncio.gather(*jobs, return_exceptions=True)
        assert isinstance(results[1], UnicodeEncodeError)
        assert [r[0].status for i, r in enumerate(results) if i != 1] == ["accepted"] * 3
    finally:
        await writer.stop()
        await storage.close()


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({f"p{i}": i for i in range(101)}, "too_many_params"),
        ({"x" * 65: 1}, "invalid_param"),
        ({"n": 1, "note": "x" * 9000}, "value_too_long"),
    ],
)
async def test_parameter_limits_fail_with_a_clear_reason_and_are_kept(ping, params, code):
    data = await ping.send({"event": "ping", "params": params}, expect=422)
    assert data["results"][0]["errors"][0]["code"] == code
    assert len(await ping.failed(reason=code)) == 1


async def test_sql_and_html_looking_values_are_stored_verbatim(ping):
    odd = ["'; DROP TABLE events; --", "<script>alert(1)</script>", '" OR 1=1 --']
    for i, value in enumerate(odd):
        await ping.send({"event": "ping", "id": f"odd-{i}", "params": {"note": value}}, expect=200)
    stored = {e["id"]: e["params"]["note"] for e in await ping.events()}
    assert stored == {f"odd-{i}": v for i, v in enumerate(odd)}
    assert [e["id"] for e in await ping.events(**{"param.note": odd[0]})] == ["odd-0"]
