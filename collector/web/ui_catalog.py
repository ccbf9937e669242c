"""UI: the product catalog and the event types seen."""

from __future__ import annotations

from aiohttp import web

from collector.appkeys import DEFINITIONS, STORAGE
from collector.web.ui import render

routes = web.RouteTableDef()
PAGE = 100


@routes.get("/products", name="products")
async def products(request: web.Request) -> web.Response:
    after = request.query.get("after") or None
    rows = await request.app[STORAGE].list_products(PAGE + 1, after)
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    return await render(
        request,
        "products.html",
        {
            "title": "Products",
            "products": rows,
            "next": rows[-1]["product_id"] if more and rows else None,
        },
    )


@routes.get("/event-types", name="event-types")
async def event_types(request: web.Request) -> web.Response:
    defined = {d.name for d in request.app[DEFINITIONS].all_current() if not d.hidden}
    return await render(
        request,
        "event_types.html",
        {
            "title": "Event types",
            "types": await request.app[STORAGE].event_types(),
            "defined": defined,
        },
    )
