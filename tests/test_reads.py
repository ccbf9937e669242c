"""Reading events and contacts back: filters, pagination, timelines."""

from __future__ import annotations

import pytest


@pytest.fixture
async def history(api):
    await api.define(
        "view",
        [
            {"code": "page", "type": "text"},
            {"code": "n", "type": "integer"},
            {"code": "vip", "type": "boolean"},
        ],
    )
    await api.define("buy", [{"code": "total", "type": "decimal"}])
    ann = {"email": "ann@example.com"}
    bob = {"phone": "+4470000001"}
    batch = [
        {
            "event": "view",
            "id": "v1",
            "contact": ann,
            "timestamp": "2026-11-01T10:00:00Z",
            "params": {"page": "/home", "n": 1, "vip": True},
        },
        {
            "event": "view",
            "id": "v2",
            "contact": bob,
            "timestamp": "2026-11-02T10:00:00Z",
            "params": {"page": "/shoes", "n": 2, "vip": False},
        },
        {
            "event": "buy",
            "id": "b1",
            "contact": ann,
            "timestamp": "2026-11-03T10:00:00Z",
            "params": {"total": 19.5},
        },
        {
            "event": "view",
            "id": "v3",
            "contact": ann,
            "timestamp": "2026-11-04T10:00:00Z",
            "params": {"page": "/shoes", "n": 3},
        },
    ]
    assert all(r["status"] == "accepted" for r in (await api.send({"batch": batch}))["results"])
    return api


async def test_events_come_newest_first(history):
    assert [e["id"] for e in await history.events()] == ["v3", "b1", "v2", "v1"]


@pytest.mark.parametrize(
    ("query", "ids"),
    [
        ({"event": "view"}, ["v3", "v2", "v1"]),
        ({"email": "ANN@example.com"}, ["v3", "b1", "v1"]),
        ({"phone": "+44 7000 0001"}, ["v2"]),
        ({"email": "nobody@example.com"}, []),
        ({"since": "2026-11-02T00:00:00Z", "until": "2026-11-03T23:59:59Z"}, ["b1", "v2"]),
        ({"since": "2026-11-03 10:00:00"}, ["v3", "b1"]),
        ({"param.page": "/shoes"}, ["v3", "v2"]),
        ({"event": "view", "param.n": "2"}, ["v2"]),
        ({"param.vip": "true"}, ["v1"]),
        ({"param.total": "19.5"}, ["b1"]),
        ({"event": "view", "email": "ann@example.com", "param.page": "/shoes"}, ["v3"]),
    ],
)
async def test_events_are_searchable(history, query, ids):
    assert [e["id"] for e in await history.events(**query)] == ids


async def test_contact_id_filter_matches_the_contact(history):
    [ann] = (
        await (await history.get("/api/v1/contacts", params={"email": "ann@example.com"})).json()
    )["contacts"]
    assert [e["id"] for e in await history.events(contact_id=str(ann["id"]))] == ["v3", "b1", "v1"]


async def test_pages_follow_the_cursor_without_gaps_or_repeats(history):
    seen, cursor = [], None
    while True:
        params = {"limit": "1", **({"cursor": cursor} if cursor else {})}
        page = await (await history.get("/api/v1/events", params=params)).json()
        seen += [e["id"] for e in page["events"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == ["v3", "b1", "v2", "v1"]


async def test_a_contacts_timeline_is_oldest_first(history):
    [ann] = (
        await (await history.get("/api/v1/contacts", params={"email": "ann@example.com"})).json()
    )["contacts"]
    timeline = await (await history.get(f"/api/v1/contacts/{ann['id']}/events")).json()
    assert [e["id"] for e in timeline["events"]] == ["v1", "b1", "v3"]
    missing = await history.get("/api/v1/contacts/99999/events")
    assert missing.status == 404


async def test_contacts_upsert_merges_identifiers_and_attributes(api):
    first = await (
        await api.post("/api/v1/contacts", {"email": "c@d.e", "attributes": {"tier": "gold"}})
    ).json()
    second = await (
        await api.post(
            "/api/v1/contacts",
            {"email": "C@D.E", "phone": "+100200300", "attributes": {"city": "Oslo"}},
        )
    ).json()
    assert second["id"] == first["id"]
    assert second["phone"] == "+100200300"
    assert second["attributes"] == {"tier": "gold", "city": "Oslo"}
    found = await (await api.get("/api/v1/contacts", params={"phone": "+100200300"})).json()
    assert [c["id"] for c in found["contacts"]] == [first["id"]]
    other = await (await api.post("/api/v1/contacts", {"external_id": "x-1"})).json()
    clash = await api.post("/api/v1/contacts", {"external_id": "x-1", "email": "c@d.e"})
    assert clash.status == 409
    assert other["id"] != first["id"]


@pytest.mark.parametrize(
    "body", [{}, {"email": "no-at-sign"}, {"email": "a@b", "attributes": 3}, []]
)
async def test_a_bad_contact_is_400(api, body):
    response = await api.post("/api/v1/contacts", body)
    assert response.status == 400
    assert "message" in (await response.json())["error"]


async def test_an_unknown_contact_is_404(api):
    assert (await api.get("/api/v1/contacts/424242")).status == 404
    assert (await api.get("/api/v1/contacts/not-a-number")).status == 404
