"""HTTP API: event definitions."""

from __future__ import annotations

from aiohttp import web

from collector.appkeys import DEFINITIONS, KEYRING
from collector.errors import BadRequest
from collector.web.bodies import json_body, presented_key

routes = web.RouteTableDef()


@routes.post("/api/v1/event-definitions", name="api-definitions-create")
async def create(request: web.Request) -> web.Response:
    await request.app[KEYRING].server_key(presented_key(request), "definitions:write")
    definition = await request.app[DEFINITIONS].create(await json_body(request))
    return web.json_response(definition.as_json(), status=201)


@routes.get("/api/v1/event-definitions", name="api-definitions-list")
async def list_(request: web.Request) -> web.Response:
    await request.app[KEYRING].server_key(presented_key(request), "events:read")
    include_hidden = request.query.get("include_hidden") in ("1", "true")
    definitions = await request.app[DEFINITIONS].list(include_hidden)
    return web.json_response({"definitions": [d.as_json() for d in definitions], "next": None})


@routes.get("/api/v1/event-definitions/{name}", name="api-definition")
async def get(request: web.Request) -> web.Response:
    await request.app[KEYRING].server_key(presented_key(request), "events:read")
    version = request.query.get("version")
    if version is not None and not (version.isascii() and version.isdigit() and len(version) < 10):
        raise BadRequest("version is a positive integer", code="invalid_query")
    definition = await request.app[DEFINITIONS].get(
        request.match_info["name"], int(version) if version else None
    )
    return web.json_response(definition.as_json())


@routes.put("/api/v1/event-definitions/{name}", name="api-definition-edit")
async def edit(request: web.Request) -> web.Response:
    await request.app[KEYRING].server_key(presented_key(request), "definitions:write")
    definition = await request.app[DEFINITIONS].edit(
        request.match_info["name"], await json_body(request)
    )
    return web.json_response(definition.as_json())


@routes.post("/api/v1/event-definitions/{name}/hide", name="api-definition-hide")
async def hide(request: web.Request) -> web.Response:
    await request.app[KEYRING].server_key(presented_key(request), "definitions:write")
    definition = await request.app[DEFINITIONS].hide(request.match_info["name"])
    return web.json_response(definition.as_json())
