"""Scenarios: webhooks delivered to a real local receiver, signed, retried, logged, and
kept in an outbox that survives a restart."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json

import pytest
from aiohttp.test_utils import TestClient, TestServer
from conftest import Api
from webhooks import Receiver

from collector.app import create_app
from collector.appkeys import STORAGE
from collector.config import Config
from collector.keys import create_key
from collector.scenarios import render

pytestmark = pytest.mark.usefixtures("fast_retries")


@pytest.fixture
async def shop(api):
    await api.define(
        "add-to-cart",
        [
            {"code": "name", "type": "text"},
            {"code": "price", "type": "decimal"},
            {"code": "product_id", "type": "text"},
        ],
    )
    await api.define("product-viewed", [{"code": "product_id", "type": "text"}])
    await api.define("back-in-stock", [{"code": "product_id", "type": "text"}], scope="system")
    return api


async def _scenario(api, receiver, trigger, template="Hi {{client.email}}"):
    response = await api.post(
        "/api/v1/scenarios",
        {
            "name": "test",
            "trigger": trigger,
            "actions": [{"type": "webhook", "url": receiver.url, "template": template}],
        },
    )
    body = await response.json()
    assert response.status == 201, body
    return body


async def _deliveries(api, scenario_id, until=lambda d: True, timeout=10):
    for _ in range(int(timeout / 0.05)):
        found = await (await api.get(f"/api/v1/scenarios/{scenario_id}/deliveries")).json()
        if until(found["deliveries"]):
            return found["deliveries"]
        await asyncio.sleep(0.05)
    raise AssertionError(f"deliveries never got there: {found}")


async def test_an_event_calls_the_webhook_signed_with_the_rendered_message(shop, receiver):
    scenario = await _scenario(
        shop,
        receiver,
        {
            "type": "event",
            "event": "add-to-cart",
            "where": [{"param": "$price", "op": ">", "value": 100}],
        },
        "Hi {{client.email}}, still want {{client.eventContext.name}}?",
    )
    secret = scenario["actions"][0]["secret"]
    assert len(secret) >= 16
    await shop.send(
        {
            "event": "add-to-cart",
            "contact": {"email": "ann@example.com"},
            "params": {"name": "Cheap", "price": 5},
        },
        expect=200,
    )
    await shop.send(
        {
            "event": "add-to-cart",
            "id": "big",
            "contact": {"email": "ann@example.com"},
            "params": {"name": "Red shirt", "price": 150},
        },
        expect=200,
    )
    await receiver.wait(1)
    await asyncio.sleep(0.3)
    assert len(receiver.calls) == 1  # the cheap one did not match the restriction
    body, raw, headers = receiver.calls[0]
    expected = "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    assert headers["X-EkEvents-Signature"] == expected
    assert body["message"] == "Hi ann@example.com, still want Red shirt?"
    assert body["event"]["id"] == "big" and body["contact"]["email"] == "ann@example.com"
    assert body["scenario_id"] == scenario["id"]
    [delivery] = await _deliveries(
        shop, scenario["id"], lambda d: d and d[0]["status"] == "delivered"
    )
    assert delivery["id"] == body["delivery_id"]
    assert delivery["attempts"][0]["status_code"] == 200
    listed = await (await shop.get("/api/v1/scenarios")).json()
    assert "secret" not in json.dumps(listed)


async def test_a_failing_receiver_is_retried_with_backoff_until_it_succeeds(shop):
    receiver = await Receiver(statuses=[500, 503, 200]).start()
    try:
        scenario = await _scenario(shop, receiver, {"type": "event", "event": "add-to-cart"})
        await shop.send({"event": "add-to-cart", "contact": {"email": "a@b.c"}}, expect=200)
        [delivery] = await _deliveries(
            shop, scenario["id"], lambda d: d and d[0]["status"] == "delivered"
        )
        assert [a["status_code"] for a in delivery["attempts"]] == [500, 503, 200]
        assert len(receiver.calls) == 3
        assert len({c[0]["delivery_id"] for c in receiver.calls}) == 1
    finally:
        await receiver.stop()


async def test_a_4xx_fails_at_once_and_a_dead_receiver_stops_after_8_attempts(shop):
    rejecting = await Receiver(statuses=[410]).start()
    try:
        scenario = await _scenario(shop, rejecting, {"type": "event", "event": "add-to-cart"})
        await shop.send({"event": "add-to-cart", "contact": {"email": "a@b.c"}}, expect=200)
        [delivery] = await _deliveries(
            shop, scenario["id"], lambda d: d and d[0]["status"] == "failed"
        )
        assert len(delivery["attempts"]) == 1
    finally:
        await rejecting.stop()
    dead = Receiver()  # never started: connections are refused
    scenario = await _scenario(shop, dead, {"type": "event", "event": "product-viewed"})
    await shop.send({"event": "product-viewed", "contact": {"email": "a@b.c"}}, expect=200)
    [delivery] = await _deliveries(
        shop, scenario["id"], lambda d: d and d[0]["status"] == "failed", timeout=30
    )
    assert len(delivery["attempts"]) == 8
    assert all(a["status_code"] is None and a["error"] for a in delivery["attempts"])


async def test_a_system_event_fans_out_to_the_segment_it_names(shop, receiver):
    for who, product in (("ann", "p1"), ("bob", "p2"), ("cy", "p1")):
        await shop.send(
            {
                "event": "product-viewed",
                "contact": {"email": f"{who}@example.com"},
                "params": {"product_id": product},
            },
            expect=200,
        )
    scenario = await _scenario(
        shop,
        receiver,
        {
            "type": "system_event",
            "event": "back-in-stock",
            "audience": {
                "match": "all",
                "conditions": [
                    {
                        "event": "product-viewed",
                        "where": [
                            {"param": "$product_id", "op": "=", "value": "$event.product_id"}
                        ],
                    }
                ],
            },
        },
        "{{client.email}}: {{client.eventContext.product_id}} is back",
    )
    await shop.send({"event": "back-in-stock", "params": {"product_id": "p1"}}, expect=200)
    await receiver.wait(2)
    await asyncio.sleep(0.3)
    messages = sorted(call[0]["message"] for call in receiver.calls)
    assert messages == ["ann@example.com: p1 is back", "cy@example.com: p1 is back"]
    deliveries = await _deliveries(shop, scenario["id"], lambda d: len(d) == 2)
    assert {d["status"] for d in deliveries} == {"delivered"}


async def test_a_disabled_scenario_starts_nothing(shop, receiver):
    scenario = await _scenario(shop, receiver, {"type": "event", "event": "add-to-cart"})
    response = await shop.post(f"/api/v1/scenarios/{scenario['id']}/disable")
    assert (await response.json())["enabled"] is False
    await shop.send({"event": "add-to-cart", "contact": {"email": "a@b.c"}}, expect=200)
    await asyncio.sleep(0.5)
    assert receiver.calls == []
    await shop.post(f"/api/v1/scenarios/{scenario['id']}/enable")
    await shop.send({"event": "add-to-cart", "contact": {"email": "a@b.c"}}, expect=200)
    await receiver.wait(1)


@pytest.mark.parametrize(
    ("trigger", "path"),
    [
        ({"type": "event", "event": "nope"}, "trigger.event"),
        ({"type": "event", "event": "back-in-stock"}, "trigger.event"),
        ({"type": "system_event", "event": "add-to-cart", "audience": {}}, "trigger.event"),
        ({"type": "sometimes", "event": "add-to-cart"}, "trigger.type"),
    ],
)
async def test_bad_scenarios_are_refused(shop, trigger, path):
    response = await shop.post(
        "/api/v1/scenarios",
        {
            "name": "x",
            "trigger": trigger,
            "actions": [{"type": "webhook", "url": "http://127.0.0.1:9/x"}],
        },
    )
    assert response.status == 422
    assert (await response.json())["error"]["details"][0]["path"] == path
    bad_url = await shop.post(
        "/api/v1/scenarios",
        {
            "name": "x",
            "trigger": {"type": "event", "event": "add-to-cart"},
            "actions": [{"type": "webhook", "url": "ftp://x"}],
        },
    )
    assert bad_url.status == 422


async def test_the_outbox_survives_a_restart(db_url):
    receiver = Receiver()  # down at first
    config = Config(db_url=db_url)
    first = TestClient(TestServer(await create_app(config)))
    await first.start_server()
    key = await create_key(first.server.app[STORAGE], name="k", kind="server")
    api = Api(first, key)
    await api.define("add-to-cart")
    scenario = await _scenario(api, receiver, {"type": "event", "event": "add-to-cart"})
    await api.send(
        {"event": "add-to-cart", "id": "kept", "contact": {"email": "a@b.c"}}, expect=200
    )
    await _deliveries(api, scenario["id"], lambda d: d and d[0]["attempts"])
    await first.close()  # the process goes away with the delivery still pending

    await receiver.start()
    second = TestClient(TestServer(await create_app(config)))
    await second.start_server()
    try:
        await receiver.wait(1, timeout=15)
        assert receiver.calls[0][0]["event"]["id"] == "kept"
        deliveries = await _deliveries(
            Api(second, key), scenario["id"], lambda d: d and d[0]["status"] == "delivered"
        )
        assert len(deliveries) == 1
    finally:
        await second.close()
        await receiver.stop()


def test_templates_fill_event_and_contact_fields_and_nothing_else():
    event = {"event": "add-to-cart", "id": "e1", "params": {"name": "<b>Shirt</b>", "n": 2}}
    contact = {"email": "ann@example.com", "attributes": {"tier": "gold"}}
    assert (
        render("{{client.eventContext.name}} x{{ client.eventContext.n }}", event, contact)
        == "<b>Shirt</b> x2"
    )
    assert (
        render("{{client.email}} {{client.attributes.tier}} {{event.name}}", event, contact)
        == "ann@example.com gold add-to-cart"
    )
    assert (
        render("{{client.phone}}|{{client.eventContext.missing}}|{{__class__}}", event, None)
        == "||"
    )
    assert render("{% for x in y %}{{ 7*7 }}", event, contact) == "{% for x in y %}{{ 7*7 }}"
