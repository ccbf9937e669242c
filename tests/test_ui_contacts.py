"""UI pages: finding contacts and a contact's profile with their timeline."""

from __future__ import annotations

import html
import re

import collector.web.ui_contacts as ui_contacts

XSS = "<img src=x onerror=alert(1)>"
CONTACT_LINK = re.compile(r'href="/contacts/(\d+)"')
EVENT_LINK = re.compile(r'href="/events/([^"?]+)"')
MORE = re.compile(r'<a href="([^"]+)" rel="next">')


def ids_in(page: str, pattern: re.Pattern[str]) -> list[str]:
    return list(dict.fromkeys(pattern.findall(page)))


async def contact(api, **body) -> int:
    response = await api.post("/api/v1/contacts", body)
    assert response.status in (200, 201), await response.text()
    return (await response.json())["id"]


async def test_contact_search_finds_by_email_phone_and_external_id_prefix(ui, api):
    ann = await contact(api, email="ann@example.com", phone="+15550100")
    anna = await contact(api, email="anna@example.org")
    bob = await contact(api, email="bob@example.com", external_id="crm-42")
    everyone = await (await ui.get("/contacts")).text()
    assert ids_in(everyone, CONTACT_LINK) == [str(bob), str(anna), str(ann)]
    for query, expected in {
        "ann": [anna, ann],
        "ANNA": [anna],
        "bob@": [bob],
        "+1555": [ann],
        "crm-": [bob],
        "zed": [],
    }.items():
        response = await ui.get(f"/contacts?q={query.replace('+', '%2B')}")
        assert response.status == 200
        page = await response.text()
        assert ids_in(page, CONTACT_LINK) == [str(i) for i in expected], query
    page = await (await ui.get("/contacts?q=crm-")).text()
    assert "crm-42" in page and "bob@example.com" in page and 'value="crm-"' in page


async def test_contact_search_pages_through_many_contacts(ui, api, monkeypatch):
    monkeypatch.setattr(ui_contacts, "PAGE_SIZE", 2)
    made = [await contact(api, email=f"c{i}@example.com") for i in range(3)]
    page = await (await ui.get("/contacts?q=c")).text()
    assert ids_in(page, CONTACT_LINK) == [str(made[2]), str(made[1])]
    more = html.unescape(MORE.search(page).group(1))
    assert "q=c" in more
    page = await (await ui.get(more)).text()
    assert ids_in(page, CONTACT_LINK) == [str(made[0])]
    assert not MORE.search(page)
    bad = await ui.get("/contacts?cursor=nonsense")
    assert bad.status == 400 and "cursor" in await bad.text()


async def backfilled_contact(api) -> int:
    await api.define("article-read", [{"code": "title", "type": "text"}])
    session = (await (await api.post("/api/v1/sessions")).json())["session"]
    for i, ts in enumerate(("2026-01-01T10:00:00Z", "2026-01-01T10:05:00Z")):
        await api.send(
            {
                "event": "article-read",
                "id": f"anon-{i}",
                "session": session,
                "timestamp": ts,
                "params": {"title": f"before {i}"},
            },
            expect=200,
        )
    response = await api.post("/api/v1/identify", {"session": session, "email": "dee@example.com"})
    linked = await response.json()
    assert response.status == 200 and linked["backfilled"] == 2, linked
    await api.send(
        {
            "event": "article-read",
            "id": "known-1",
            "contact": {"email": "dee@example.com"},
            "timestamp": "2026-01-02T09:00:00Z",
            "params": {"title": "after"},
        },
        expect=200,
    )
    return linked["contact_id"]


async def test_a_profile_shows_the_timeline_oldest_first_with_backfilled_badges(ui, api):
    contact_id = await backfilled_contact(api)
    response = await ui.get(f"/contacts/{contact_id}")
    assert response.status == 200
    page = await response.text()
    assert "dee@example.com" in page
    assert ids_in(page, EVENT_LINK) == ["anon-0", "anon-1", "known-1"]
    assert page.count(">backfilled</span>") == 2
    rows = page.split("<li>")
    assert ">backfilled</span>" in rows[1] and ">backfilled</span>" not in rows[3]
    assert "title=before 0" in page and "2026-01-01 10:00:00" in page
    assert f'href="/events?contact_id={contact_id}"' in page


async def test_a_long_timeline_pages_forward_in_time(ui, api, monkeypatch):
    monkeypatch.setattr(ui_contacts, "PAGE_SIZE", 2)
    contact_id = await backfilled_contact(api)
    page = await (await ui.get(f"/contacts/{contact_id}")).text()
    assert ids_in(page, EVENT_LINK) == ["anon-0", "anon-1"]
    later = html.unescape(MORE.search(page).group(1))
    page = await (await ui.get(later)).text()
    assert ids_in(page, EVENT_LINK) == ["known-1"]
    assert not MORE.search(page)


async def test_a_profile_shows_identifiers_and_attributes_escaped(ui, api):
    contact_id = await contact(
        api,
        email="eve@example.com",
        phone="+1 555 0199",
        external_id="crm-7",
        attributes={"note": XSS, "tags": ["vip", XSS]},
    )
    await api.define("purchase", [{"code": "color", "type": "text"}])
    await api.send(
        {"event": "purchase", "contact": {"id": contact_id}, "params": {"color": XSS}}, expect=200
    )
    page = await (await ui.get(f"/contacts/{contact_id}")).text()
    assert "eve@example.com" in page and "+15550199" in page and "crm-7" in page
    assert "note" in page and "tags" in page
    assert "<img" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    listing = await (await ui.get("/contacts")).text()
    assert "<img" not in listing


async def test_unknown_contacts_answer_a_404_page(ui, api):
    for path in ("/contacts/999999", "/contacts/abc", "/contacts/0"):
        response = await ui.get(path)
        assert response.status == 404, path
        assert response.content_type == "text/html"
        assert "No such contact" in await response.text()


async def test_a_contact_can_be_erased_from_its_page(ui, api):
    contact = await (await api.post("/api/v1/contacts", {"email": "bye@example.com"})).json()
    page = await ui.get(f"/contacts/{contact['id']}")
    assert "right to be forgotten" in await page.text()
    response = await ui.post(f"/contacts/{contact['id']}/erase", {}, allow_redirects=False)
    assert response.status == 302 and "done=erased" in response.headers["Location"]
    assert (await api.get(f"/api/v1/contacts/{contact['id']}")).status == 404
