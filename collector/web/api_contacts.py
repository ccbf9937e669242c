"""HTTP API: contacts and their timelines."""

from __future__ import annotations

from aiohttp import web

from collector.appkeys import CONTACTS, HISTORY, KEYRING
from collector.errors import BadRequest
from collector.keys import require_identifier
from collector.web.bodies import json_body, presented_key

routes = web.RouteTableDef()


@routes.post("/api/v1/contacts", name="api-contacts-upsert")
async def upsert(request: web.Request) -> web.Response:
    key = await request.app[KEYRING].server_key(presented_key(request), "contacts:write")
    body = await json_body(request)
    if isinstance(body, dict):
        for kind in ("email", "phone", "external_id"):
            if body.get(kind) not in (None, ""):
                require_identifier(key, kind, write=True)
    return web.json_response(await request.app[CONTACTS].upsert(body))


@routes.get("/api/v1/contacts", name="api-contacts-find")
async def find(request: web.Request) -> web.Response:
    key = await request.app[KEYRING].server_key(presented_key(request), "contacts:read")
    for kind in ("email", "phone", "external_id"):
        if request.query.get(kind):
            require_identifier(key, kind, write=False)
            contact = await request.app[CONTACTS].find(kind, request.query[kind])
            return web.json_response({"contacts": [contact] if contact else [], "next": None})
    raise BadRequest("look contacts up by email, phone or external_id", code="invalid_query")


@routes.get("/api/v1/contacts/{id}", name="api-contact")
async def get(request: web.Request) -> web.Response:
    key = await request.app[KEYRING].server_key(presented_key(request), "contacts:read")
    require_identifier(key, "contact_id", write=False)
    return web.json_response(await request.app[CONTACTS].get(request.match_info["id"]))


@routes.get("/api/v1/contacts/{id}/events", name="api-contact-events")
async def timeline(request: web.Request) -> web.Response:
    key = await request.app[KEYRING].server_key(presented_key(request), "events:read")
    history = request.app[HISTORY]
    return web.json_response(await history.timeline(request.match_info["id"], request.query, key))


@routes.delete("/api/v1/contacts/{id}", name="api-contact-erase")
async def erase(request: web.Request) -> web.Response:
    key = await request.app[KEYRING].server_key(presented_key(request), "contacts:write")
    require_identifier(key, "contact_id", write=True)
    result = await request.app[CONTACTS].erase(request.match_info["id"], f"key {key.name}")
    return web.json_response(result)
