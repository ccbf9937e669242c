"""UI: the overview page."""

from __future__ import annotations

from aiohttp import web

from collector.appkeys import DEFINITIONS, STORAGE
from collector.charts import bar_chart, volume
from collector.storage import FailedQuery
from collector.web.ui import render

routes = web.RouteTableDef()


@routes.get("/", name="overview")
async def overview(request: web.Request) -> web.Response:
    storage = request.app[STORAGE]
    day, month = await volume(storage, None, "24h"), await volume(storage, None, "30d")
    failed = await storage.search_failed(FailedQuery(limit=1000))
    return await render(
        request,
        "overview.html",
        {
            "title": "Overview",
            "volume_24h": day,
            "chart_24h": bar_chart(day),
            "chart_30d": bar_chart(month),
            "definitions_count": len(
                [d for d in request.app[DEFINITIONS].all_current() if not d.hidden]
            ),
            "failed_count": len(failed),
            "failed_more": len(failed) >= 1000,
        },
    )
