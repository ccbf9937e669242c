"""Default e-commerce events, the product catalog built from traffic, event types."""

from __future__ import annotations

import pytest

from collector.ecommerce import DEFAULT_NAMES

ANN = {"email": "ann@example.com"}


async def test_the_default_events_are_pre_registered(api):
    listed = await (await api.get("/api/v1/event-definitions")).json()
    assert {d["name"] for d in listed["definitions"]} >= DEFAULT_NAMES
    assert len(DEFAULT_NAMES) == 14
    viewed = await (await api.get("/api/v1/event-definitions/product-viewed")).json()
    required = {f["code"] for f in viewed["fields"] if f["required"]}
    assert required == {"product_id"}


@pytest.mark.parametrize(
    ("event", "params", "code", "path"),
    [
        ("product-viewed", {}, "missing_required", "params.product_id"),
        ("product-clicked", {"name": "x"}, "missing_required", "params.product_id"),
        ("product-viewed", {"product_id": ["a", "b"]}, "invalid_type", "params.product_id"),
        ("product-searched", {}, "missing_required", "params.query"),
        ("add-to-cart", {"product_id": "p"}, "missing_required", "params.cart_id"),
        ("add-to-cart", {"cart_id": "c"}, "missing_required", "params.product_id"),
        ("remove-from-cart", {}, "missing_required", "params.checkout_id"),
        ("product-reviewed", {"product_id": "p"}, "missing_required", "params.review_id"),
        ("product-list-viewed", {}, "missing_required", "params.products"),
        (
            "product-list-viewed",
            {"products": [{"name": "x"}]},
            "missing_required",
            "params.products[0].product_id",
        ),
        (
            "product-list-viewed",
            {"products": {"product_id": "p"}},
            "invalid_type",
            "params.products",
        ),
        ("order-updated", {}, "missing_required", "params.total"),
        (
            "order-updated",
            {"total": 5, "products": [{"product_id": "p"}, {}]},
            "missing_required",
            "params.products[1].product_id",
        ),
        ("order-completed", {"total": 5}, "missing_required", "params.products"),
        (
            "order-completed",
            {"products": [{"product_id": {"id": 1}}]},
            "invalid_type",
            "params.products[0].product_id",
        ),
        ("order-cancelled", {"products": []}, None, None),
        ("order-refunded", {"products": "p1"}, "invalid_type", "params.products"),
        ("page-view", {}, "missing_required", "params.title"),
    ],
)
async def test_default_events_are_validated_with_reason_and_path(api, event, params, code, path):
    data = await api.send({"event": event, "contact": ANN, "params": params})
    result = data["results"][0]
    if code is None:
        assert result["status"] == "accepted", result
    else:
        assert (code, path) in [(e["code"], e["path"]) for e in result["errors"]], result


async def test_products_are_catalogued_from_traffic_with_variants(api):
    await api.send(
        {
            "batch": [
                {
                    "event": "product-viewed",
                    "contact": ANN,
                    "timestamp": "2026-11-01T10:00:00Z",
                    "params": {
                        "product_id": "tee",
                        "name": "Tee",
                        "price": "19.90",
                        "category": "Shirts",
                    },
                },
                {
                    "event": "add-to-cart",
                    "contact": ANN,
                    "timestamp": "2026-11-02T10:00:00Z",
                    "params": {
                        "cart_id": "c1",
                        "product_id": "tee",
                        "variant": "Red / M",
                        "sku": "TEE-R-M",
                        "brand": "Acme",
                        "price": 17.5,
                    },
                },
                {
                    "event": "order-completed",
                    "contact": ANN,
                    "timestamp": "2026-11-03T10:00:00Z",
                    "params": {
                        "products": [
                            {"product_id": "tee", "variant": "Blue / L", "variant_id": "v-blue-l"},
                            {"product_id": 42, "name": "Mug"},
                        ]
                    },
                },
            ]
        }
    )
    await api.define("wishlist-shared", [])
    await api.send(
        {
            "event": "wishlist-shared",
            "contact": ANN,
            "params": {"product": {"product_id": "cap", "name": "Cap", "url": "/cap"}},
        }
    )
    body = await (await api.get("/api/v1/products")).json()
    by_id = {p["product_id"]: p for p in body["products"]}
    assert sorted(by_id) == ["42", "cap", "tee"]
    tee = by_id["tee"]
    assert (tee["name"], tee["price"], tee["category"], tee["brand"]) == (
        "Tee",
        17.5,
        "Shirts",
        "Acme",
    )
    assert tee["first_seen"] == "2026-11-01T10:00:00Z"
    assert tee["last_seen"] == "2026-11-03T10:00:00Z"
    assert tee["variants"] == [
        {"variant_id": "TEE-R-M", "variant": "Red / M", "sku": "TEE-R-M"},
        {"variant_id": "v-blue-l", "variant": "Blue / L", "sku": None},
    ]
    assert by_id["cap"]["url"] == "/cap"
    first = await (await api.get("/api/v1/products", params={"limit": "2"})).json()
    rest = await (
        await api.get("/api/v1/products", params={"limit": "2", "cursor": first["next"]})
    ).json()
    assert [p["product_id"] for p in first["products"] + rest["products"]] == ["42", "cap", "tee"]


async def test_event_types_list_keys_two_levels_deep_with_types_and_counts(api):
    await api.define("checkout-step", [])
    for step in (1, "two"):
        await api.send(
            {
                "event": "checkout-step",
                "contact": ANN,
                "params": {
                    "step": step,
                    "product": {"name": "Tee", "dims": {"w": 1}},
                    "items": [{"sku": "a"}, {"sku": "b", "qty": 2}],
                },
            }
        )
    await api.send({"event": "never-defined", "contact": ANN, "params": {"x": 1}})
    body = await (await api.get("/api/v1/event-types")).json()
    by_event = {t["event"]: {k["key"]: k for k in t["keys"]} for t in body["event_types"]}
    keys = by_event["checkout-step"]
    assert set(keys) == {
        "step",
        "product",
        "product.name",
        "product.dims",
        "items",
        "items[].sku",
        "items[].qty",
        "source",
    }
    # the second one failed (step became an integer field) but was seen all the same
    assert keys["step"]["types"] == {"number": 1, "string": 1} and keys["step"]["count"] == 2
    assert keys["product.name"]["types"] == {"string": 2}
    assert by_event["never-defined"]["x"]["types"] == {"number": 1}
