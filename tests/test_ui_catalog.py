"""The products and event types pages."""

from __future__ import annotations

XSS = "<img src=x onerror=alert(1)>"


async def test_products_page_lists_the_catalog_escaped(ui, api):
    await api.send(
        {
            "event": "product-viewed",
            "contact": {"email": "a@b.c"},
            "params": {"product_id": "tee", "name": XSS, "price": 9.5},
        }
    )
    page = await (await ui.get("/products")).text()
    assert "tee" in page and "9.5" in page
    assert XSS not in page and "&lt;img src=x onerror=alert(1)&gt;" in page


async def test_event_types_page_shows_defined_and_undefined_names(ui, api):
    await api.send(
        {
            "event": "mystery-event",
            "contact": {"email": "a@b.c"},
            "params": {"colour": "red", "item": {"sku": "x"}},
        }
    )
    page = await (await ui.get("/event-types")).text()
    assert "mystery-event" in page and "not defined" in page
    assert "item.sku" in page
