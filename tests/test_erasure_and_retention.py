"""The right to be forgotten, retention per definition, the OpenAPI document."""

from __future__ import annotations

from collector.appkeys import DEFINITIONS, STORAGE
from collector.retention import apply_retention


async def test_erasing_a_contact_removes_its_data_and_keeps_an_audit_row(api):
    await api.define("visit", [{"code": "page", "type": "text"}])
    await api.send(
        {
            "batch": [
                {
                    "event": "visit",
                    "contact": {"email": "gone@example.com"},
                    "params": {"page": "/a"},
                },
                {
                    "event": "visit",
                    "contact": {"email": "gone@example.com"},
                    "params": {"page": "/b"},
                },
                {
                    "event": "visit",
                    "contact": {"email": "stays@example.com"},
                    "params": {"page": "/c"},
                },
                {"event": "nope", "contact": {"email": "gone@example.com"}},
            ]
        }
    )
    [gone] = (
        await (await api.get("/api/v1/contacts", params={"email": "gone@example.com"})).json()
    )["contacts"]
    response = await api.client.delete(f"/api/v1/contacts/{gone['id']}", headers=api.headers())
    body = await response.json()
    assert response.status == 200, body
    assert body["counts"]["events"] == 2 and body["counts"]["failed_events"] == 1
    assert (await api.get(f"/api/v1/contacts/{gone['id']}")).status == 404
    assert [e["params"]["page"] for e in await api.events()] == ["/c"]
    assert await api.failed() == []
    [audit] = await api.app[STORAGE].audit_log()
    assert audit["action"] == "erase_contact" and "gone@" not in str(audit)
    again = await api.client.delete(f"/api/v1/contacts/{gone['id']}", headers=api.headers())
    assert again.status == 404


async def test_erasing_needs_contacts_write(api):
    reader = await api.new_key(scopes="contacts:read")
    contact = await (await api.post("/api/v1/contacts", {"email": "a@b.c"})).json()
    response = await api.client.delete(
        f"/api/v1/contacts/{contact['id']}", headers=api.headers(reader)
    )
    assert response.status == 403


async def test_retention_deletes_events_older_than_the_definitions_days(api):
    await api.define("ping", [], scope="system", retention_days=7)
    await api.define("keep", [], scope="system")
    await api.send(
        {
            "batch": [
                {"event": "ping", "id": "old", "timestamp": "2020-01-01T00:00:00Z"},
                {"event": "ping", "id": "new"},
                {"event": "keep", "id": "kept-old", "timestamp": "2020-01-01T00:00:00Z"},
            ]
        }
    )
    deleted = await apply_retention(api.app[STORAGE], api.app[DEFINITIONS])
    assert deleted["ping"] == 1
    assert sorted(e["id"] for e in await api.events()) == ["kept-old", "new"]


async def test_the_openapi_document_is_served(api):
    doc = await (await api.client.get("/api/v1/openapi.json")).json()
    assert doc["openapi"].startswith("3.")
    assert "/api/v1/events" in doc["paths"] and "delete" in doc["paths"]["/api/v1/contacts/{id}"]
