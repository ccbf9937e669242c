"""Event definitions over the HTTP API: create, read, version, hide, refuse bad ones."""

from __future__ import annotations

import pytest

from collector.ecommerce import DEFAULT_NAMES


async def test_a_new_definition_gets_version_1_and_a_source_field(api):
    created = await api.define(
        "purchase",
        [{"code": "amount", "label": "Amount", "type": "decimal", "required": True}],
        title="Purchase",
        category="transaction",
    )
    assert created["version"] == 1
    assert created["category"] == "transaction"
    assert created["scope"] == "customer"
    codes = [f["code"] for f in created["fields"]]
    assert codes == ["source", "amount"]
    fetched = await (await api.get("/api/v1/event-definitions/purchase")).json()
    assert fetched == created


async def test_every_field_type_is_accepted(api):
    types = ["text", "boolean", "date", "timestamp", "integer", "decimal"]
    created = await api.define("typed", [{"code": f"f_{t}", "type": t} for t in types])
    assert [f["type"] for f in created["fields"][1:]] == types


async def test_editing_creates_a_new_version_and_old_versions_stay_readable(api):
    await api.define("signup", [{"code": "plan", "type": "text"}])
    response = await api.put(
        "/api/v1/event-definitions/signup",
        {"title": "Sign-up", "fields": [{"code": "plan", "type": "text", "required": True}]},
    )
    assert response.status == 200
    assert (await response.json())["version"] == 2
    old = await (await api.get("/api/v1/event-definitions/signup?version=1")).json()
    new = await (await api.get("/api/v1/event-definitions/signup")).json()
    assert old["version"] == 1 and old["fields"][1]["required"] is False
    assert new["version"] == 2 and new["fields"][1]["required"] is True
    missing = await api.get("/api/v1/event-definitions/signup?version=9")
    assert missing.status == 404


async def test_a_definition_name_can_only_be_created_once(api):
    await api.define("dup")
    response = await api.post("/api/v1/event-definitions", {"name": "dup"})
    assert response.status == 409
    assert (await response.json())["error"]["code"] == "definition_exists"


@pytest.mark.parametrize(
    ("body", "bad_path"),
    [
        ({"name": "Bad Name"}, "name"),
        ({"name": "ok", "fields": [{"code": "has-hyphen", "type": "text"}]}, "fields[0].code"),
        ({"name": "ok", "fields": [{"code": "Upper", "type": "text"}]}, "fields[0].code"),
        ({"name": "ok", "fields": [{"code": "x", "type": "money"}]}, "fields[0].type"),
        ({"name": "ok", "fields": [{"code": "x"}, {"code": "x"}]}, "fields[1].code"),
        ({"name": "ok", "category": "other"}, "category"),
        ({"name": "ok", "scope": "global"}, "scope"),
        ({"name": "ok", "fields": [{"code": "x", "required": "yes"}]}, "fields[0].required"),
        ({"name": "ok", "retention_days": 0}, "retention_days"),
    ],
)
async def test_an_invalid_definition_is_refused_naming_the_bad_field(api, body, bad_path):
    response = await api.post("/api/v1/event-definitions", body)
    assert response.status == 422
    error = (await response.json())["error"]
    assert error["code"] == "invalid_definition"
    assert bad_path in [d["path"] for d in error["details"]]
    assert (await api.get("/api/v1/event-definitions/ok")).status == 404


async def test_at_most_100_fields_counting_source(api):
    fields = [{"code": f"f{i}", "type": "text"} for i in range(99)]
    assert (await api.define("wide", fields))["fields"][0]["code"] == "source"
    response = await api.post(
        "/api/v1/event-definitions",
        {"name": "wider", "fields": fields + [{"code": "f99", "type": "text"}]},
    )
    assert response.status == 422
    assert "at most 100 fields" in (await response.json())["error"]["message"]


async def test_hiding_is_permanent_and_leaves_lists_but_not_get(api):
    await api.define("old-thing")
    await api.define("kept")
    response = await api.post("/api/v1/event-definitions/old-thing/hide")
    assert response.status == 200 and (await response.json())["hidden"] is True
    listed = await (await api.get("/api/v1/event-definitions")).json()
    names = {d["name"] for d in listed["definitions"]} - DEFAULT_NAMES
    assert names == {"kept"}
    everything = await (await api.get("/api/v1/event-definitions?include_hidden=1")).json()
    names = {d["name"] for d in everything["definitions"]} - DEFAULT_NAMES
    assert names == {"kept", "old-thing"}
    fetched = await (await api.get("/api/v1/event-definitions/old-thing")).json()
    assert fetched["hidden"] is True
    edit = await api.put("/api/v1/event-definitions/old-thing", {"fields": []})
    assert edit.status == 409
    again = await api.post("/api/v1/event-definitions", {"name": "old-thing"})
    assert again.status == 409


async def test_a_key_without_definitions_scope_cannot_define(api):
    reader = await api.new_key(scopes="events:read,events:write")
    response = await api.post("/api/v1/event-definitions", {"name": "nope"}, key=reader)
    assert response.status == 403
    assert (await response.json())["error"]["code"] == "forbidden"
