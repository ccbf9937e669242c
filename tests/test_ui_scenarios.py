"""Scenarios in the UI: made with the form (secret shown once), enabled and disabled,
refusals kept inline, and the delivery log filled by a real local webhook receiver."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import html
import json
import re

import pytest


@pytest.fixture
async def shop(api):
    await api.define(
        "cart-add",
        [
            {"code": "name", "type": "text"},
            {"code": "price", "type": "decimal"},
            {"code": "product_id", "type": "text"},
        ],
    )
    await api.define("item-viewed", [{"code": "product_id", "type": "text"}])
    await api.define("restock", [{"code": "product_id", "type": "text"}], scope="system")
    return api


pytestmark = pytest.mark.usefixtures("fast_retries")


def _form(url="http://127.0.0.1:9/hook", **fields):
    form = {
        "name": "cart reminder",
        "enabled": "on",
        "trigger_type": "event",
        "event": "cart-add",
        "system_event": "restock",
        "url": url,
        "template": "Hi {{client.email}}, still want {{client.eventContext.name}}?",
        "secret": "",
        "action": "create",
    }
    form.update(fields)
    return [(k, v) for k, v in form.items() if v is not None]


def _params(*rows):
    form = []
    for j, (param, op, value) in enumerate(rows):
        form += [(f"param-{j}-param", param), (f"param-{j}-op", op), (f"param-{j}-value", value)]
    return form


async def _listed(api):
    return (await (await api.get("/api/v1/scenarios")).json())["scenarios"]


async def test_the_form_offers_customer_events_for_event_triggers_and_system_ones_apart(ui, shop):
    page = await (await ui.get("/scenarios/new")).text()
    event_select = re.search(r'<select name="event"[^>]*>(.*?)</select>', page, re.S).group(1)
    system_select = re.search(r'<select name="system_event"[^>]*>(.*?)</select>', page, re.S).group(
        1
    )
    assert 'value="cart-add"' in event_select and 'value="restock"' not in event_select
    assert 'value="restock"' in system_select and 'value="cart-add"' not in system_select
    assert "{{client.eventContext.field_code}}" in page and "{{client.email}}" in page
    assert "&#34;$event.&lt;code&gt;&#34;" in page or '"$event.&lt;code&gt;"' in page


async def test_parameter_restriction_rows_are_added_and_removed_without_saving(ui, shop):
    added = await (await ui.post("/scenarios/new", _form(action="add-param"))).text()
    assert re.search(r'<option value="\$name" data-type="text" selected>', added)
    assert 'value="cart reminder"' in added  # the input is kept
    two = _params(("$price", ">", "100"), ("$name", "contains", "shirt"))
    removed = await (
        await ui.post("/scenarios/new", [*_form(action="remove-param:0"), *two])
    ).text()
    assert 'name="param-0-param"' in removed and 'name="param-1-param"' not in removed
    assert 'value="shirt"' in removed and 'value="100"' not in removed
    assert await _listed(shop) == []


async def test_creating_a_scenario_shows_its_secret_once_and_the_list_hides_it(ui, shop):
    rows = _params(("$price", ">", "100"))
    response = await ui.post("/scenarios/new", [*_form(), *rows])
    page = await response.text()
    assert response.status == 200
    assert "shown only this once" in page
    secret = re.search(r'id="new-secret-0">([^<]+)<', page).group(1)
    assert len(secret) >= 16
    [scenario] = await _listed(shop)
    assert scenario["trigger"] == {
        "type": "event",
        "event": "cart-add",
        "where": [{"param": "$price", "op": ">", "value": 100}],
    }
    assert scenario["actions"][0]["template"].startswith("Hi {{client.email}}")
    listing = await (await ui.get("/scenarios")).text()
    assert "cart reminder" in listing and "event cart-add where $price &gt; 100" in listing
    assert secret not in listing
    again = await (await ui.get(f"/scenarios/{scenario['id']}")).text()
    assert secret not in again and "shown only this once" not in again


async def test_a_secret_of_my_own_is_used_and_a_short_one_refused(ui, shop):
    short = await ui.post("/scenarios/new", _form(secret="tooshort"))
    page = await short.text()
    assert short.status == 422 and "at least 16 characters" in page
    assert 'name="secret" value="tooshort"' in page and 'aria-invalid="true"' in page
    mine = "my-own-secret-of-32-characters!!"
    page = await (await ui.post("/scenarios/new", _form(secret=mine))).text()
    assert f'id="new-secret-0">{mine}<' in page


async def test_refusals_come_back_inline_with_the_form_kept(ui, shop):
    bad_url = await ui.post("/scenarios/new", _form(url="ftp://nope", name="keep me"))
    page = await bad_url.text()
    assert bad_url.status == 422 and "an http(s) URL" in page
    assert 'value="keep me"' in page and 'value="ftp://nope"' in page
    assert re.search(r'name="url" value="ftp://nope"[^>]*aria-invalid="true"', page)

    bad_row = await ui.post("/scenarios/new", [*_form(), *_params(("$name", ">", "7"))])
    page = await bad_row.text()
    assert bad_row.status == 422 and "$name is text" in page
    assert 'class="ek-param row ek-invalid"' in page

    no_audience = await ui.post("/scenarios/new", _form(trigger_type="system_event"))
    assert no_audience.status == 422 and "audience" in await no_audience.text()

    bad_json = await ui.post(
        "/scenarios/new", _form(trigger_type="system_event", audience_json="{nope")
    )
    page = await bad_json.text()
    assert bad_json.status == 422 and "not valid JSON" in page and "{nope</textarea>" in page

    wrong_scope = await ui.post("/scenarios/new", _form(event="restock"))
    assert wrong_scope.status == 422 and "restock is a system event" in await wrong_scope.text()
    assert await _listed(shop) == []


async def test_restrictions_as_json_are_used_instead_of_the_rows(ui, shop):
    where = [{"param": "$price", "op": "between", "value": [10, 20]}]
    form = [*_form(where_json=json.dumps(where)), *_params(("$name", "=", "ignored"))]
    response = await ui.post("/scenarios/new", form)
    assert response.status == 200
    [scenario] = await _listed(shop)
    assert scenario["trigger"]["where"] == where


async def test_enable_and_disable_toggle_the_scenario(ui, shop):
    await ui.post("/scenarios/new", _form())
    [scenario] = await _listed(shop)
    sid = scenario["id"]
    listing = await (await ui.get("/scenarios")).text()
    assert f'action="/scenarios/{sid}/disable"' in listing and "badge ok" in listing

    off = await ui.post(f"/scenarios/{sid}/disable", {"next": "/scenarios"}, allow_redirects=False)
    assert off.status == 302 and off.headers["Location"] == "/scenarios?done=saved"
    assert (await _listed(shop))[0]["enabled"] is False
    listing = await (await ui.get("/scenarios")).text()
    assert f'action="/scenarios/{sid}/enable"' in listing and ">disabled<" in listing

    on = await ui.post(
        f"/scenarios/{sid}/enable", {"next": "https://evil.example/"}, allow_redirects=False
    )
    assert on.headers["Location"] == f"/scenarios/{sid}?done=saved"  # never off-site
    assert (await _listed(shop))[0]["enabled"] is True
    page = await (await ui.get(f"/scenarios/{sid}")).text()
    assert '<span class="badge ok" id="ek-state">enabled</span>' in page

    missing = await ui.post("/scenarios/999/enable", {})
    assert missing.status == 404


async def test_a_delivery_to_a_real_receiver_appears_in_the_log_as_delivered(ui, shop, receiver):
    response = await ui.post(
        "/scenarios/new", [*_form(url=receiver.url), *_params(("$price", ">", "100"))]
    )
    secret = re.search(r'id="new-secret-0">([^<]+)<', await response.text()).group(1)
    [scenario] = await _listed(shop)
    await shop.send(
        {"event": "cart-add", "contact": {"email": "ann@example.com"}, "params": {"price": 5}},
        expect=200,
    )
    await shop.send(
        {
            "event": "cart-add",
            "id": "evt-big-1",
            "contact": {"email": "ann@example.com"},
            "params": {"name": "Red <b>shirt</b>", "price": 150},
        },
        expect=200,
    )
    await receiver.wait(1)
    body, raw, headers = receiver.calls[0]
    expected = "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    assert headers["X-EkEvents-Signature"] == expected

    page = ""
    for _ in range(200):
        page = await (await ui.get(f"/scenarios/{scenario['id']}")).text()
        if ">delivered</span>" in page:
            break
        await asyncio.sleep(0.05)
    assert '<span class="badge ok ek-status">delivered</span>' in page
    assert '<a href="/events/evt-big-1" class="mono">evt-big-1</a>' in page
    assert re.search(r'<a href="/contacts/\d+">ann@example.com</a>', page)
    assert '<span class="badge ok">200</span>' in page
    # the rendered message, escaped
    assert "Hi ann@example.com, still want Red &lt;b&gt;shirt&lt;/b&gt;?" in page
    assert page.count("ek-status") == 1  # the cheap one did not match


async def test_a_system_event_trigger_made_with_the_form_reaches_its_audience(ui, shop, receiver):
    audience = {
        "conditions": [
            {
                "event": "item-viewed",
                "where": [{"param": "$product_id", "op": "=", "value": "$event.product_id"}],
            }
        ]
    }
    form = _form(
        url=receiver.url,
        name="back in stock",
        trigger_type="system_event",
        audience_json=json.dumps(audience),
        template="{{client.email}}: {{client.eventContext.product_id}} is back",
    )
    assert (await ui.post("/scenarios/new", form)).status == 200
    for who, product in (("ann", "p1"), ("bob", "p2")):
        await shop.send(
            {
                "event": "item-viewed",
                "contact": {"email": f"{who}@example.com"},
                "params": {"product_id": product},
            },
            expect=200,
        )
    await shop.send({"event": "restock", "params": {"product_id": "p1"}}, expect=200)
    await receiver.wait(1)
    await asyncio.sleep(0.2)
    assert [c[0]["message"] for c in receiver.calls] == ["ann@example.com: p1 is back"]
    listing = await (await ui.get("/scenarios")).text()
    assert "system event restock, for each contact of its audience" in listing


async def test_html_in_a_scenario_name_is_shown_as_text(ui, shop):
    name = "<img src=x onerror=alert(1)>"
    page = await (await ui.post("/scenarios/new", _form(name=name))).text()
    assert name not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    listing = await (await ui.get("/scenarios")).text()
    assert name not in listing and "&lt;img src=x onerror=alert(1)&gt;" in listing
    refused = await (await ui.post("/scenarios/new", _form(name=name, url="nope"))).text()
    assert name not in refused and html.escape(name, quote=True) in refused


async def test_scenario_forms_without_the_csrf_token_are_refused(ui, shop):
    response = await ui.client.post("/scenarios/new", data=dict(_form()))
    assert response.status == 403
    assert await _listed(shop) == []
    await ui.post("/scenarios/new", _form())
    [scenario] = await _listed(shop)
    response = await ui.client.post(f"/scenarios/{scenario['id']}/disable", data={})
    assert response.status == 403
    assert (await _listed(shop))[0]["enabled"] is True


async def test_unknown_scenarios_answer_a_404_page(ui, shop):
    for path in ("/scenarios/999", "/scenarios/abc"):
        response = await ui.get(path)
        assert response.status == 404 and response.content_type == "text/html"
