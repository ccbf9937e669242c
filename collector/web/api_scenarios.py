"""HTTP API: scenarios and their deliveries."""

from __future__ import annotations

from aiohttp import web

from collector.appkeys import KEYRING, SCENARIOS
from collector.paging import parse_limit
from collector.web.bodies import json_body, presented_key

routes = web.RouteTableDef()


@routes.post("/api/v1/scenarios", name="api-scenarios-create")
async def create(request: web.Request) -> web.Response:
    await request.app[KEYRING].server_key(presented_key(request), "scenarios:write")
    scenario = await request.app[SCENARIOS].create(await json_body(request))
    # webhook secrets are shown this once
    return web.json_response(scenario.as_json(with_secrets=True), status=201)


@routes.get("/api/v1/scenarios", name="api-scenarios-list")
async def list_(request: web.Request) -> web.Response:
    await request.app[KEYRING].server_key(presented_key(request), "scenarios:write")
    scenarios = await request.app[SCENARIOS].list()
    return web.json_response({"scenarios": [s.as_json() for s in scenarios], "next": None})


@routes.get("/api/v1/scenarios/{id}", name="api-scenario")
async def get(request: web.Request) -> web.Response:
    await request.app[KEYRING].server_key(presented_key(request), "scenarios:write")
    return web.json_response((await request.app[SCENARIOS].get(request.match_info["id"])).as_json())


@routes.post("/api/v1/scenarios/{id}/{action:enable|disable}", name="api-scenario-toggle")
async def toggle(request: web.Request) -> web.Response:
    await request.app[KEYRING].server_key(presented_key(request), "scenarios:write")
    enabled = request.match_info["action"] == "enable"
    scenario = await request.app[SCENARIOS].set_enabled(request.match_info["id"], enabled)
    return web.json_response(scenario.as_json())


@routes.get("/api/v1/scenarios/{id}/deliveries", name="api-scenario-deliveries")
async def deliveries(request: web.Request) -> web.Response:
    await request.app[KEYRING].server_key(presented_key(request), "scenarios:write")
    found = await request.app[SCENARIOS].deliveries(
        request.match_info["id"], parse_limit(request.query)
    )
    return web.json_response({"deliveries": found, "next": None})
