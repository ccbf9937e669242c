"""UI: the live debugger, a page fed by Server-Sent Events as events are committed."""

from __future__ import annotations

import asyncio
import json

from aiohttp import web

from collector.appkeys import DEFINITIONS, LIVE, STORAGE
from collector.live import matches
from collector.web.ui import render

routes = web.RouteTableDef()

KEEPALIVE_SECONDS = 15


@routes.get("/live", name="live")
async def live(request: web.Request) -> web.Response:
    names = sorted(d.name for d in request.app[DEFINITIONS].all_current() if not d.hidden)
    keys = sorted({k["name"] for k in await request.app[STORAGE].list_keys()})
    return await render(
        request,
        "live.html",
        {
            "title": "Live debugger",
            "names": names,
            "keys": keys,
            "event": request.query.get("event", ""),
            "key": request.query.get("key", ""),
        },
    )


@routes.get("/live/stream", name="live-stream")
async def stream(request: web.Request) -> web.StreamResponse:
    """`text/event-stream` of committed events and failures, filtered by name and key."""
    event, key = request.query.get("event") or None, request.query.get("key") or None
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",  # nginx: pass each message through at once
        }
    )
    await response.prepare(request)
    feed = request.app[LIVE]
    queue = await feed.subscribe()
    try:
        await response.write(b": connected\n\n")
        while True:
            try:
                entry = await asyncio.wait_for(queue.get(), KEEPALIVE_SECONDS)
            except TimeoutError:
                await response.write(b": keep-alive\n\n")
                continue
            if matches(entry, event, key):
                data = json.dumps(entry, separators=(",", ":"), ensure_ascii=False)
                await response.write(f"data: {data}\n\n".encode())
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        feed.unsubscribe(queue)
    return response
