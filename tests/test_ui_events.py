"""UI pages: the event history, an event's detail, failed events and their replay."""

from __future__ import annotations

import html
import json
import re

XSS = "<img src=x onerror=alert(1)>"
ESCAPED = "&lt;img src=x onerror=alert(1)&gt;"
SHOP = "http://shop.test"
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
EVENT_LINK = re.compile(r'href="/events/([^"?]+)"')
FAILED_LINK = re.compile(r'href="/failed/([^"?]+)"')
OLDER = re.compile(r'<a href="([^"]+)" rel="next">')


def ids_in(page: str, pattern: re.Pattern[str] = EVENT_LINK) -> list[str]:
    return list(dict.fromkeys(pattern.findall(page)))


async def seed(api) -> None:
    await api.define(
        "purchase", [{"code": "amount", "type": "integer"}, {"code": "color", "type": "text"}]
    )
    await api.define("signup")
    ann, bob = {"email": "ann@example.com"}, {"email": "bob@example.com"}
    data = await api.send(
        {
            "batch": [
                {
                    "event": "signup",
                    "id": "e1",
                    "contact": ann,
                    "timestamp": "2026-01-01T10:00:00Z",
                },
                {
                    "event": "purchase",
                    "id": "e2",
                    "contact": ann,
                    "timestamp": "2026-01-02T10:00:00Z",
                    "params": {"amount": 10, "color": "red"},
                },
                {
                    "event": "purchase",
                    "id": "e3",
                    "contact": bob,
                    "timestamp": "2026-01-03T10:00:00Z",
                    "params": {"amount": 20, "color": "blue"},
                },
            ]
        }
    )
    assert [r["status"] for r in data["results"]] == ["accepted"] * 3


async def history(ui, query: str = "", status: int = 200) -> str:
    response = await ui.get(f"/events{query}")
    page = await response.text()
    assert response.status == status, page
    assert response.content_type == "text/html"
    return page


async def test_the_history_lists_events_newest_first_with_contacts_and_charts(ui, api):
    await seed(api)
    page = await history(ui)
    assert ids_in(page) == ["e3", "e2", "e1"]
    assert "ann@example.com" in page and "bob@example.com" in page
    assert 'href="/contacts/' in page
    assert "amount=20, color=blue" in page
    assert page.count('<svg class="chart"') == 2
    assert "2026-01-03 10:00:00" in page


async def test_each_history_filter_narrows_the_list(ui, api):
    await seed(api)
    cases = {
        "?event=purchase": ["e3", "e2"],
        "?email=ANN@example.com": ["e2", "e1"],
        "?email=nobody@example.com": [],
        "?since=2026-01-02T00:00": ["e3", "e2"],
        "?until=2026-01-02T10:00:00Z": ["e2", "e1"],
        "?since=2026-01-02&until=2026-01-02 23:59:59": ["e2"],
        "?param=color&param_value=red": ["e2"],
        "?event=purchase&param=amount&param_value=20": ["e3"],
        "?event=purchase&email=ann@example.com": ["e2"],
        "?param.color=blue": ["e3"],
    }
    for query, expected in cases.items():
        assert ids_in(await history(ui, query)) == expected, query


async def test_the_contact_id_filter_and_the_contact_link_agree(ui, api):
    await seed(api)
    page = await history(ui, "?email=bob@example.com")
    contact_id = re.search(r'href="/contacts/(\d+)"', page).group(1)
    assert ids_in(await history(ui, f"?contact_id={contact_id}")) == ["e3"]


async def test_bad_filter_input_shows_an_inline_error_and_keeps_the_form(ui, api):
    await seed(api)
    page = await history(ui, "?since=yesterday&email=ann@example.com", status=400)
    assert "ISO-8601" in page
    assert 'value="ann@example.com"' in page
    assert 'value="yesterday"' in page
    page = await history(ui, "?event=purchase&param=amount&param_value=lots", status=400)
    assert "must be a integer" in page or "must be an integer" in page
    page = await history(ui, "?param_value=red", status=400)
    assert "Choose the parameter" in page
    await history(ui, "?cursor=garbage", status=400)


async def test_pagination_walks_the_pages_keeping_the_filters(ui, api):
    await seed(api)
    page = await history(ui, "?limit=2")
    assert ids_in(page) == ["e3", "e2"]
    older = html.unescape(OLDER.search(page).group(1))
    page = await history(ui, older.removeprefix("/events"))
    assert ids_in(page) == ["e1"]
    assert not OLDER.search(page)
    assert "Newest" in page

    page = await history(ui, "?event=purchase&limit=1")
    assert ids_in(page) == ["e3"]
    older = html.unescape(OLDER.search(page).group(1))
    assert "event=purchase" in older
    page = await history(ui, older.removeprefix("/events"))
    assert ids_in(page) == ["e2"]
    assert not OLDER.search(page)


async def test_an_event_from_the_browser_shows_its_parsed_user_agent_and_page(ui, api):
    await api.define("article-read", [{"code": "title", "type": "text"}])
    site_key = await api.new_key(kind="site", origins=(SHOP,))
    body = {
        "k": site_key,
        "e": [
            {
                "i": "web-1",
                "n": "article-read",
                "p": {"title": "Hello"},
                "c": {"u": f"{SHOP}/blog/hello?utm_source=news", "ti": "Hello post", "l": "en"},
            }
        ],
    }
    response = await api.client.post(
        "/e", data=json.dumps(body), headers={"Origin": SHOP, "User-Agent": CHROME}
    )
    assert response.status == 200, await response.text()
    page = await (await ui.get("/events/web-1")).text()
    text = html.unescape(page)
    for expected in ("Chrome", "Windows", "desktop", "/blog/hello", "Hello post", "news"):
        assert expected in text, expected
    assert 'href="/definitions/article-read/versions/1"' in page
    assert "website" in page  # the source filled in for web events
    assert "anonymous session" in page
    assert "API inserted" not in page


async def test_an_api_event_shows_params_version_source_and_its_badges(ui, api):
    await api.define("purchase", [{"code": "amount", "type": "integer"}])
    await api.put(
        "/api/v1/event-definitions/purchase", {"fields": [{"code": "amount", "type": "decimal"}]}
    )
    await api.send(
        {
            "event": "purchase",
            "id": "api-1",
            "contact": {"email": "ann@example.com"},
            "params": {"amount": 9.5, "items": [{"sku": "A-1", "qty": 2}], "source": "checkout"},
            "context": {"user_agent": CHROME, "ip": "203.0.113.7"},
        },
        expect=200,
    )
    response = await ui.get("/events/api-1")
    assert response.status == 200
    page = await response.text()
    text = html.unescape(page)
    assert "API inserted" in page and "API verified" in page
    [stored] = await api.events()
    assert stored["version"] == 3  # the edit, then `items` auto-created
    assert 'href="/definitions/purchase/versions/3"' in page
    assert "checkout" in page
    assert "9.5" in page
    assert '"sku": "A-1"' in text  # nested JSON pretty-printed
    assert "<pre>" in page
    assert "Chrome" in text and "Windows" in text  # a raw header sent by a backend, parsed
    assert "203.0.113.7" in page
    assert "ann@example.com" in page


async def test_unknown_events_answer_a_404_page(ui, api):
    for path in ("/events/no-such-event", "/events/a/b"):
        response = await ui.get(path)
        assert response.status == 404, path
        assert response.content_type == "text/html"
        assert "No such event" in await response.text()


# -- failed events ---------------------------------------------------------------------------


async def make_failures(api) -> dict[str, str]:
    await api.define("signup", [{"code": "plan", "type": "integer"}])
    bad_type = await api.send(
        {"event": "signup", "contact": {"email": "a@b.c"}, "params": {"plan": "gold"}}, expect=422
    )
    ghost = await api.send({"event": "ghost", "contact": {"email": "a@b.c"}}, expect=422)
    await api.post("/api/v1/events", data=b"{oops")
    [malformed] = await api.failed(reason="malformed")
    return {
        "signup": bad_type["results"][0]["id"],
        "ghost": ghost["results"][0]["id"],
        "malformed": malformed["id"],
    }


async def failed_page(ui, query: str = "", status: int = 200) -> str:
    response = await ui.get(f"/failed{query}")
    page = await response.text()
    assert response.status == status, page
    return page


async def test_the_failed_list_shows_every_reason_and_filters_by_reason(ui, api):
    ids = await make_failures(api)
    page = await failed_page(ui)
    assert ids_in(page, FAILED_LINK) == [ids["malformed"], ids["ghost"], ids["signup"]]
    for text in ("invalid_type", "params.plan", "unknown_event", "no event definition named ghost"):
        assert text in page, text
    assert "/api/v1/events" in page  # where it came from
    assert ids_in(await failed_page(ui, "?reason=unknown_event"), FAILED_LINK) == [ids["ghost"]]
    assert ids_in(await failed_page(ui, "?event=signup"), FAILED_LINK) == [ids["signup"]]
    assert ids_in(await failed_page(ui, "?until=2000-01-01T00:00"), FAILED_LINK) == []
    assert len(ids_in(await failed_page(ui, "?since=2000-01-01T00:00"), FAILED_LINK)) == 3
    assert "ISO-8601" in await failed_page(ui, "?since=soon&reason=unknown_event", status=400)


async def test_the_failed_list_pages_with_older_links(ui, api):
    ids = await make_failures(api)
    page = await failed_page(ui, "?limit=2")
    assert ids_in(page, FAILED_LINK) == [ids["malformed"], ids["ghost"]]
    older = html.unescape(OLDER.search(page).group(1))
    assert ids_in(await failed_page(ui, older.removeprefix("/failed")), FAILED_LINK) == [
        ids["signup"]
    ]


async def test_a_failed_event_detail_shows_its_raw_payload_reasons_and_source(ui, api):
    ids = await make_failures(api)
    page = await (await ui.get(f"/failed/{ids['signup']}")).text()
    text = html.unescape(page)
    assert '"plan": "gold"' in text
    assert "invalid_type" in page and "/api/v1/events" in page and "test server" in page
    assert 'action="/failed/replay"' in page and ">Replay</button>" in page
    raw = html.unescape(await (await ui.get(f"/failed/{ids['malformed']}")).text())
    assert "{oops" in raw and "raw text" in raw
    missing = await ui.get("/failed/no-such-id")
    assert missing.status == 404 and missing.content_type == "text/html"


async def test_replaying_selected_events_after_fixing_the_definition_moves_them_out(ui, api):
    ids = await make_failures(api)
    await failed_page(ui)
    await api.put(
        "/api/v1/event-definitions/signup", {"fields": [{"code": "plan", "type": "text"}]}
    )
    response = await ui.post(
        "/failed/replay",
        [("ids", ids["signup"]), ("ids", ids["ghost"]), ("back", "/failed?event=&reason=")],
        allow_redirects=False,
    )
    assert response.status == 302
    location = response.headers["Location"]
    assert location.startswith("/failed?") and "done=replayed" in location
    assert "accepted=1" in location and "failing=1" in location
    page = await failed_page(ui, location.removeprefix("/failed"))
    assert "1 accepted" in page and "1 still failing" in page
    assert ids_in(page, FAILED_LINK) == [ids["malformed"], ids["ghost"]]
    assert [e["params"]["plan"] for e in await api.events(event="signup")] == ["gold"]


async def test_replaying_everything_on_the_page_and_from_a_detail_page(ui, api):
    ids = await make_failures(api)
    await api.define("ghost")
    await failed_page(ui, "?reason=unknown_event")
    response = await ui.post(
        "/failed/replay",
        [("page_ids", ids["ghost"]), ("scope", "page"), ("back", "/failed?reason=unknown_event")],
        allow_redirects=False,
    )
    location = response.headers["Location"]
    assert location.startswith("/failed?reason=unknown_event&") and "accepted=1" in location
    assert ids_in(await failed_page(ui), FAILED_LINK) == [ids["malformed"], ids["signup"]]

    await api.put(
        "/api/v1/event-definitions/signup", {"fields": [{"code": "plan", "type": "text"}]}
    )
    await ui.get(f"/failed/{ids['signup']}")
    response = await ui.post(
        "/failed/replay",
        {"ids": ids["signup"], "back": f"/failed/{ids['signup']}"},
        allow_redirects=False,
    )
    location = response.headers["Location"]
    assert location.startswith(f"/failed/{ids['signup']}?")
    page = await (await ui.get(location)).text()
    assert "replayed" in page and ">Replay</button>" not in page
    assert 'href="/events/' in page  # to the event it became


async def test_a_replay_needs_a_selection_and_returns_only_to_failed_pages(ui, api):
    ids = await make_failures(api)
    await failed_page(ui)
    response = await ui.post("/failed/replay", {"scope": "selected", "back": "/failed"})
    assert response.status == 400
    assert "Select at least one" in await response.text()
    response = await ui.post(
        "/failed/replay",
        {"ids": ids["ghost"], "back": "https://evil.example/failed"},
        allow_redirects=False,
    )
    assert response.headers["Location"].startswith("/failed?")


async def test_a_replay_without_the_csrf_token_is_refused(ui, api):
    ids = await make_failures(api)
    response = await api.client.post(
        "/failed/replay", data={"ids": ids["ghost"]}, allow_redirects=False
    )
    assert response.status == 403
    response = await api.client.post(
        "/failed/replay", data={"ids": ids["ghost"], "csrf": "forged"}, allow_redirects=False
    )
    assert response.status == 403
    assert len(await api.failed()) == 3


# -- escaping --------------------------------------------------------------------------------


async def test_hostile_values_are_escaped_on_history_detail_and_failed_pages(ui, api):
    await api.define("purchase", [{"code": "color", "type": "text"}])
    await api.send(
        {
            "event": "purchase",
            "id": "x-1",
            "contact": {"email": "ann@example.com"},
            "params": {"color": XSS, "nested": {"note": XSS}},
            "context": {"page": {"url": XSS, "title": XSS}, "locale": XSS},
        },
        expect=200,
    )
    failure = await api.send({"event": XSS, "contact": {"email": "ann@example.com"}}, expect=422)
    failed_id = failure["results"][0]["id"]
    for path in ("/events", "/events/x-1", "/failed", f"/failed/{failed_id}"):
        page = await (await ui.get(path)).text()
        assert "<img" not in page, path
        assert ESCAPED in page or "&lt;img" in page, path
