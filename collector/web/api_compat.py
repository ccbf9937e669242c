"""HTTP API doors compatible with other products' formats: enKod, MSG91, Squeezely.

Each only adds an adapter: the events go through the same pipeline as native ones.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from collector.adapters import backend, enkod, msg91
from collector.appkeys import KEYRING
from collector.web.bodies import presented_key
from collector.web.ingest import receive, results_response

routes = web.RouteTableDef()


def _single(body: Any) -> tuple[list[Any], bool]:
    return [body], True


def _msg91_items(body: Any) -> tuple[list[Any], bool]:
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        raise ValueError("send {data: [{event_name, visitor_id, event_properties, …}]}")
    return body["data"], False


@routes.post("/api/v1/customEvent/save", name="api-enkod")
async def enkod_save(request: web.Request) -> web.Response:
    key = await request.app[KEYRING].server_key(presented_key(request), "events:write")
    outcomes, single = await receive(request, key, door="enkod", split=_single, adapter=enkod)
    return results_response(outcomes, single)


@routes.post("/api/v1/user-events", name="api-msg91")
async def msg91_events(request: web.Request) -> web.Response:
    key = await request.app[KEYRING].server_key(presented_key(request), "events:write")
    outcomes, single = await receive(request, key, door="msg91", split=_msg91_items, adapter=msg91)
    return results_response(outcomes, single)


@routes.post("/api/v1/backend-events", name="api-backend-events")
async def backend_events(request: web.Request) -> web.Response:
    key = await request.app[KEYRING].server_key(presented_key(request), "events:write")
    outcomes, single = await receive(request, key, door="backend", split=_single, adapter=backend)
    return results_response(outcomes, single)
