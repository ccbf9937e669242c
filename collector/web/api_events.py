"""HTTP API: sending events, searching them, failed events and their replay."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from collector.adapters import native
from collector.appkeys import HISTORY, KEYRING, PIPELINE
from collector.errors import BadRequest
from collector.openapi import document
from collector.web.bodies import json_body, presented_key
from collector.web.ingest import receive, results_response

routes = web.RouteTableDef()


def split_native(body: Any) -> tuple[list[Any], bool]:
    if isinstance(body, dict) and "batch" in body:
        if not isinstance(body["batch"], list):
            raise ValueError("batch is a list of events")
        return body["batch"], False
    return [body], True


@routes.post("/api/v1/events", name="api-events-send")
async def send_events(request: web.Request) -> web.Response:
    key = await request.app[KEYRING].server_key(presented_key(request), "events:write")
    outcomes, single = await receive(request, key, door="api", split=split_native, adapter=native)
    return results_response(outcomes, single)


@routes.get("/api/v1/events", name="api-events-search")
async def search_events(request: web.Request) -> web.Response:
    key = await request.app[KEYRING].server_key(presented_key(request), "events:read")
    return web.json_response(await request.app[HISTORY].search(request.query, key))


@routes.get("/api/v1/failed-events", name="api-failed-events")
async def failed_events(request: web.Request) -> web.Response:
    await request.app[KEYRING].server_key(presented_key(request), "events:read")
    return web.json_response(await request.app[HISTORY].failed(request.query))


@routes.get("/api/v1/openapi.json", name="api-openapi")
async def openapi(request: web.Request) -> web.Response:
    return web.json_response(document())


@routes.post("/api/v1/failed-events/replay", name="api-failed-events-replay")
async def replay_failed(request: web.Request) -> web.Response:
    key = await request.app[KEYRING].server_key(presented_key(request), "events:write")
    body = await json_body(request)
    ids = body.get("ids") if isinstance(body, dict) else None
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        raise BadRequest("send {ids: [failed event id, …]}")
    if len(ids) > 500:
        raise BadRequest("at most 500 ids in one replay", code="too_many_events")
    source = {"endpoint": request.path, "key": key.name}
    return web.json_response({"results": await request.app[PIPELINE].replay(ids, key, source)})
