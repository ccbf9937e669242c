"""Sending events over the native API: validation, coercion, failures kept, duplicates."""

from __future__ import annotations

import pytest

PURCHASE = [
    {"code": "amount", "type": "decimal", "required": True},
    {"code": "qty", "type": "integer"},
    {"code": "gift", "type": "boolean"},
    {"code": "ship_on", "type": "date"},
    {"code": "paid_at", "type": "timestamp"},
    {"code": "coupon", "type": "text"},
]


@pytest.fixture
async def shop(api):
    await api.define("purchase", PURCHASE, category="transaction")
    await api.define("back-in-stock", [{"code": "product_id", "type": "text"}], scope="system")
    return api


async def test_an_accepted_event_is_stored_with_its_version_source_and_contact(shop):
    data = await shop.send(
        {
            "event": "purchase",
            "id": "evt-1",
            "contact": {"email": "Ann@Example.com "},
            "params": {"amount": 12.5},
        },
        expect=200,
    )
    assert data == {"results": [{"index": 0, "status": "accepted", "id": "evt-1"}]}
    [stored] = await shop.events()
    assert stored["id"] == "evt-1"
    assert stored["event"] == "purchase"
    assert stored["version"] == 1
    assert stored["params"] == {"amount": 12.5, "source": "api"}
    assert stored["source"] == "api"
    assert stored["api_inserted"] is True and stored["api_verified"] is True
    contact = await (await shop.get(f"/api/v1/contacts/{stored['contact_id']}")).json()
    assert contact["email"] == "ann@example.com"


async def test_a_given_source_is_kept(shop):
    await shop.send(
        {
            "event": "purchase",
            "contact": {"email": "a@b.c"},
            "params": {"amount": 1, "source": "checkout"},
        },
        expect=200,
    )
    assert (await shop.events())[0]["source"] == "checkout"


@pytest.mark.parametrize(
    ("params", "stored"),
    [
        ({"amount": "9.99"}, {"amount": 9.99}),
        ({"amount": 3}, {"amount": 3}),
        ({"amount": 1, "qty": "4"}, {"qty": 4}),
        ({"amount": 1, "qty": 4.0}, {"qty": 4}),
        ({"amount": 1, "qty": "4.0"}, {"qty": 4}),
        ({"amount": 1, "gift": "TRUE"}, {"gift": True}),
        ({"amount": 1, "gift": False}, {"gift": False}),
        ({"amount": 1, "ship_on": "2026-02-28"}, {"ship_on": "2026-02-28"}),
        ({"amount": 1, "paid_at": "2026-11-24 10:00:00"}, {"paid_at": "2026-11-24T10:00:00Z"}),
        (
            {"amount": 1, "paid_at": "2026-11-24T12:00:00+02:00"},
            {"paid_at": "2026-11-24T10:00:00Z"},
        ),
        ({"amount": 1, "coupon": 1234}, {"coupon": "1234"}),
        ({"amount": 1, "coupon": None}, {}),
    ],
)
async def test_values_are_coerced_to_their_field_types(shop, params, stored):
    await shop.send(
        {"event": "purchase", "contact": {"email": "a@b.c"}, "params": params}, expect=200
    )
    [event] = await shop.events()
    for code, value in stored.items():
        assert event["params"][code] == value
        assert type(event["params"][code]) is type(value)
    assert "coupon" not in event["params"] or params.get("coupon") is not None


@pytest.mark.parametrize(
    ("params", "path"),
    [
        ({"amount": "nine"}, "params.amount"),
        ({"amount": True}, "params.amount"),
        ({"amount": 1, "qty": 4.5}, "params.qty"),
        ({"amount": 1, "qty": 2**64}, "params.qty"),
        ({"amount": 1, "gift": "yes"}, "params.gift"),
        ({"amount": 1, "ship_on": "2026-02-30"}, "params.ship_on"),
        ({"amount": 1, "ship_on": "24/11/2026"}, "params.ship_on"),
        ({"amount": 1, "paid_at": "yesterday"}, "params.paid_at"),
        ({"amount": 1, "coupon": ["a"]}, "params.coupon"),
        ({"amount": 1, "coupon": {"a": 1}}, "params.coupon"),
    ],
)
async def test_a_value_of_the_wrong_type_fails_with_its_path(shop, params, path):
    data = await shop.send(
        {"event": "purchase", "contact": {"email": "a@b.c"}, "params": params}, expect=422
    )
    [result] = data["results"]
    assert result["status"] == "failed"
    assert [(e["code"], e["path"]) for e in result["errors"]] == [("invalid_type", path)]
    [failed] = await shop.failed()
    assert failed["id"] == result["id"]
    assert failed["payload"]["params"] == params
    assert await shop.events() == []


async def test_every_reason_is_reported_and_kept(shop):
    data = await shop.send(
        {"event": "purchase", "contact": {"email": "a@b.c"}, "params": {"qty": "x"}}, expect=422
    )
    codes = {(e["code"], e["path"]) for e in data["results"][0]["errors"]}
    assert codes == {("invalid_type", "params.qty"), ("missing_required", "params.amount")}
    [failed] = await shop.failed()
    assert {(r["code"], r["path"]) for r in failed["reasons"]} == codes
    assert failed["source"] == {"endpoint": "/api/v1/events", "key": "test server"}
    assert failed["received_at"].endswith("Z")


async def test_an_unknown_event_is_kept_as_a_failed_event(shop):
    data = await shop.send({"event": "never-defined", "contact": {"email": "a@b.c"}}, expect=422)
    assert data["results"][0]["errors"][0]["code"] == "unknown_event"
    [failed] = await shop.failed(reason="unknown_event")
    assert failed["event"] == "never-defined"


async def test_a_hidden_event_fails_with_hidden_event(shop):
    await shop.post("/api/v1/event-definitions/purchase/hide")
    data = await shop.send(
        {"event": "purchase", "contact": {"email": "a@b.c"}, "params": {"amount": 1}}, expect=422
    )
    assert data["results"][0]["errors"][0]["code"] == "hidden_event"


@pytest.mark.parametrize(
    ("body", "code", "path"),
    [
        ({"params": {}}, "missing_required", "event"),
        ({"event": "$identify"}, "unknown_event", "event"),
        ({"event": "purchase", "params": {"amount": 1}}, "unknown_contact", "contact"),
        (
            {"event": "purchase", "contact": {"id": 999}, "params": {"amount": 1}},
            "unknown_contact",
            "contact.id",
        ),
        (
            {"event": "purchase", "contact": {"email": "a@b.c"}, "params": [1]},
            "invalid_type",
            "params",
        ),
        (
            {
                "event": "purchase",
                "contact": {"email": "a@b.c"},
                "params": {"amount": 1},
                "timestamp": "last tuesday",
            },
            "invalid_type",
            "timestamp",
        ),
        (
            {"event": "purchase", "contact": {"email": "not-an-email"}, "params": {"amount": 1}},
            "invalid_type",
            "contact.email",
        ),
        (
            {
                "event": "purchase",
                "contact": {"email": "a@b.c"},
                "params": {"amount": 1},
                "session": "forged.token",
            },
            "invalid_session",
            "session",
        ),
        (
            {
                "event": "purchase",
                "contact": {"email": "a@b.c"},
                "params": {"amount": 1, "Bad-Key": 1},
            },
            "invalid_param",
            "params.Bad-Key",
        ),
        ("just a string", "malformed", ""),
    ],
)
async def test_bad_events_fail_with_a_reason_and_are_kept(shop, body, code, path):
    data = await shop.send(body, expect=422)
    errors = data["results"][0]["errors"]
    assert (code, path) in [(e["code"], e["path"]) for e in errors], errors
    [failed] = await shop.failed()
    assert failed["payload"] == body


async def test_a_system_event_needs_no_contact(shop):
    await shop.send({"event": "back-in-stock", "params": {"product_id": "p1"}}, expect=200)
    [event] = await shop.events()
    assert event["contact_id"] is None


async def test_a_contact_is_named_by_id_email_phone_or_external_id(shop):
    contact = await (await shop.post("/api/v1/contacts", {"external_id": "crm-7"})).json()
    for ref in ({"id": contact["id"]}, {"external_id": "crm-7"}):
        await shop.send({"event": "purchase", "contact": ref, "params": {"amount": 1}}, expect=200)
    await shop.send(
        {"event": "purchase", "contact": {"phone": "+1 (555) 010-2000"}, "params": {"amount": 1}},
        expect=200,
    )
    await shop.send(
        {"event": "purchase", "contact": {"phone": "+15550102000"}, "params": {"amount": 1}},
        expect=200,
    )
    events = await shop.events()
    assert sum(e["contact_id"] == contact["id"] for e in events) == 2
    phone_contacts = {e["contact_id"] for e in events} - {contact["id"]}
    assert len(phone_contacts) == 1  # two spellings of one phone are one contact


async def test_undefined_params_are_auto_created_with_an_inferred_type(shop):
    await shop.send(
        {
            "event": "purchase",
            "contact": {"email": "a@b.c"},
            "params": {
                "amount": 1,
                "color": "red",
                "size": 42,
                "weight": 1.5,
                "promo": True,
                "launch": "2026-01-02",
                "cart": {"items": [1, 2]},
            },
        },
        expect=200,
    )
    definition = await (await shop.get("/api/v1/event-definitions/purchase")).json()
    assert definition["version"] == 2
    auto = {f["code"]: f for f in definition["fields"] if f["auto_created"]}
    assert {code: f["type"] for code, f in auto.items()} == {
        "color": "text",
        "size": "integer",
        "weight": "decimal",
        "promo": "boolean",
        "launch": "date",
        "cart": "json",
    }
    assert all(f["label"] == "" for f in auto.values())
    [event] = await shop.events()
    assert event["version"] == 2
    assert event["params"]["cart"] == {"items": [1, 2]}
    # a second event with the same params does not make another version
    await shop.send(
        {
            "event": "purchase",
            "contact": {"email": "a@b.c"},
            "params": {"amount": 1, "color": "blue"},
        },
        expect=200,
    )
    again = await (await shop.get("/api/v1/event-definitions/purchase")).json()
    assert again["version"] == 2


async def test_an_auto_created_integer_widens_to_decimal(shop):
    body = {"event": "purchase", "contact": {"email": "a@b.c"}, "params": {"amount": 1, "n": 2}}
    await shop.send(body, expect=200)
    body["params"]["n"] = 2.5
    await shop.send(body, expect=200)
    definition = await (await shop.get("/api/v1/event-definitions/purchase")).json()
    assert {f["code"]: f["type"] for f in definition["fields"]}["n"] == "decimal"
    assert definition["version"] == 3
    body["params"]["n"] = "many"
    await shop.send(body, expect=422)


async def test_the_same_id_twice_is_stored_once(shop):
    body = {
        "event": "purchase",
        "id": "once",
        "contact": {"email": "a@b.c"},
        "params": {"amount": 1},
    }
    first = await shop.send(body, expect=200)
    second = await shop.send(body, expect=200)
    assert first["results"][0]["status"] == "accepted"
    assert second["results"][0]["status"] == "duplicate"
    batch = await shop.send({"batch": [body, {**body, "id": "twice"}, {**body, "id": "twice"}]})
    assert [r["status"] for r in batch["results"]] == ["duplicate", "accepted", "duplicate"]
    assert sorted(e["id"] for e in await shop.events()) == ["once", "twice"]


async def test_a_batch_answers_per_event_and_keeps_the_failures(shop):
    good = {"event": "purchase", "contact": {"email": "a@b.c"}, "params": {"amount": 1}}
    data = await shop.send({"batch": [good, {"event": "nope"}, good, 7]}, expect=200)
    assert [(r["index"], r["status"]) for r in data["results"]] == [
        (0, "accepted"),
        (1, "failed"),
        (2, "accepted"),
        (3, "failed"),
    ]
    assert len(await shop.events()) == 2
    payloads = [f["payload"] for f in await shop.failed()]
    assert sorted(map(str, payloads)) == sorted(map(str, [{"event": "nope"}, 7]))


async def test_timestamps_are_kept_and_read_as_utc_without_a_zone(shop):
    await shop.send(
        {
            "event": "purchase",
            "contact": {"email": "a@b.c"},
            "params": {"amount": 1},
            "timestamp": "2026-11-24 10:00:00",
        },
        expect=200,
    )
    [event] = await shop.events()
    assert event["timestamp"] == "2026-11-24T10:00:00Z"
