"""The tracker in a real browser (Debian's Chromium through Playwright), asserting on what
the collector stored, not on what the page sent."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from browsing import Collector, Site, chromium
from serverproc import Server, free_port_pair

from collector.timeutil import parse_time_us

pytestmark = pytest.mark.browser

CLICKED = [{"code": "n", "type": "integer"}]


@pytest.fixture
async def collector(tmp_path):
    collector = await Collector(tmp_path).start()
    await collector.define("page-view", [{"code": "title", "type": "text", "required": True}])
    await collector.define("clicked", CLICKED)
    yield collector
    await collector.stop()


@pytest.fixture
async def site(collector):
    site = await Site().start(collector)
    yield site
    await site.stop()


@pytest.fixture
async def browser():
    async with chromium() as browser:
        yield browser


async def _delay_tracker(page, seconds: float = 0.5) -> None:
    """Hold the tracker back so page code surely runs before it loads."""

    async def slow(route):
        await asyncio.sleep(seconds)
        await route.continue_()

    await page.route("**/s/*.js", slow)


async def test_pushes_made_before_the_tracker_loads_arrive_in_order(collector, site, browser):
    site.page(
        "/early",
        "",
        head="<script>for (var i = 0; i < 5; i++) "
        "ekEvents.push('clicked', {params: {n: i}});</script>",
    )
    page = await browser.new_page()
    await _delay_tracker(page)
    await page.goto(site.origin + "/early")
    events = await collector.wait_for(5, event="clicked")
    assert [e["params"]["n"] for e in events] == [0, 1, 2, 3, 4]
    assert len({e["session_id"] for e in events}) == 1


async def test_an_event_pushed_right_before_navigating_away_arrives(collector, site, browser):
    site.page(
        "/leave",
        "<a id='go' href='/elsewhere'>go</a><script>"
        "document.getElementById('go').addEventListener('click', function () {"
        "ekEvents.push('clicked', {params: {n: 99}}); });</script>",
    )
    site.page("/elsewhere", "a page without the tracker", snippet=False)
    page = await browser.new_page()
    await page.goto(site.origin + "/leave")
    await collector.wait_for(1, event="page-view")
    await page.click("#go")
    await page.wait_for_url("**/elsewhere")
    [event] = await collector.wait_for(1, event="clicked")
    assert event["params"]["n"] == 99


async def test_events_sent_while_the_collector_is_down_arrive_once_when_it_returns(
    collector, site, browser
):
    site.page("/shop", "<p>shop</p>")
    page = await browser.new_page()
    await page.goto(site.origin + "/shop")
    await collector.wait_for(1, event="page-view")
    collector.server.stop()
    for n in range(3):
        await page.evaluate(f"ekEvents.push('clicked', {{params: {{n: {n}}}}}); ekEvents.flush()")
    await page.wait_for_timeout(1500)  # sends fail, then back off and retry
    await asyncio.to_thread(collector.server.start)
    await page.goto(site.origin + "/shop")  # the next page load sends what is queued
    await page.wait_for_timeout(3000)  # and the retry timer of the old page may fire too
    events = await collector.wait_for(3, event="clicked")
    assert sorted(e["params"]["n"] for e in events) == [0, 1, 2]
    assert len(events) == 3, "a retried event was stored twice"


async def test_anonymous_browsing_then_login_backfills_the_history_in_order(tmp_path, browser):
    port = free_port_pair()
    demo = Server(tmp_path / "demo.db")
    demo.args = ["demo", "--db", demo.db_url, "--port", str(port)]
    demo.port, demo.url = port, f"http://127.0.0.1:{port}"
    with demo:
        shop = f"http://127.0.0.1:{port + 1}"
        for _ in range(100):  # the demo prints its keys once its data is in
            if "site key" in demo.output():
                break
            await asyncio.sleep(0.1)
        key = [line.split()[-1] for line in demo.output().splitlines() if "server key" in line][0]
        page = await browser.new_page()
        await page.goto(f"{shop}/index.html")
        # A visitor reads the page before moving on; a next page opened before the first
        # answer arrived would have no session yet and start a second one.
        await page.wait_for_function("localStorage.getItem('ek_s') !== null")
        await page.goto(f"{shop}/product.html?id=tee-red")
        await page.click("#add")
        await page.goto(f"{shop}/login.html")
        await page.fill("input[name=email]", "Walker@Example.com")
        await page.fill("input[name=password]", "secret")
        await page.click("button[type=submit]")
        await page.wait_for_url("**/index.html")
        await page.goto(f"{shop}/checkout.html")
        await page.goto(f"{shop}/index.html")

        await page.select_option("select[name=topic]", "sales")
        await page.click("#newsletter button")  # a no-code rule, nothing in the page's code
        await page.wait_for_selector("#thanks", state="visible")

        auth = {"Authorization": f"Bearer {key}"}
        async with aiohttp.ClientSession(demo.url, headers=auth) as http:
            timeline = []
            for _ in range(100):
                lookup = {"email": "walker@example.com"}
                async with http.get("/api/v1/contacts", params=lookup) as r:
                    found = (await r.json()).get("contacts", [])
                if found:
                    async with http.get(f"/api/v1/contacts/{found[0]['id']}/events") as r:
                        timeline = (await r.json())["events"]
                names = {e["event"] for e in timeline}
                # the order's beacon, sent as the checkout page was left, may come last
                if {"newsletter-signup", "order-completed"} <= names:
                    break
                await asyncio.sleep(0.1)
    steps = [(e["event"], e["context"]["page"]["path"], e["backfilled"]) for e in timeline]
    assert steps[:5] == [
        ("page-view", "/index.html", True),
        ("page-view", "/product.html", True),
        ("product-viewed", "/product.html", True),
        ("add-to-cart", "/product.html", True),
        ("page-view", "/login.html", True),
    ], steps
    after_login = steps[5:]
    assert ("order-completed", "/checkout.html", False) in after_login, steps
    assert all(not backfilled for _, _, backfilled in after_login), steps
    times = [parse_time_us(e["timestamp"]) for e in timeline]  # not strings: "48.96Z" > "48.969Z"
    assert times == sorted(times)
    order = next(e for e in timeline if e["event"] == "order-completed")
    assert order["params"]["products"][0]["product_id"] == "tee-red"
    signup = next(e for e in timeline if e["event"] == "newsletter-signup")
    assert signup["params"]["topic"] == "sales"


async def test_a_tampered_cookie_starts_a_new_session(collector, site, browser):
    site.page("/p", "<p>hello</p>")
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(site.origin + "/p")
    [first] = await collector.wait_for(1, event="page-view")
    # The event is committed before the tracker has read the answer that carries the token.
    await page.wait_for_function("localStorage.getItem('ek_s') !== null")
    [cookie] = [c for c in await context.cookies() if c["name"] == "ek_sid"]
    assert cookie["httpOnly"] and cookie["value"] == await page.evaluate(
        "localStorage.getItem('ek_s')"
    )
    forged = cookie["value"][:-3] + ("xyz" if not cookie["value"].endswith("xyz") else "abc")
    await context.add_cookies([{**cookie, "value": forged}])
    await page.evaluate(f"localStorage.setItem('ek_s', {forged!r})")
    await page.goto(site.origin + "/p")
    events = await collector.wait_for(2, event="page-view")
    assert events[1]["session_id"] not in (None, first["session_id"])
    [renewed] = [c for c in await context.cookies() if c["name"] == "ek_sid"]
    assert renewed["value"] not in (forged, cookie["value"])


async def test_a_page_on_a_wrong_origin_is_refused_and_not_broken(collector, browser):
    elsewhere = Site()
    foreign_key = collector.site_key("https://other-shop.example")
    await elsewhere.start(collector)
    try:
        snippet = elsewhere.snippet.replace(elsewhere.site_key, foreign_key)
        elsewhere.pages["/x"] = (
            f"<html><head><title>t</title>{snippet}</head><body><script>"
            "ekEvents.push('clicked', {params: {n: 1}}); window.stillRunning = true;"
            "</script></body></html>"
        )
        page = await browser.new_page()
        errors = []
        page.on("pageerror", lambda e: errors.append(e))
        # the collector answers 403 without CORS headers, so the page cannot even read it:
        # to the browser the send failed
        ended = []
        page.on("requestfailed", lambda r: r.url.endswith("/e") and ended.append("failed"))
        page.on("requestfinished", lambda r: r.url.endswith("/e") and ended.append("finished"))
        await page.goto(elsewhere.origin + "/x")
        for _ in range(50):
            if ended:
                break
            await page.wait_for_timeout(100)
        assert ended, "the tracker never tried to send"
        assert await page.evaluate("window.stillRunning") is True
        assert errors == []
        assert await collector.events() == []
    finally:
        await elsewhere.stop()


async def test_spa_navigation_records_page_views(collector, site, browser):
    site.page(
        "/spa*",
        """<button id=a onclick="history.pushState({}, '', '/spa/a')">a</button>
        <button id=same onclick="history.replaceState({}, '', '/spa/a')">same</button>
        <button id=b onclick="history.pushState({}, '', '/spa/b?tab=2')">b</button>""",
    )
    page = await browser.new_page()
    await page.goto(site.origin + "/spa")
    await collector.wait_for(1, event="page-view")
    await page.click("#a")
    await page.click("#same")
    await page.click("#b")
    await page.go_back()
    events = await collector.wait_for(4, event="page-view")
    await page.wait_for_timeout(500)
    events = await collector.events(event="page-view")
    assert [e["context"]["page"]["path"] for e in events] == ["/spa", "/spa/a", "/spa/b", "/spa/a"]
    assert events[2]["params"]["url"].endswith("/spa/b?tab=2")


async def test_a_throwing_page_and_bad_calls_do_not_break_tracking(collector, site, browser):
    rule = {
        "trigger": {"on": "click", "selector": ".buy"},
        "params": {"n": {"from": "data", "name": "n"}, "label": {"from": "text"}},
    }
    assert collector.http
    async with collector.http.put(
        "/api/v1/event-definitions/clicked",
        json={"fields": CLICKED, "web_tracking": {"enabled": True, "rules": [rule]}},
    ) as r:
        assert r.status == 200
    site.page(
        "/broken",
        """<button class="buy" data-n="7">Buy now</button>
        <script>
        document.querySelector('.buy').addEventListener('click', function () {
          throw new Error('the page has a bug');
        });
        ekEvents.push();
        ekEvents.push(42, 'x');
        ekEvents.push('clicked', 'not an object');
        ekEvents.push('clicked', {params: {n: 1}});
        window.afterBadCalls = true;
        </script>""",
    )
    page = await browser.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.goto(site.origin + "/broken")
    await page.click(".buy")
    events = await collector.wait_for(2, event="clicked")
    assert sorted(e["params"]["n"] for e in events) == [1, 7]
    no_code = next(e for e in events if e["params"]["n"] == 7)
    assert no_code["params"]["label"] == "Buy now"
    assert await page.evaluate("window.afterBadCalls") is True
    assert errors == ["Error: the page has a bug"] or errors == ["the page has a bug"], errors


async def test_automatic_page_views_can_be_turned_off_on_the_script_tag(collector, site, browser):
    off = site.snippet.replace("<script async ", '<script data-auto-pageview="false" async ')
    assert off != site.snippet
    site.pages["/quiet"] = (
        f"<html><head><title>q</title>{off}</head><body><script>"
        "ekEvents.push('clicked', {params: {n: 5}});</script></body></html>"
    )
    page = await browser.new_page()
    await page.goto(site.origin + "/quiet")
    await collector.wait_for(1, event="clicked")
    await page.evaluate("history.pushState({}, '', '/quiet/next')")
    await page.wait_for_timeout(800)
    assert await collector.events(event="page-view") == []
