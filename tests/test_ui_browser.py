"""The UI in a real browser: from login to a no-code rule that fires on a page, the
event found in the history and the live debugger; hostile values stay inert; screenshots
of the main pages are kept for a human look (EKEVENTS_SCREENSHOTS, else a temp dir)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from browsing import Collector, Site, chromium
from serverproc import ekevents

pytestmark = pytest.mark.browser

XSS = "<img src=x onerror=alert(1)>"
PAGES = [
    "/",
    "/definitions",
    "/definitions/promo-click",
    "/definitions/promo-click/tracking",
    "/events",
    "/failed",
    "/contacts",
    "/segments",
    "/scenarios",
    "/products",
    "/event-types",
    "/live",
    "/keys",
]


def _shots() -> Path:
    folder = Path(
        os.environ.get("EKEVENTS_SCREENSHOTS")
        or Path(tempfile.gettempdir()) / "ekevents-screenshots"
    )
    folder.mkdir(parents=True, exist_ok=True)
    return folder


async def test_from_login_to_a_no_code_rule_firing_on_a_page(tmp_path):
    collector = await Collector(tmp_path).start()
    made = ekevents(
        "users",
        "create",
        "--db",
        collector.server.db_url,
        "--email",
        "ops@example.com",
        "--password",
        "correct horse",
    )
    assert made.returncode == 0, made.stderr
    site = await Site().start(collector)
    try:
        async with chromium() as browser:
            context = await browser.new_context(viewport={"width": 1280, "height": 900})
            page = await context.new_page()
            dialogs: list[str] = []
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

            # logged out: sent to login, and back where we wanted after it
            await page.goto(collector.url + "/definitions")
            assert "/login?next=/definitions" in page.url
            await page.fill("input[name=email]", "ops@example.com")
            await page.fill("input[name=password]", "correct horse")
            await page.click("button[type=submit]")
            await page.wait_for_url("**/definitions")

            # a definition with two fields, made through the form
            await page.click("text=New definition")
            await page.fill("input[name=name]", "promo-click")
            await page.fill("input[name=title]", f"Promo click {XSS}")
            await page.select_option("select[name=category]", "conversion")
            await page.click("button[value=add]")
            await page.fill("input[name=field-0-code]", "promo_id")
            await page.fill("input[name=field-0-label]", "Promo")
            await page.click("button[value=add]")
            await page.fill("input[name=field-1-code]", "note")
            await page.click("button[value=save]:not(.default-submit)")
            await page.wait_for_url("**/definitions/promo-click*")

            # web tracking: a click trigger mapping a data- attribute
            await page.goto(collector.url + "/definitions/promo-click/tracking")
            await page.check("input[name=enabled]")
            if not await page.locator("select[name=rule-0-on]").count():
                await page.click("button[value=add-rule]")
            await page.select_option("select[name=rule-0-on]", "click")
            await page.fill("input[name=rule-0-selector]", ".promo")
            await page.click("button[value='add-mapping:0']")
            await page.select_option("select[name=rule-0-param-0-code]", "promo_id")
            await page.select_option("select[name=rule-0-param-0-from]", "data")
            await page.fill("input[name=rule-0-param-0-arg]", "promo-id")
            await page.click("button[value=save]:not(.default-submit)")
            await page.wait_for_url("**done=saved*")
            snippet = await page.inner_text("#install-code")
            assert "YOUR_SITE_KEY" in snippet

            # the live debugger, open in its own tab while the page is used
            live = await context.new_page()
            await live.goto(collector.url + "/live")
            await live.wait_for_selector("#live-state.ok")

            # a customer page with the generated snippet pasted in
            site.pages["/promo"] = (
                "<!doctype html><html><head><title>Promo</title>"
                + snippet.replace("YOUR_SITE_KEY", site.site_key)
                + f"</head><body><button class='promo' data-promo-id='spring {XSS}'>"
                "Get the deal</button></body></html>"
            )
            shop = await context.new_page()
            await shop.goto(site.origin + "/promo")
            await shop.click(".promo")
            await live.wait_for_selector("#live tbody tr:has-text('promo-click')", timeout=10_000)

            [event] = await collector.wait_for(1, event="promo-click")
            assert event["params"]["promo_id"] == f"spring {XSS}"
            await page.goto(collector.url + "/events?event=promo-click")
            await page.click(f"a[href='/events/{event['id']}']")
            await page.wait_for_url(f"**/events/{event['id']}")
            assert f"spring {XSS}" in await page.inner_text("main")  # shown as text

            # a failed event carrying markup, for the failed-events page
            assert collector.http
            await collector.http.post(
                "/api/v1/events",
                json={
                    "event": "promo-click",
                    "contact": {"email": "x@example.com"},
                    "params": {"promo_id": ["not", XSS]},
                },
            )

            for path in PAGES + [f"/events/{event['id']}"]:
                await page.goto(collector.url + path)
                assert await page.locator("img[src=x]").count() == 0, path
                if path in PAGES:
                    name = path.strip("/").replace("/", "-") or "overview"
                    await page.screenshot(path=str(_shots() / f"{name}.png"), full_page=True)
            assert dialogs == []

            # a form posted without its CSRF token is refused
            status = await page.evaluate(
                "fetch('/keys', {method: 'POST', body: new URLSearchParams("
                "{name: 'sneaky', kind: 'server'})}).then(r => r.status)"
            )
            assert status == 403
            keys = await (await collector.http.get("/api/v1/events")).json()
            assert keys["events"]  # the API itself still answers; no key named sneaky:
            await page.goto(collector.url + "/keys")
            assert "sneaky" not in await page.inner_text("main")
    finally:
        await site.stop()
        await collector.stop()
