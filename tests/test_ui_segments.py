"""Segments in the UI: the no-JavaScript rule builder, preview with the live count,
saving, the segment page with paging and CSV, rules as JSON, and plain-English questions."""

from __future__ import annotations

import html
import json
import re

import pytest


@pytest.fixture
async def shop(api):
    await api.define(
        "purchase",
        [
            {"code": "amount", "type": "decimal"},
            {"code": "color", "type": "text"},
            {"code": "gift", "type": "boolean"},
            {"code": "qty", "type": "integer"},
        ],
    )
    await api.define("signup")
    buys = [
        ("ann", 150, "red", True, 3),
        ("ann", 120, "red shirt", False, 1),
        ("ann", 20, "blue", False, 2),
        ("bob", 500, "green", True, 1),
        ("cy", 5, "green", False, 9),
    ]
    batch = [
        {
            "event": "purchase",
            "contact": {"email": f"{who}@example.com"},
            "params": {"amount": amount, "color": color, "gift": gift, "qty": qty},
        }
        for who, amount, color, gift, qty in buys
    ]
    batch.append({"event": "signup", "contact": {"email": "dee@example.com"}})
    results = (await api.send({"batch": batch}))["results"]
    assert all(r["status"] == "accepted" for r in results), results
    return api


def _condition(i=0, event="purchase", **fields):
    """The builder's fields for one condition, as a browser would post them."""
    names = {
        "count_op": "count-op",
        "count_value": "count-value",
        "period": "period",
        "last_days": "last-days",
        "first_op": "first-op",
        "first_value": "first-value",
        "last_op": "last-op",
        "last_value": "last-value",
    }
    form = [(f"cond-{i}-event", event)]
    defaults = {"count_op": "any", "period": "none", "first_op": "", "last_op": ""}
    for key, value in {**defaults, **fields}.items():
        if key != "params":
            form.append((f"cond-{i}-{names[key]}", str(value)))
    for j, (param, op, value) in enumerate(fields.get("params", [])):
        form += [
            (f"cond-{i}-param-{j}-param", param),
            (f"cond-{i}-param-{j}-op", op),
            (f"cond-{i}-param-{j}-value", value),
        ]
    return form


def _live_count(page: str) -> int:
    found = re.search(r'id="ek-live-count"[^>]*>(\d+) contacts?<', page)
    assert found, page
    return int(found.group(1))


def _emails(page: str) -> list[str]:
    return sorted(set(re.findall(r'<a href="/contacts/\d+">([a-z]+)@example\.com</a>', page)))


async def test_the_builder_page_starts_with_one_condition_of_a_customer_event(ui, shop):
    response = await ui.get("/segments/new")
    page = await response.text()
    assert response.status == 200
    assert 'name="cond-0-event"' in page and 'name="cond-1-event"' not in page
    assert '<option value="purchase"' in page
    assert 'name="rules_json"' in page
    assert '<label>Segment name <input name="name"' in page


async def test_add_and_remove_buttons_change_the_form_and_keep_the_input(ui, shop):
    form = [("match", "any"), *_condition(0, count_op=">=", count_value="2")]
    added = await (await ui.post("/segments/new", [*form, ("action", "add-condition")])).text()
    assert 'name="cond-1-event"' in added
    assert re.search(r'<option value="&gt;=" selected>at least</option>', added)
    assert '<input type="radio" name="match" value="any" checked>' in added

    with_param = await (await ui.post("/segments/new", [*form, ("action", "add-param:0")])).text()
    assert 'name="cond-0-param-0-param"' in with_param
    # a new parameter row offers that event's fields as $code, not `source` first
    assert re.search(r'<option value="\$amount" data-type="decimal" selected>', with_param)
    assert '<option value="$color" data-type="text"' in with_param

    two = _condition(0, params=[("$amount", ">", "100"), ("$color", "=", "red")])
    removed = await (
        await ui.post(
            "/segments/new", [*two, *_condition(1, "signup"), ("action", "remove-param:0:0")]
        )
    ).text()
    assert 'name="cond-0-param-0-param"' in removed and 'name="cond-0-param-1-param"' not in removed
    assert re.search(r'<option value="\$color" data-type="text" selected>', removed)
    assert 'value="red"' in removed

    gone = await (
        await ui.post(
            "/segments/new", [*two, *_condition(1, "signup"), ("action", "remove-condition:0")]
        )
    ).text()
    assert 'name="cond-1-event"' not in gone
    assert re.search(r'<option value="signup" selected>', gone)


async def test_preview_shows_the_live_count_and_the_first_contacts(ui, shop):
    form = _condition(0, params=[("$amount", ">", "100")])
    response = await ui.post("/segments/new", [*form, ("action", "preview")])
    page = await response.text()
    assert response.status == 200
    assert _live_count(page) == 2
    assert _emails(page) == ["ann", "bob"]

    counted = _condition(0, count_op=">=", count_value="3", period="last", last_days="7")
    page = await (await ui.post("/segments/new", [*counted, ("action", "preview")])).text()
    assert _live_count(page) == 1 and _emails(page) == ["ann"]


@pytest.mark.parametrize(
    ("params", "who"),
    [
        ([("$color", "in", "blue, green")], ["ann", "bob", "cy"]),
        ([("$amount", "between", "5, 20")], ["ann", "cy"]),
        ([("$gift", "is", "true")], ["ann", "bob"]),
        ([("$qty", ">=", "9")], ["cy"]),
        ([("$color", "contains", "RED")], ["ann"]),
        ([("$amount", ">", "100"), ("$gift", "is", "false")], ["ann"]),
    ],
)
async def test_parameter_values_typed_as_text_are_read_by_the_fields_type(ui, shop, params, who):
    form = _condition(0, params=params)
    page = await (await ui.post("/segments/new", [*form, ("action", "preview")])).text()
    assert _emails(page) == who


async def test_any_of_two_conditions_matches_either(ui, shop):
    form = [
        ("match", "any"),
        *_condition(0, "signup"),
        *_condition(1, count_op="=", count_value="1", params=[("$color", "=", "green")]),
        ("action", "preview"),
    ]
    page = await (await ui.post("/segments/new", form)).text()
    # bob and cy bought one green thing each, dee signed up; ann bought nothing green
    assert _live_count(page) == 3
    assert _emails(page) == ["bob", "cy", "dee"]


async def test_bad_rules_come_back_with_the_error_inline_and_the_input_kept(ui, shop):
    form = _condition(0, count_op=">=", count_value="lots")
    response = await ui.post("/segments/new", [*form, ("name", "big"), ("action", "preview")])
    page = await response.text()
    assert response.status == 422
    assert 'role="alert"' in page and "whole number" in page
    assert 'value="lots"' in page and 'value="big"' in page

    wrong_op = _condition(0, params=[("$color", ">", "7")])
    response = await ui.post("/segments/new", [*wrong_op, ("action", "save"), ("name", "x")])
    page = await response.text()
    assert response.status == 422
    assert "Condition 1, parameter condition 1: $color is text: op is one of" in page
    assert 'class="ek-param row ek-invalid"' in page  # the row is marked
    assert (await (await shop.get("/api/v1/segments")).json())["segments"] == []

    broken = await ui.post(
        "/segments/new", [("rules_json", '{"match": "all",'), ("action", "preview")]
    )
    page = await broken.text()
    assert broken.status == 422 and "not valid JSON" in page
    assert "{&#34;match&#34;: &#34;all&#34;," in page


async def test_saving_leads_to_the_segment_page_with_its_count_and_contacts(ui, shop):
    form = [*_condition(0, params=[("$amount", ">", "100")]), ("name", "big spenders")]
    response = await ui.post("/segments/new", [*form, ("action", "save")], allow_redirects=False)
    assert response.status == 302
    location = response.headers["Location"]
    assert re.fullmatch(r"/segments/\d+\?done=saved", location)
    page = await (await ui.get(location)).text()
    assert "<h1>big spenders" in page and "Saved." in page
    assert '<strong id="ek-segment-count">2</strong>' in page
    assert _emails(page) == ["ann", "bob"]
    assert "&#34;$amount&#34;" in page  # the rules, as JSON

    listing = await (await ui.get("/segments")).text()
    row = re.search(r"big spenders</a></td>\s*<td class=\"num\">(\d+)</td>", listing)
    assert row and row.group(1) == "2"

    saved = (await (await shop.get("/api/v1/segments")).json())["segments"]
    assert saved[0]["rules"]["conditions"][0]["where"] == [
        {"param": "$amount", "op": ">", "value": 100}
    ]


async def test_the_segment_page_pages_through_its_contacts(ui, shop, monkeypatch):
    from collector.web import ui_segments

    monkeypatch.setattr(ui_segments, "PAGE_SIZE", 2)
    saved = await shop.post(
        "/api/v1/segments", {"name": "buyers", "rules": {"conditions": [{"event": "purchase"}]}}
    )
    segment_id = (await saved.json())["id"]
    first = await (await ui.get(f"/segments/{segment_id}")).text()
    assert _emails(first) == ["ann", "bob"]
    more = re.search(r'<a href="([^"]+)" rel="next">More', first).group(1)
    second = await (await ui.get(html.unescape(more))).text()
    assert _emails(second) == ["cy"] and 'rel="next"' not in second
    assert "First page" in second
    bad = await ui.get(f"/segments/{segment_id}?cursor=abc")
    assert bad.status == 400


async def test_the_csv_download_lists_every_contact_of_the_segment(ui, shop):
    saved = await shop.post(
        "/api/v1/segments", {"name": "buyers", "rules": {"conditions": [{"event": "purchase"}]}}
    )
    segment_id = (await saved.json())["id"]
    page = await (await ui.get(f"/segments/{segment_id}")).text()
    assert f'href="/segments/{segment_id}/contacts.csv"' in page
    response = await ui.get(f"/segments/{segment_id}/contacts.csv")
    assert response.status == 200 and response.content_type == "text/csv"
    lines = (await response.text()).strip().splitlines()
    assert lines[0] == "id,email,phone,external_id,created_at"
    assert sorted(line.split(",")[1] for line in lines[1:]) == [
        "ann@example.com",
        "bob@example.com",
        "cy@example.com",
    ]


async def test_unknown_segments_answer_a_404_page(ui, shop):
    for path in ("/segments/999", "/segments/999/contacts.csv", "/segments/nope"):
        response = await ui.get(path)
        assert response.status == 404, path
        assert response.content_type == "text/html"


async def test_rules_as_json_with_a_nested_group_are_used_instead_of_the_form(ui, shop):
    rules = {
        "match": "all",
        "conditions": [
            {"event": "purchase"},
            {
                "any": [
                    {"event": "purchase", "where": [{"param": "$gift", "op": "is", "value": True}]},
                    {"event": "purchase", "count": {"op": ">=", "value": 9}},
                ]
            },
        ],
    }
    form = [*_condition(0, "signup"), ("rules_json", json.dumps(rules))]
    page = await (await ui.post("/segments/new", [*form, ("action", "preview")])).text()
    assert _live_count(page) == 2 and _emails(page) == ["ann", "bob"]
    response = await ui.post(
        "/segments/new", [*form, ("name", "gifters"), ("action", "save")], allow_redirects=False
    )
    assert response.status == 302
    saved = (await (await shop.get("/api/v1/segments")).json())["segments"][0]
    assert saved["rules"] == rules


async def test_the_live_count_endpoint_answers_json_for_the_form_or_for_rules(ui, shop):
    form = dict(_condition(0, params=[("$amount", ">", "100")]))
    response = await ui.get("/segments/count", params=form)
    assert response.status == 200 and await response.json() == {"count": 2}
    rules = json.dumps({"conditions": [{"event": "signup"}]})
    assert await (await ui.get("/segments/count", params={"rules": rules})).json() == {"count": 1}
    bad = await ui.get("/segments/count", params={"rules": '{"conditions": [{"event": "nope"}]}'})
    assert bad.status == 422 and "nope" in (await bad.json())["error"]


async def test_asking_in_english_shows_the_rules_the_count_and_the_contacts(ui, shop):
    page = await (await ui.get("/segments")).text()
    assert 'action="/segments/ask"' in page
    response = await ui.post(
        "/segments/ask",
        {"q": "all users who performed purchase at least 2 times where amount is greater than 100"},
    )
    page = await response.text()
    assert response.status == 200
    assert "1 contact<" in page and _emails(page) == ["ann"]
    rules = json.loads(
        html.unescape(re.search(r'id="ek-answer-rules"><code>(.*?)</code>', page, re.S).group(1))
    )
    assert rules["conditions"][0]["event"] == "purchase"
    # open in the builder: the rules land in the JSON box
    hidden = html.unescape(re.search(r'name="rules" value="([^"]*)"', page).group(1))
    builder = await (await ui.get("/segments/new", params={"rules": hidden})).text()
    assert (
        json.loads(
            html.unescape(
                re.search(
                    r"<textarea name=\"rules_json\"[^>]*>(.*?)</textarea>", builder, re.S
                ).group(1)
            )
        )
        == rules
    )
    # or save them as they are
    saved = await ui.post(
        "/segments/new",
        [("rules_json", hidden), ("name", "red shirts"), ("action", "save")],
        allow_redirects=False,
    )
    assert saved.status == 302
    segment = await (await ui.get(saved.headers["Location"])).text()
    assert '<strong id="ek-segment-count">1</strong>' in segment


async def test_a_question_not_understood_says_which_words(ui, shop):
    response = await ui.post("/segments/ask", {"q": "everyone who purchased yesterday maybe"})
    page = await response.text()
    assert response.status == 422
    assert "Not understood" in page and "purchased yesterday maybe" in html.unescape(page)
    assert 'value="everyone who purchased yesterday maybe"' in page


async def test_html_in_a_segment_name_is_shown_as_text(ui, shop):
    name = "<img src=x onerror=alert(1)>"
    form = [*_condition(0, "signup"), ("name", name), ("action", "save")]
    response = await ui.post("/segments/new", form)
    page = await response.text()
    assert response.status == 200
    assert name not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    listing = await (await ui.get("/segments")).text()
    assert name not in listing and "&lt;img src=x onerror=alert(1)&gt;" in listing
    asked = await (await ui.post("/segments/ask", {"q": name})).text()
    assert name not in asked


async def test_segment_forms_without_the_csrf_token_are_refused(ui, shop):
    form = {**dict(_condition(0, "signup")), "name": "x", "action": "save"}
    response = await ui.client.post("/segments/new", data=form)
    assert response.status == 403
    response = await ui.client.post("/segments/ask", data={"q": "who performed signup"})
    assert response.status == 403
    assert (await (await shop.get("/api/v1/segments")).json())["segments"] == []
