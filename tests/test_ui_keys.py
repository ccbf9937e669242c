"""Keys in the UI: created with the secret shown once, revoked at once."""

from __future__ import annotations

import re


async def test_a_server_key_is_shown_once_and_works(ui, api):
    response = await ui.post(
        "/keys",
        [
            ("name", "crm sync"),
            ("kind", "server"),
            ("scopes", "events:read"),
            ("allow_read", "email"),
        ],
    )
    assert response.status == 200
    page = await response.text()
    token = re.search(r'id="new-key">(ek_sk_[^<]+)<', page).group(1)
    assert "shown only this once" in page
    listing = await (await ui.get("/keys")).text()
    assert token not in listing and token[:10] in listing
    ok = await api.get("/api/v1/events", key=token)
    assert ok.status == 200
    refused = await api.post("/api/v1/events", {"event": "x"}, key=token)
    assert refused.status == 403  # only events:read


async def test_a_site_key_needs_origins_and_links_its_snippet(ui):
    bad = await ui.post("/keys", {"name": "shop", "kind": "site", "origins": ""})
    assert bad.status == 422 and "origin" in await bad.text()
    good = await ui.post(
        "/keys",
        {
            "name": "shop",
            "kind": "site",
            "origins": "https://shop.example\nhttps://www.shop.example",
        },
    )
    page = await good.text()
    token = re.search(r'id="new-key">(ek_pk_[^<]+)<', page).group(1)
    assert f"/api/v1/snippet?site_key={token}" in page


async def test_a_revoked_key_stops_working_at_once(ui, api):
    key = await api.new_key(name="old backend")
    assert (await api.get("/api/v1/events", key=key)).status == 200
    listing = await (await ui.get("/keys")).text()
    key_id = re.search(
        r'action="/keys/(\d+)/revoke">\s*<input type="hidden" name="csrf" '
        r'value="[^"]+">\s*<button type="submit" class="danger" '
        r'data-confirm="Revoke old backend',
        listing,
    ).group(1)
    response = await ui.post(f"/keys/{key_id}/revoke", {}, allow_redirects=False)
    assert response.status == 302
    assert (await api.get("/api/v1/events", key=key)).status == 401
