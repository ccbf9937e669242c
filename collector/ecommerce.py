"""Default e-commerce events (pre-registered, validated) and the product catalog.

The schemas follow the brief (the "default events" of the source product): every event
that describes products takes the product fields below; `products` is a list of such
products where an event holds several, each needing a `product_id`. A product id must be
a single value: one sent as a list or object fails with its path.
"""

from __future__ import annotations

import math
from typing import Any

from collector.model import Reason

PRODUCT = [
    {"code": "product_id", "label": "Product id", "type": "text"},
    {"code": "sku", "label": "SKU", "type": "text"},
    {"code": "category", "label": "Category", "type": "text"},
    {"code": "name", "label": "Name", "type": "text"},
    {"code": "brand", "label": "Brand", "type": "text"},
    {"code": "variant", "label": "Variant", "type": "text"},
    {"code": "variant_id", "label": "Variant id", "type": "text"},
    {"code": "price", "label": "Price", "type": "decimal"},
    {"code": "quantity", "label": "Quantity", "type": "integer"},
    {"code": "coupon", "label": "Coupon", "type": "text"},
    {"code": "position", "label": "Position", "type": "integer"},
    {"code": "url", "label": "URL", "type": "text"},
    {"code": "image_url", "label": "Image URL", "type": "text"},
]
CHECKOUT = [
    {"code": "checkout_id", "label": "Checkout id", "type": "text"},
    {"code": "order_id", "label": "Order id", "type": "text"},
    {"code": "shipping_method", "label": "Shipping method", "type": "text"},
    {"code": "payment_method", "label": "Payment method", "type": "text"},
]
ORDER = [
    {"code": "order_id", "label": "Order id", "type": "text"},
    {"code": "total", "label": "Total", "type": "decimal"},
    {"code": "coupon", "label": "Coupon", "type": "text"},
    {"code": "currency", "label": "Currency", "type": "text"},
    {"code": "products", "label": "Products", "type": "json"},
]


def _fields(base: list[dict[str, Any]], *required: str, extra: list[dict] | None = None) -> list:
    fields = [dict(f) for f in base] + [dict(f) for f in extra or []]
    for field in fields:
        field["required"] = field["code"] in required
    return fields


DEFAULT_EVENTS: list[dict[str, Any]] = [
    {
        "name": "product-clicked",
        "title": "Product clicked",
        "category": "signal",
        "fields": _fields(PRODUCT, "product_id"),
    },
    {
        "name": "product-searched",
        "title": "Product searched",
        "category": "signal",
        "fields": [{"code": "query", "label": "Query", "type": "text", "required": True}],
    },
    {
        "name": "product-viewed",
        "title": "Product viewed",
        "category": "signal",
        "fields": _fields(PRODUCT, "product_id"),
    },
    {
        "name": "product-list-viewed",
        "title": "Product list viewed",
        "category": "signal",
        "fields": [
            {"code": "list_id", "label": "List id", "type": "text"},
            {"code": "category", "label": "Category", "type": "text"},
            {"code": "products", "label": "Products", "type": "json", "required": True},
        ],
    },
    {
        "name": "product-reviewed",
        "title": "Product reviewed",
        "category": "signal",
        "fields": [
            {"code": "product_id", "label": "Product id", "type": "text", "required": True},
            {"code": "review_id", "label": "Review id", "type": "text", "required": True},
            {"code": "review_body", "label": "Review", "type": "text"},
            {"code": "rating", "label": "Rating", "type": "decimal"},
        ],
    },
    {
        "name": "product-added-to-wishlist",
        "title": "Product added to wishlist",
        "category": "signal",
        "fields": _fields(
            PRODUCT,
            extra=[
                {"code": "wishlist_id", "label": "Wishlist id", "type": "text"},
                {"code": "wishlist_name", "label": "Wishlist", "type": "text"},
            ],
        ),
    },
    {
        "name": "add-to-cart",
        "title": "Add to cart",
        "category": "conversion",
        "fields": _fields(
            PRODUCT,
            "cart_id",
            "product_id",
            extra=[{"code": "cart_id", "label": "Cart id", "type": "text"}],
        ),
    },
    {
        "name": "remove-from-cart",
        "title": "Remove from cart",
        "category": "conversion",
        "fields": _fields(CHECKOUT, "checkout_id"),
    },
    {
        "name": "payment-info",
        "title": "Payment info entered",
        "category": "conversion",
        "fields": _fields(CHECKOUT),
    },
    {
        "name": "order-updated",
        "title": "Order updated",
        "category": "transaction",
        "fields": _fields(
            ORDER,
            "total",
            extra=[
                {"code": "affiliation", "label": "Affiliation", "type": "text"},
                {"code": "revenue", "label": "Revenue", "type": "decimal"},
                {"code": "shipping", "label": "Shipping", "type": "decimal"},
                {"code": "tax", "label": "Tax", "type": "decimal"},
            ],
        ),
    },
    {
        "name": "order-completed",
        "title": "Order completed",
        "category": "transaction",
        "fields": _fields(
            ORDER,
            "products",
            extra=[
                {"code": "checkout_id", "label": "Checkout id", "type": "text"},
                {"code": "revenue", "label": "Revenue", "type": "decimal"},
                {"code": "shipping", "label": "Shipping", "type": "decimal"},
                {"code": "discount", "label": "Discount", "type": "decimal"},
                {"code": "tax", "label": "Tax", "type": "decimal"},
            ],
        ),
    },
    {
        "name": "order-cancelled",
        "title": "Order cancelled",
        "category": "transaction",
        "fields": _fields(ORDER, "products"),
    },
    {
        "name": "order-refunded",
        "title": "Order refunded",
        "category": "transaction",
        "fields": _fields(ORDER, "products"),
    },
    {
        "name": "page-view",
        "title": "Page view",
        "category": "signal",
        "fields": [
            {"code": "title", "label": "Title", "type": "text", "required": True},
            {"code": "url", "label": "URL", "type": "text"},
            {"code": "referrer", "label": "Referrer", "type": "text"},
            {"code": "name", "label": "Name", "type": "text"},
            {"code": "channel", "label": "Channel", "type": "text"},
        ],
    },
]
DEFAULT_NAMES = frozenset(e["name"] for e in DEFAULT_EVENTS)
_PRODUCT_CODES = {f["code"]: f["type"] for f in PRODUCT}


def check_products(event: str, params: dict[str, Any]) -> list[Reason]:
    """The nested shape of `products` on the default events that carry it."""
    if event not in DEFAULT_NAMES or "products" not in params:
        return []
    products = params["products"]
    if not isinstance(products, list):
        return [Reason("invalid_type", "params.products", "products is a list of products")]
    reasons = []
    for i, product in enumerate(products):
        path = f"params.products[{i}]"
        if not isinstance(product, dict):
            reasons.append(Reason("invalid_type", path, "a product is an object"))
            continue
        pid = product.get("product_id")
        if pid is None or pid == "":
            reasons.append(
                Reason("missing_required", f"{path}.product_id", "product_id is required")
            )
        elif not _single(pid):
            reasons.append(
                Reason(
                    "invalid_type",
                    f"{path}.product_id",
                    "product_id is one text or number, not a list or object",
                )
            )
    return reasons


def _single(value: Any) -> bool:
    return isinstance(value, (str, int, float)) and not isinstance(value, bool)


def products_in(event: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Catalog records an event carries: a product at the top of a default event, its
    `products` list, or a custom event's `product` key (one product or a list)."""
    found: list[Any] = []
    if event in DEFAULT_NAMES and _single(params.get("product_id")):
        found.append(params)
    for key in ("products", "product"):
        value = params.get(key)
        if isinstance(value, dict):
            found.append(value)
        elif isinstance(value, list):
            found.extend(value)
    records = []
    for item in found:
        if not isinstance(item, dict) or not _single(item.get("product_id")):
            continue
        record = {"product_id": str(item["product_id"])}
        for code in ("name", "category", "brand", "url", "image_url"):
            if isinstance(item.get(code), str) and item[code]:
                record[code] = item[code][:500]
        price = item.get("price")
        try:
            if price is not None and not isinstance(price, bool):
                value = float(price)
                if math.isfinite(value):  # "inf" / "nan" as text are no price
                    record["price"] = value
        except (TypeError, ValueError):
            pass
        variant_id = item.get("variant_id") or item.get("sku")  # sku stands in
        if isinstance(item.get("variant"), str) and _single(variant_id):
            record["variant"] = {
                "variant_id": str(variant_id),
                "variant": item["variant"],
                "sku": str(item["sku"]) if _single(item.get("sku")) else None,
            }
        records.append(record)
    return records


def key_paths(params: dict[str, Any]) -> dict[str, str]:
    """The property keys of an event, two levels deep (`product.name`, `products[].sku`),
    with the JSON type of each (deeper data is stored whole but not listed)."""
    paths = {key: _JSON_TYPES.get(type(value), "object") for key, value in params.items()}
    for key, value in params.items():
        if type(value) is dict:
            for k, child in value.items():
                paths.setdefault(f"{key}.{k}", _json_type(child))
        elif type(value) is list:
            for item in value:
                if type(item) is dict:
                    for k, child in item.items():
                        paths.setdefault(f"{key}[].{k}", _json_type(child))
    return paths


_JSON_TYPES = {
    type(None): "null",
    bool: "boolean",
    int: "number",
    float: "number",
    str: "string",
    list: "array",
    dict: "object",
}


def _json_type(value: Any) -> str:
    """The JSON type of a value read from JSON (so one of exactly these Python types)."""
    return _JSON_TYPES.get(type(value), "object")
