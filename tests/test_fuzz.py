"""Hypothesis throws arbitrary input at every ingestion endpoint and every filter: the
server never answers 5xx, and a well-formed event is never lost."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.appkeys import STORAGE
from collector.ids import new_id
from collector.keys import create_key

SETTINGS = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=30) | st.sampled_from(
    [
        "\u0000",
        "\ud7ff",
        "'; DROP TABLE events; --",
        "<script>alert(1)</script>",
        "$event.x",
        "9" * 400,
        "-0",
        "1e999",
        "2026-02-30",
        "2026-11-24T25:61:00Z",
        "",
        " ",
        "ü" * 3,
    ]
)
NUMBERS = (
    st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([2**63, -(2**63) - 1, 10**30, 1e308, -0.0])
)
JSON = st.recursive(
    st.none() | st.booleans() | NUMBERS | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=25,
)
DOORS = [
    "/api/v1/events",
    "/api/v1/customEvent/save",
    "/api/v1/user-events",
    "/api/v1/backend-events",
    "/v1/track",
    "/v1/batch",
    "/v1/identify",
    "/v1/page",
    "/v1/alias",
    "/api/v1/segments/preview",
    "/api/v1/audience/query",
    "/api/v1/failed-events/replay",
    "/api/v1/contacts",
    "/api/v1/identify",
    "/api/v1/event-definitions",
    "/api/v1/scenarios",
    "/api/v1/segments",
]
SHAPED = st.fixed_dictionaries(
    {},
    optional={
        "event": TEXT | st.sampled_from(["ping", "page-view", "$identify"]),
        "id": JSON,
        "timestamp": TEXT | NUMBERS,
        "contact": JSON,
        "session": JSON,
        "params": JSON,
        "context": JSON,
        "batch": st.lists(JSON, max_size=3),
        "data": st.lists(JSON, max_size=3),
        "email": TEXT,
        "rules": JSON,
        "q": TEXT,
        "ids": st.lists(TEXT, max_size=3),
        "name": TEXT,
        "fields": JSON,
        "type": st.sampled_from(["track", "identify", "x"]),
        "userId": JSON,
        "anonymousId": JSON,
        "properties": JSON,
        "trigger": JSON,
        "actions": JSON,
    },
)
BODIES = (
    JSON.map(lambda v: json.dumps(v).encode())
    | SHAPED.map(lambda v: json.dumps(v, ensure_ascii=False).encode("utf-8", "replace"))
    | st.binary(max_size=200)
    | st.sampled_from(
        [b"[" * 5000, b'{"event": "ping", "n": 1e99999}', b"\x00\xff{", b'{"a": "\\ud800"}', b"NaN"]
    )
)


@pytest.fixture
async def target(api):
    await api.define(
        "ping", [{"code": "n", "type": "integer"}, {"code": "s", "type": "text"}], scope="system"
    )
    api.site_key = await create_key(
        api.app[STORAGE], name="site", kind="site", origins=("http://shop.test",)
    )
    return api


@SETTINGS
@given(path=st.sampled_from(DOORS), body=BODIES)
async def test_no_body_makes_an_endpoint_answer_5xx(target, path, body):
    response = await target.post(path, data=body)
    assert response.status < 500, (path, body, await response.text())


@SETTINGS
@given(body=SHAPED.map(lambda v: json.dumps(v).encode()) | BODIES)
async def test_no_body_makes_the_browser_door_answer_5xx(target, body):
    try:
        inner = json.loads(body)
    except (ValueError, RecursionError):
        inner = None
    if isinstance(inner, dict):  # as a tracker would wrap it
        body = json.dumps({"k": target.site_key, "e": [inner]}).encode()
    response = await target.client.post("/e", data=body, headers={"Origin": "http://shop.test"})
    assert response.status < 500, (body, await response.text())


FILTERS = [
    "event",
    "contact_id",
    "email",
    "phone",
    "external_id",
    "since",
    "until",
    "limit",
    "cursor",
    "param.n",
    "param.s",
    "param.Bad",
    "reason",
    "include_hidden",
    "version",
]
READS = [
    "/api/v1/events",
    "/api/v1/failed-events",
    "/api/v1/contacts",
    "/api/v1/products",
    "/api/v1/event-definitions",
    "/api/v1/event-definitions/ping",
    "/api/v1/segments",
    "/api/v1/contacts/1/events",
    "/api/v1/segments/1/contacts",
    "/api/v1/event-types",
]


@SETTINGS
@given(
    path=st.sampled_from(READS), query=st.dictionaries(st.sampled_from(FILTERS), TEXT, max_size=4)
)
async def test_no_filter_makes_a_read_answer_5xx(target, path, query):
    response = await target.get(path, params=query)
    assert response.status < 500, (path, query, await response.text())


@SETTINGS
@given(n=st.integers(-(2**63), 2**63 - 1), s=st.text(max_size=200))
async def test_a_well_formed_event_is_always_stored(target, n, s):
    event_id = new_id()  # hypothesis replays examples; each send is a new event
    data = await target.send(
        {"event": "ping", "id": event_id, "params": {"n": n, "s": s}}, expect=200
    )
    assert data["results"][0]["status"] == "accepted"
    stored = await target.app[STORAGE].get_event(event_id)
    assert stored["params"]["n"] == n and stored["params"]["s"] == s
