"""UI: the event definitions pages — list, create and edit forms (row actions without
JavaScript), versions, naming auto-created fields, hiding, and the no-code web-tracking
editor with its snippet."""

from __future__ import annotations

import json
import re
from html import unescape
from html.parser import HTMLParser
from typing import Any

from collector.appkeys import STORAGE
from collector.keys import create_key

CONTACT = {"email": "ada@example.com"}
XSS = "<img src=x onerror=alert(1)>"


class _FormReader(HTMLParser):
    """What a browser would submit from the form posting to `action` (no button)."""

    def __init__(self, action: str) -> None:
        super().__init__()
        self.action = action
        self.inside = False
        self.select: str | None = None
        self.values: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get("action") == self.action and a.get("method") == "post"
        if not self.inside:
            return
        if tag == "input" and a.get("name"):
            if a.get("type") == "checkbox" and "checked" not in a:
                return
            self.values[a["name"]] = a.get("value") or ""
        elif tag == "select":
            self.select = a.get("name")
        elif (
            tag == "option" and self.select and ("selected" in a or self.select not in self.values)
        ):
            self.values[self.select] = a.get("value") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self.select = None


def form_of(page: str, action: str) -> dict[str, str]:
    reader = _FormReader(action)
    reader.feed(page)
    assert reader.values, f"no form posting to {action}"
    return reader.values


def row_of(page: str, name: str) -> list[str]:
    """The cells' text of the list row naming the event `name`."""
    row = re.search(rf"<tr>(?:(?!</tr>).)*<code>{re.escape(name)}</code>.*?</tr>", page, re.S)
    assert row, f"no row for {name}"
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(), re.S)
    return [" ".join(unescape(re.sub(r"<[^>]+>", " ", c)).split()) for c in cells]


def section(page: str, category: str) -> str:
    start = page.index(f'id="cat-{category}"')
    end = page.find("<section", start)
    return page[start : end if end != -1 else None]


async def definition(api: Any, name: str) -> dict[str, Any]:
    response = await api.get(f"/api/v1/event-definitions/{name}")
    assert response.status == 200, await response.text()
    return await response.json()


async def post_form(ui: Any, page: Any, action: str, changes: dict[str, str], **kw: Any) -> Any:
    """Submit the form of `page` that posts to `action`, as a browser would, with changes."""
    values = {**form_of(await page.text(), action), **changes}
    return await ui.post(action, {k: v for k, v in values.items() if v is not None}, **kw)


async def test_definitions_are_listed_by_category_with_counts_and_a_badge_for_unnamed_fields(
    ui, api
):
    await api.define(
        "order-done",
        [{"code": "total", "type": "decimal", "label": "Total"}],
        category="transaction",
        title="Order done",
    )
    await api.define("signup", category="conversion", title="Sign-up", scope="customer")
    await api.define("ping", category="signal", scope="system")
    await api.define("old-thing", category="signal")
    assert (await api.post("/api/v1/event-definitions/old-thing/hide")).status == 200
    for _ in range(3):
        await api.send(
            {"event": "order-done", "contact": CONTACT, "params": {"total": 9.5}}, expect=200
        )
    await api.send({"event": "ping", "params": {"colour": "red"}}, expect=200)

    response = await ui.get("/definitions")
    assert response.status == 200
    page = await response.text()
    assert page.index('id="cat-transaction"') < page.index('id="cat-conversion"')
    assert page.index('id="cat-conversion"') < page.index('id="cat-signal"')
    assert row_of(section(page, "transaction"), "order-done") == [
        "Order done",
        "order-done",
        "customer",
        "2",
        "1",
        "3",
    ]
    assert row_of(section(page, "conversion"), "signup") == [
        "Sign-up",
        "signup",
        "customer",
        "1",
        "1",
        "0",
    ]
    ping = row_of(section(page, "signal"), "ping")
    assert ping[0] == "ping 1 field needs a label"
    assert ping[1:] == ["ping", "system", "2", "2", "1"]
    assert "needs a label" not in section(page, "transaction")
    assert "old-thing" not in page
    assert 'href="/definitions/new"' in page


async def test_a_definition_is_created_through_the_form_with_fields_added_moved_and_removed(
    ui, api
):
    page = await ui.get("/definitions/new")
    assert page.status == 200
    text = await page.text()
    assert 'name="field-0-code"' in text and "<code>source</code>" in text
    page = await post_form(
        ui,
        page,
        "/definitions/new",
        {
            "name": "basket-add",
            "title": "Add to basket",
            "category": "transaction",
            "field-0-code": "cart_id",
            "field-0-label": "Cart",
            "field-0-required": "1",
            "action": "add",
        },
    )
    assert page.status == 200
    assert 'name="field-1-code"' in await page.text()
    page = await post_form(
        ui,
        page,
        "/definitions/new",
        {
            "field-1-code": "qty",
            "field-1-label": "Quantity",
            "field-1-type": "integer",
            "action": "add",
        },
    )
    page = await post_form(
        ui, page, "/definitions/new", {"field-2-code": "junk", "action": "remove:2"}
    )
    text = await page.text()
    assert "junk" not in text and 'name="field-2-code"' not in text
    page = await post_form(ui, page, "/definitions/new", {"action": "up:1"})
    values = form_of(await page.text(), "/definitions/new")
    assert (values["field-0-code"], values["field-1-code"]) == ("qty", "cart_id")
    assert values["field-1-required"] == "1" and "field-0-required" not in values
    assert values["name"] == "basket-add" and values["title"] == "Add to basket"
    assert (await api.get("/api/v1/event-definitions/basket-add")).status == 404  # not saved
    page = await post_form(ui, page, "/definitions/new", {"action": "down:0"})
    page = await post_form(ui, page, "/definitions/new", {"action": "add"})  # left empty
    saved = await post_form(ui, page, "/definitions/new", {"action": "save"}, allow_redirects=False)
    assert saved.status == 302, await saved.text()
    assert saved.headers["Location"] == "/definitions/basket-add?done=created"

    created = await definition(api, "basket-add")
    assert created["title"] == "Add to basket" and created["category"] == "transaction"
    assert [(f["code"], f["label"], f["type"], f["required"]) for f in created["fields"]] == [
        ("source", "Source", "text", False),
        ("cart_id", "Cart", "text", True),
        ("qty", "Quantity", "integer", False),
    ]
    shown = await ui.get("/definitions/basket-add?done=created")
    assert "Created." in await shown.text()


async def test_an_invalid_definition_comes_back_422_with_errors_by_the_fields_and_input_kept(
    ui, api
):
    page = await ui.get("/definitions/new")
    response = await post_form(
        ui,
        page,
        "/definitions/new",
        {
            "name": "Add To Cart",
            "title": "My title",
            "category": "conversion",
            "field-0-code": "Bad-Code",
            "field-0-label": "Some label",
            "action": "save",
        },
    )
    assert response.status == 422
    text = await response.text()
    values = form_of(text, "/definitions/new")
    assert values["name"] == "Add To Cart" and values["title"] == "My title"
    assert values["category"] == "conversion"
    assert values["field-0-code"] == "Bad-Code" and values["field-0-label"] == "Some label"
    assert 'id="name-error"' in text and 'id="field-0-code-error"' in text
    assert 'aria-describedby="field-0-code-error"' in text
    assert 'href="#field-0-code"' in text  # the summary links to the input
    assert "no hyphens" in text
    assert "title-error" not in text

    await api.define("signup")
    duplicate = await post_form(ui, page, "/definitions/new", {"name": "signup", "action": "save"})
    assert duplicate.status == 422
    text = await duplicate.text()
    assert 'id="name-error"' in text and "already defined" in text


async def test_editing_makes_version_2_and_the_old_version_stays_readable_and_read_only(ui, api):
    await api.define(
        "signup",
        [{"code": "plan", "type": "text", "label": "Plan"}],
        title="Sign-up",
        category="conversion",
    )
    page = await ui.get("/definitions/signup/edit")
    assert page.status == 200
    assert "Save version 2" in await page.text()
    page = await post_form(
        ui, page, "/definitions/signup/edit", {"field-0-label": "Price plan", "action": "add"}
    )
    saved = await post_form(
        ui,
        page,
        "/definitions/signup/edit",
        {"field-1-code": "seats", "field-1-type": "integer", "action": "save"},
        allow_redirects=False,
    )
    assert saved.status == 302 and saved.headers["Location"] == "/definitions/signup?done=saved"

    now = await definition(api, "signup")
    assert now["version"] == 2 and now["category"] == "conversion"
    assert [(f["code"], f["label"]) for f in now["fields"]] == [
        ("source", "Source"),
        ("plan", "Price plan"),
        ("seats", ""),
    ]
    current = await (await ui.get("/definitions/signup")).text()
    assert 'href="/definitions/signup/versions/1"' in current
    assert "Price plan" in current

    old = await ui.get("/definitions/signup/versions/1")
    assert old.status == 200
    text = await old.text()
    assert "Old version 1, read-only" in text
    assert re.search(r"<td>\s*Plan\s*</td>", text)
    assert "Price plan" not in text and "seats" not in text
    assert 'method="post"' not in text.split("</header>", 1)[1]  # no forms, only reading
    assert "/definitions/signup/edit" not in text
    latest = await ui.get("/definitions/signup/versions/2", allow_redirects=False)
    assert latest.status == 302 and latest.headers["Location"] == "/definitions/signup"
    assert (await ui.get("/definitions/signup/versions/7")).status == 404


async def test_an_edit_form_opened_before_someone_elses_save_does_not_overwrite_it_unseen(ui, api):
    await api.define("signup", [{"code": "plan", "type": "text", "label": "Plan"}])
    page = await ui.get("/definitions/signup/edit")
    body = {"fields": [{"code": "plan", "label": "Plan"}, {"code": "coupon", "label": "Coupon"}]}
    assert (await api.put("/api/v1/event-definitions/signup", body)).status == 200
    stale = await post_form(
        ui, page, "/definitions/signup/edit", {"field-0-label": "My plan", "action": "save"}
    )
    assert stale.status == 422
    assert "Someone else saved version 2" in await stale.text()
    assert (await definition(api, "signup"))["version"] == 2
    again = await post_form(
        ui, stale, "/definitions/signup/edit", {"action": "save"}, allow_redirects=False
    )
    assert again.status == 302
    assert (await definition(api, "signup"))["version"] == 3


async def test_an_auto_created_field_is_named_in_place_as_a_new_version(ui, api):
    await api.define("ping", scope="system")
    await api.send({"event": "ping", "params": {"colour": "red"}}, expect=200)
    assert (await definition(api, "ping"))["version"] == 2
    page = await ui.get("/definitions/ping")
    text = await page.text()
    assert "needs a label" in text and 'action="/definitions/ping/label"' in text

    empty = await ui.post("/definitions/ping/label", {"code": "colour", "label": " "})
    assert empty.status == 422
    assert 'id="label-colour-error"' in await empty.text()
    named = await ui.post(
        "/definitions/ping/label", {"code": "colour", "label": "Colour"}, allow_redirects=False
    )
    assert named.status == 302 and named.headers["Location"] == "/definitions/ping?done=saved"
    now = await definition(api, "ping")
    assert now["version"] == 3
    assert {f["code"]: (f["label"], f["auto_created"]) for f in now["fields"]}["colour"] == (
        "Colour",
        False,
    )
    assert "needs a label" not in await (await ui.get("/definitions/ping")).text()
    missing = await ui.post("/definitions/ping/label", {"code": "nope", "label": "X"})
    assert missing.status == 404


async def test_hiding_is_confirmed_on_a_page_that_says_it_is_permanent(ui, api):
    await api.define("promo", title="Promo")
    shown = await (await ui.get("/definitions/promo")).text()
    assert 'action="/definitions/promo/hide"' in shown
    confirm = await ui.get("/definitions/promo/hide")
    text = await confirm.text()
    assert "permanent" in text and "hidden_event" in text and "Nothing is deleted" in text
    assert (await definition(api, "promo"))["hidden"] is False  # asking changes nothing

    done = await ui.post("/definitions/promo/hide", {}, allow_redirects=False)
    assert done.status == 302 and done.headers["Location"] == "/definitions?done=hidden"
    assert (await definition(api, "promo"))["hidden"] is True
    listing = await (await ui.get("/definitions?done=hidden")).text()
    assert "Hidden." in listing and "promo" not in listing.split("</header>", 1)[1]
    gone = await ui.get("/definitions/promo")
    assert gone.status == 404 and "hidden" in await gone.text()
    assert (await ui.get("/definitions/promo/edit")).status == 404
    failed = await api.send({"event": "promo", "contact": CONTACT}, expect=422)
    assert failed["results"][0]["errors"][0]["code"] == "hidden_event"


async def test_the_no_code_editor_saves_a_click_rule_that_reaches_the_tracker_and_the_api(ui, api):
    site_key = await create_key(
        api.app[STORAGE], name="shop", kind="site", origins=("http://shop.test",)
    )
    await api.define(
        "basket-add",
        [
            {"code": "product_id", "type": "text", "label": "Product", "required": True},
            {"code": "price", "type": "decimal", "label": "Price"},
        ],
    )
    shown = await (await ui.get("/definitions/basket-add")).text()
    assert "Enable web tracking" in shown and 'name="enable" value="1"' in shown

    page = await ui.get("/definitions/basket-add/tracking?enable=1")
    assert page.status == 200
    values = form_of(await page.text(), "/definitions/basket-add/tracking")
    assert values["enabled"] == "1" and values["rule-0-on"] == "click"
    action = "/definitions/basket-add/tracking"
    page = await post_form(ui, page, action, {"rule-0-selector": ".buy", "action": "add-mapping:0"})
    page = await post_form(
        ui,
        page,
        action,
        {
            "rule-0-param-0-code": "product_id",
            "rule-0-param-0-from": "data",
            "rule-0-param-0-arg": "product-id",
            "action": "add-mapping:0",
        },
    )
    assert 'name="rule-0-param-1-code"' in await page.text()
    saved = await post_form(
        ui,
        page,
        action,
        {
            "rule-0-param-1-code": "price",
            "rule-0-param-1-from": "text",
            "rule-0-param-1-arg": ".price",
            "action": "save",
        },
        allow_redirects=False,
    )
    assert saved.status == 302, await saved.text()
    assert saved.headers["Location"] == f"{action}?done=saved"

    rule = {
        "trigger": {"on": "click", "selector": ".buy"},
        "params": {
            "product_id": {"from": "data", "name": "product-id"},
            "price": {"from": "text", "selector": ".price"},
        },
    }
    now = await definition(api, "basket-add")
    assert now["web_tracking"] == {"enabled": True, "rules": [rule]}
    assert now["version"] == 2 and [f["code"] for f in now["fields"]] == [
        "source",
        "product_id",
        "price",
    ]

    script = await (await api.client.get(f"/s/{site_key}.js")).text()
    config, _ = json.JSONDecoder().raw_decode(script, script.index('{"e":'))
    assert {"n": "basket-add", "tr": rule["trigger"], "p": rule["params"]} in config["r"]

    text = await (await ui.get(f"{action}?done=saved")).text()
    assert "Saved." in text
    assert "YOUR_SITE_KEY.js" in text and site_key[:10] in text and site_key not in text
    assert "http://shop.test" in text
    assert 'data-copy="install-code"' in text and 'id="install-code"' in text
    assert "ekEvents.push(&#39;basket-add&#39;, {" in text
    assert "product_id: &#34;example&#34;,  // text, required" in text
    assert "price: 9.99  // decimal" in text


async def test_the_tracking_editor_adds_and_removes_rules_and_checks_them_before_saving(ui, api):
    await api.define("checkout", [{"code": "step", "type": "text", "label": "Step"}])
    action = "/definitions/checkout/tracking"
    page = await ui.get(action)
    assert 'name="rule-0-on"' not in await page.text()
    page = await post_form(ui, page, action, {"enabled": "1", "action": "add-rule"})
    page = await post_form(ui, page, action, {"action": "add-rule"})
    page = await post_form(ui, page, action, {"rule-1-on": "page", "action": "add-mapping:1"})
    page = await post_form(ui, page, action, {"action": "add-mapping:1"})
    page = await post_form(
        ui, page, action, {"rule-1-param-1-arg": "x", "action": "remove-mapping:1:0"}
    )
    values = form_of(await page.text(), action)
    assert values["rule-1-on"] == "page" and values["rule-1-param-0-arg"] == "x"
    assert "rule-1-param-1-code" not in values
    bad = await post_form(
        ui,
        page,
        action,
        {
            "rule-0-on": "submit",
            "rule-0-selector": "",
            "rule-1-match": "regex",
            "rule-1-value": "/order/([0-9]+",
            "rule-1-param-0-code": "step",
            "rule-1-param-0-from": "query",
            "rule-1-param-0-arg": "",
            "action": "save",
        },
    )
    assert bad.status == 422
    text = await bad.text()
    for key in ("rule-0-selector", "rule-1-value", "rule-1-param-0-arg"):
        assert f'id="{key}-error"' in text, key
    assert "not a valid regular expression" in text
    kept = form_of(text, action)
    assert kept["rule-1-value"] == "/order/([0-9]+" and kept["rule-0-on"] == "submit"
    assert (await definition(api, "checkout"))["version"] == 1  # nothing saved

    duplicate = await post_form(
        ui,
        bad,
        action,
        {
            "rule-0-selector": "form.pay",
            "rule-1-value": "/order/[0-9]+$",
            "rule-1-param-0-arg": "step",
            "rule-1-param-1-code": "step",
            "rule-1-param-1-from": "const",
            "rule-1-param-1-arg": "paid",
            "action": "add-mapping:1",
        },
    )
    duplicate = await post_form(ui, duplicate, action, {"action": "save"})
    assert duplicate.status == 422
    assert 'id="rule-1-param-1-code-error"' in await duplicate.text()

    fixed = await post_form(ui, duplicate, action, {"action": "remove-mapping:1:1"})
    fixed = await post_form(ui, fixed, action, {"action": "remove-rule:0"})
    saved = await post_form(ui, fixed, action, {"action": "save"}, allow_redirects=False)
    assert saved.status == 302, await saved.text()
    assert (await definition(api, "checkout"))["web_tracking"] == {
        "enabled": True,
        "rules": [
            {
                "trigger": {"on": "page", "url": {"match": "regex", "value": "/order/[0-9]+$"}},
                "params": {"step": {"from": "query", "name": "step"}},
            }
        ],
    }


async def test_html_in_titles_labels_and_rules_is_shown_escaped_everywhere(ui, api):
    await api.define(
        "odd",
        [{"code": "x", "type": "text", "label": XSS}],
        title=XSS,
        web_tracking={
            "enabled": True,
            "rules": [{"trigger": {"on": "click", "selector": XSS}, "params": {}}],
        },
    )
    await api.send({"event": "odd", "contact": CONTACT, "params": {"y": 1}}, expect=200)
    escaped = "&lt;img src=x onerror=alert(1)&gt;"
    for path in (
        "/definitions",
        "/definitions/odd",
        "/definitions/odd/edit",
        "/definitions/odd/hide",
        "/definitions/odd/tracking",
        "/definitions/odd/versions/1",
    ):
        page = await ui.get(path)
        assert page.status == 200, path
        text = await page.text()
        assert XSS not in text, path
        assert escaped in text, path

    page = await ui.get("/definitions/new")
    saved = await post_form(
        ui,
        page,
        "/definitions/new",
        {
            "name": "odd-two",
            "title": XSS,
            "field-0-code": "y",
            "field-0-label": XSS,
            "action": "save",
        },
        allow_redirects=False,
    )
    assert saved.status == 302
    assert (await definition(api, "odd-two"))["title"] == XSS
    text = await (await ui.get("/definitions/odd-two")).text()
    assert XSS not in text and escaped in text


async def test_definition_forms_without_their_csrf_token_are_refused(ui, api):
    await api.define("promo")
    for path, data in (
        ("/definitions/new", {"name": "sneaky", "action": "save"}),
        ("/definitions/promo/hide", {}),
        ("/definitions/promo/label", {"code": "source", "label": "x"}),
        ("/definitions/promo/tracking", {"enabled": "1", "action": "save"}),
    ):
        for forged in ({}, {"csrf": "forged"}):
            response = await api.client.post(path, data={**data, **forged}, allow_redirects=False)
            assert response.status == 403, path
    assert (await api.get("/api/v1/event-definitions/sneaky")).status == 404
    promo = await definition(api, "promo")
    assert promo["hidden"] is False and promo["version"] == 1


async def test_unknown_definitions_and_versions_are_html_404_pages(ui, api):
    await api.define("promo")
    for path in (
        "/definitions/nope",
        "/definitions/nope/tracking",
        "/definitions/promo/versions/x",
        "/definitions/promo/versions/0",
    ):
        response = await ui.get(path)
        assert response.status == 404, path
        assert response.content_type == "text/html", path


async def test_page_rules_match_paths_and_say_so_when_the_path_lacks_its_slash(ui, api):
    await api.define("thanks")
    action = "/definitions/thanks/tracking"
    page = await ui.get(f"{action}?enable=1")
    bad = await post_form(
        ui,
        page,
        action,
        {"rule-0-on": "page", "rule-0-match": "exact", "rule-0-value": "thanks", "action": "save"},
    )
    assert bad.status == 422
    assert "Paths start with /" in await bad.text()
    saved = await post_form(
        ui, bad, action, {"rule-0-value": "/thanks", "action": "save"}, allow_redirects=False
    )
    assert saved.status == 302
    rules = (await definition(api, "thanks"))["web_tracking"]["rules"]
    assert rules == [
        {"trigger": {"on": "page", "url": {"match": "exact", "value": "/thanks"}}, "params": {}}
    ]
    shown = await (await ui.get("/definitions/thanks")).text()
    assert "a page view whose path is /thanks" in shown
