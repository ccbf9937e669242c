"""The browser door at the HTTP level: tracker script, collect, sessions, identify, backfill.

(What a real browser does with them is in test_tracker_browser.py.)
"""

from __future__ import annotations

import gzip
import json
import time

import pytest

from collector.appkeys import STORAGE
from collector.identity import identity_hash
from collector.keys import create_key
from collector.timeutil import parse_time_us

SHOP = "http://shop.test"
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)


class Browser:
    """Speaks the tracker's wire format, keeping the session cookie like a browser."""

    def __init__(self, api, site_key: str, origin: str = SHOP) -> None:
        self.api, self.site_key, self.origin = api, site_key, origin
        self.cookie: str | None = None
        self.token: str | None = None
        self.n = 0

    def event(self, name: str, params=None, **identity) -> dict:
        self.n += 1
        ev = {
            "i": f"{name}-{self.n}-{time.monotonic_ns()}",
            "n": name,
            "t": int(time.time() * 1000),
            "p": params or {},
            "c": {"u": f"{SHOP}/p?utm_source=news", "ti": "Shop", "l": "en"},
        }
        if identity:
            ev["u"] = identity
        return ev

    async def send(self, *events, expect: int = 200, origin: str | None = None, **extra):
        headers = {"Origin": origin or self.origin, "User-Agent": CHROME}
        if self.cookie:
            headers["Cookie"] = f"ek_sid={self.cookie}"
        body = {"k": self.site_key, "s": self.token, "e": list(events), **extra}
        self.api.client.session.cookie_jar.clear()  # this class is the cookie jar
        response = await self.api.client.post("/e", data=json.dumps(body), headers=headers)
        data = await response.json()
        assert response.status == expect, data
        if response.status == 200:
            morsel = response.cookies["ek_sid"]
            assert morsel["httponly"] and morsel["samesite"] == "Lax"
            self.cookie = morsel.value
            self.token = data["s"]
            assert self.token == self.cookie
        return data


@pytest.fixture
async def site(api):
    await api.define("page-view", [{"code": "title", "type": "text", "required": True}])
    await api.define("add-to-cart", [{"code": "product_id", "type": "text", "required": True}])
    api.site_key = await create_key(api.app[STORAGE], name="shop", kind="site", origins=(SHOP,))
    return api


async def _session_of(api, event_id: str) -> str:
    [event] = [e for e in await api.events(limit="1000") if e["id"] == event_id]
    return event["session_id"]


async def test_the_tracker_is_served_minified_gzipped_with_an_etag(site):
    response = await site.client.get(
        f"/s/{site.site_key}.js", headers={"Accept-Encoding": "gzip"}, auto_decompress=False
    )
    assert response.status == 200
    assert response.headers["Content-Encoding"] == "gzip"
    assert response.content_type == "application/javascript"
    script = gzip.decompress(await response.read()).decode()
    assert f'"k":"{site.site_key}"' in script
    assert '"e":"http://127.0.0.1:' in script and '/e"' in script
    assert "/*" not in script and "\n" not in script
    again = await site.client.get(
        f"/s/{site.site_key}.js", headers={"If-None-Match": response.headers["ETag"]}
    )
    assert again.status == 304
    assert (await site.client.get("/s/ek_pk_unknown.js")).status == 404
    assert (await site.client.get(f"/s/{site.key}.js")).status == 404  # a server key is no site


async def test_enabled_web_tracking_rules_reach_the_tracker_config(site):
    before = await site.client.get(f"/s/{site.site_key}.js")
    rule = {
        "trigger": {"on": "click", "selector": ".buy"},
        "params": {"product_id": {"from": "data", "name": "product-id"}},
    }
    await site.put(
        "/api/v1/event-definitions/add-to-cart",
        {
            "fields": [{"code": "product_id", "type": "text", "required": True}],
            "web_tracking": {"enabled": True, "rules": [rule]},
        },
    )
    after = await site.client.get(f"/s/{site.site_key}.js")
    script = await after.text()
    assert '"n":"add-to-cart"' in script and '"selector":".buy"' in script
    assert after.headers["ETag"] != before.headers["ETag"]


async def test_the_install_snippet_is_html_with_the_stub_and_an_async_tag(site):
    response = await site.client.get("/api/v1/snippet", params={"site_key": site.site_key})
    assert response.status == 200 and response.content_type == "text/html"
    html = await response.text()
    assert "window.ekEvents=window.ekEvents||" in html
    assert f'<script async src="http://127.0.0.1:{site.client.port}/s/{site.site_key}.js">' in html
    assert (await site.client.get("/api/v1/snippet", params={"site_key": "x"})).status == 404


async def test_collect_accepts_events_from_an_allowed_origin_with_web_context(site):
    browser = Browser(site, site.site_key)
    data = await browser.send(browser.event("page-view", {"title": "Home"}))
    assert data["r"][0]["status"] == "accepted"
    [event] = await site.events()
    assert event["source"] == "website" and event["params"]["source"] == "website"
    assert event["api_inserted"] is False and event["api_verified"] is False
    assert event["contact_id"] is None and event["session_id"]
    context = event["context"]
    assert context["page"]["path"] == "/p" and context["page"]["title"] == "Shop"
    assert context["utm"] == {"source": "news"}
    assert context["user_agent"]["browser"] == "Chrome"
    assert context["user_agent"]["os"] == "Windows" and context["user_agent"]["device"] == "desktop"
    assert context["locale"] == "en" and context["client_time"].endswith("Z")


async def test_a_wrong_or_missing_origin_is_refused_and_nothing_is_stored(site):
    browser = Browser(site, site.site_key)
    data = await browser.send(
        browser.event("page-view", {"title": "x"}), expect=403, origin="https://evil.test"
    )
    assert data["error"]["code"] == "forbidden_origin"
    response = await site.client.post(
        "/e",
        data=json.dumps({"k": site.site_key, "e": [browser.event("page-view", {"title": "x"})]}),
    )
    assert response.status == 403
    response = await site.client.post(
        "/e",
        data=json.dumps({"k": site.site_key, "e": [browser.event("page-view", {"title": "x"})]}),
        headers={"Referer": f"{SHOP}/some/page"},
    )
    assert response.status == 200
    assert len(await site.events()) == 1
    assert (await Browser(site, site.key).send(expect=401))["error"]["code"] == "unauthorized"


async def test_the_session_cookie_keeps_one_session_and_a_tampered_one_starts_anew(site):
    browser = Browser(site, site.site_key)
    first = browser.event("page-view", {"title": "a"})
    await browser.send(first)
    second = browser.event("page-view", {"title": "b"})
    await browser.send(second)
    session = await _session_of(site, first["i"])
    assert await _session_of(site, second["i"]) == session

    original = browser.cookie
    browser.cookie = original[:-2] + ("AA" if not original.endswith("AA") else "BB")
    browser.token = browser.cookie  # the tracker's copy is tampered too
    third = browser.event("page-view", {"title": "c"})
    await browser.send(third)
    assert browser.cookie != original
    assert await _session_of(site, third["i"]) not in (None, session)


async def test_the_token_in_the_body_stands_in_for_a_blocked_cookie(site):
    browser = Browser(site, site.site_key)
    first = browser.event("page-view", {"title": "a"})
    await browser.send(first)
    browser.cookie = None  # cookies blocked: only the tracker's copy travels
    second = browser.event("page-view", {"title": "b"})
    await browser.send(second)
    assert await _session_of(site, second["i"]) == await _session_of(site, first["i"])


async def test_identify_backfills_the_anonymous_history_in_order(site):
    browser = Browser(site, site.site_key)
    anonymous = [browser.event("page-view", {"title": f"p{i}"}) for i in range(3)]
    for event in anonymous:
        await browser.send(event)
    cart = browser.event("add-to-cart", {"product_id": "sku-1"})
    data = await browser.send(
        cart,
        browser.event("$identify", email="Ann@Example.com"),
        browser.event("page-view", {"title": "after"}),
    )
    assert [r["status"] for r in data["r"]] == ["accepted", "identified", "accepted"]
    [ann] = (
        await (await site.get("/api/v1/contacts", params={"email": "ann@example.com"})).json()
    )["contacts"]
    timeline = (await (await site.get(f"/api/v1/contacts/{ann['id']}/events")).json())["events"]
    assert [e["params"].get("title", e["event"]) for e in timeline] == [
        "p0",
        "p1",
        "p2",
        "add-to-cart",
        "after",
    ]
    assert [e["backfilled"] for e in timeline] == [True, True, True, True, False]
    sent_times = [e["t"] for e in anonymous]
    stored_times = [parse_time_us(e["timestamp"]) for e in timeline[:3]]
    assert stored_times == sorted(stored_times) and len(sent_times) == 3


async def test_a_shared_computer_does_not_merge_two_people(site):
    browser = Browser(site, site.site_key)
    await browser.send(browser.event("$identify", email="ann@example.com"))
    await browser.send(browser.event("page-view", {"title": "ann's"}))
    await browser.send(browser.event("$identify", email="bob@example.com"))
    await browser.send(browser.event("page-view", {"title": "bob's"}))
    by_title = {e["params"]["title"]: e["contact_id"] for e in await site.events()}
    ann = await (await site.get("/api/v1/contacts", params={"email": "ann@example.com"})).json()
    bob = await (await site.get("/api/v1/contacts", params={"email": "bob@example.com"})).json()
    assert by_title == {"ann's": ann["contacts"][0]["id"], "bob's": bob["contacts"][0]["id"]}


async def test_an_event_pushed_with_an_email_goes_to_that_contact(site):
    browser = Browser(site, site.site_key)
    await browser.send(browser.event("page-view", {"title": "x"}, email="cy@example.com"))
    [event] = await site.events(email="cy@example.com")
    assert event["params"]["title"] == "x" and event["api_verified"] is False


async def test_a_site_requiring_identity_hashes_refuses_unverified_identities(site):
    strict = await create_key(
        site.app[STORAGE], name="strict", kind="site", origins=(SHOP,), require_identity_hash=True
    )
    secret = (
        await site.app[STORAGE].key_by_hash(
            __import__("collector.keys", fromlist=["hash_key"]).hash_key(strict)
        )
    ).identity_secret
    browser = Browser(site, strict)
    before = browser.event("page-view", {"title": "before"})
    data = await browser.send(
        before, browser.event("$identify", email="dee@example.com", hash="00" * 32)
    )
    assert data["r"][1]["status"] == "refused"
    [refused] = await site.failed(reason="identity_refused")
    assert refused["event"] == "$identify"
    assert (await site.events())[0]["contact_id"] is None  # kept on the session

    good = identity_hash(secret, "dee@example.com")
    data = await browser.send(
        browser.event("$identify", email="dee@example.com", hash=good),
        browser.event("page-view", {"title": "after"}),
    )
    assert data["r"][0] == {"status": "identified", "verified": True}
    events = {e["params"]["title"]: e for e in await site.events(email="dee@example.com")}
    assert set(events) == {"before", "after"}
    assert events["before"]["backfilled"] and events["before"]["api_verified"]
    assert events["after"]["api_verified"] and not events["after"]["backfilled"]


async def test_server_made_sessions_and_identify_over_the_api(site):
    session = (await (await site.post("/api/v1/sessions")).json())["session"]
    for i in range(3):
        await site.send(
            {"event": "page-view", "session": session, "params": {"title": f"t{i}"}}, expect=200
        )
    response = await site.post("/api/v1/identify", {"session": session, "external_id": "crm-9"})
    linked = await response.json()
    assert response.status == 200 and linked["backfilled"] == 3
    timeline = await (await site.get(f"/api/v1/contacts/{linked['contact_id']}/events")).json()
    assert [e["params"]["title"] for e in timeline["events"]] == ["t0", "t1", "t2"]
    bad = await site.post("/api/v1/identify", {"session": session + "x", "email": "a@b.c"})
    assert bad.status == 400 and (await bad.json())["error"]["code"] == "invalid_session"
    missing = await site.post("/api/v1/identify", {"session": session, "contact_id": 99999})
    assert missing.status == 404


async def test_client_clock_offset_is_corrected_by_the_send_time(site):
    browser = Browser(site, site.site_key)
    skew = 3600 * 1000  # the visitor's clock is an hour fast
    event = browser.event("page-view", {"title": "x"})
    event["t"] += skew - 5000  # made 5 s before it was sent
    await browser.send(event, st=int(time.time() * 1000) + skew)
    [stored] = await site.events()
    from collector.timeutil import parse_time_us

    lag = time.time() - parse_time_us(stored["timestamp"]) / 1e6
    assert 4 < lag < 15, lag


async def test_a_site_key_reads_nothing(site):
    for path in (
        "/api/v1/events",
        "/api/v1/failed-events",
        "/api/v1/event-definitions",
        "/api/v1/contacts?email=a@b.c",
    ):
        response = await site.get(path, key=site.site_key)
        assert response.status == 401, path
    response = await site.post("/api/v1/events", {"event": "page-view"}, key=site.site_key)
    assert response.status == 401


async def test_the_served_tracker_is_at_most_3000_bytes_gzipped(site):
    response = await site.client.get(
        f"/s/{site.site_key}.js", headers={"Accept-Encoding": "gzip"}, auto_decompress=False
    )
    size = len(await response.read())
    assert size <= 3000, f"the tracker grew to {size} bytes gzipped"


async def test_cors_headers_go_only_to_the_site_keys_own_origins(site):
    body = json.dumps({"k": site.site_key, "e": []})
    wrong = await site.client.post("/e", data=body, headers={"Origin": "https://evil.test"})
    assert wrong.status == 403 and "Access-Control-Allow-Origin" not in wrong.headers
    too_many = json.dumps({"k": site.site_key, "e": [{}] * 101})
    own = await site.client.post("/e", data=too_many, headers={"Origin": SHOP})
    assert own.status == 400 and own.headers["Access-Control-Allow-Origin"] == SHOP
    ok = await site.client.post("/e", data=body, headers={"Origin": SHOP})
    assert ok.headers["Access-Control-Allow-Origin"] == SHOP
    assert ok.headers["Access-Control-Allow-Credentials"] == "true"
