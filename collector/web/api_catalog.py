"""HTTP API: the product catalog and the event types seen."""

from __future__ import annotations

from aiohttp import web

from collector.appkeys import KEYRING, STORAGE
from collector.paging import parse_limit
from collector.web.bodies import presented_key

routes = web.RouteTableDef()


@routes.get("/api/v1/products", name="api-products")
async def products(request: web.Request) -> web.Response:
    await request.app[KEYRING].server_key(presented_key(request), "events:read")
    limit = parse_limit(request.query)
    rows = await request.app[STORAGE].list_products(limit + 1, request.query.get("cursor"))
    more = len(rows) > limit
    rows = rows[:limit]
    return web.json_response(
        {"products": rows, "next": rows[-1]["product_id"] if more and rows else None}
    )


@routes.get("/api/v1/event-types", name="api-event-types")
async def event_types(request: web.Request) -> web.Response:
    await request.app[KEYRING].server_key(presented_key(request), "events:read")
    return web.json_response(
        {"event_types": await request.app[STORAGE].event_types(), "next": None}
    )
