"""HTTP API: segments."""

from __future__ import annotations

import csv
import io

from aiohttp import web

from collector.appkeys import KEYRING, SEGMENTS
from collector.errors import BadRequest
from collector.paging import parse_limit
from collector.web.bodies import json_body, presented_key

routes = web.RouteTableDef()


def _after(request: web.Request) -> int | None:
    cursor = request.query.get("cursor")
    if not cursor:
        return None
    if not (cursor.isascii() and cursor.isdigit() and len(cursor) < 19):
        raise BadRequest("cursor is not one this server handed out", code="invalid_query")
    return int(cursor)


@routes.post("/api/v1/segments/preview", name="api-segments-preview")
async def preview(request: web.Request) -> web.Response:
    key = await request.app[KEYRING].server_key(presented_key(request), "segments:read")
    body = await json_body(request)
    rules = body.get("rules") if isinstance(body, dict) else None
    result = await request.app[SEGMENTS].preview(
        rules, parse_limit(request.query), _after(request), key.allow_read
    )
    return web.json_response(result)


@routes.post("/api/v1/audience/query", name="api-audience-query")
async def audience_query(request: web.Request) -> web.Response:
    key = await request.app[KEYRING].server_key(presented_key(request), "segments:read")
    body = await json_body(request)
    question = body.get("q") if isinstance(body, dict) else None
    result = await request.app[SEGMENTS].ask(question, parse_limit(request.query), key.allow_read)
    return web.json_response(result)


@routes.post("/api/v1/segments", name="api-segments-create")
async def create(request: web.Request) -> web.Response:
    await request.app[KEYRING].server_key(presented_key(request), "segments:read")
    segment = await request.app[SEGMENTS].save(await json_body(request))
    return web.json_response(segment, status=201)


@routes.get("/api/v1/segments", name="api-segments-list")
async def list_(request: web.Request) -> web.Response:
    await request.app[KEYRING].server_key(presented_key(request), "segments:read")
    segments = await request.app[SEGMENTS].list()
    return web.json_response({"segments": segments, "next": None})


@routes.get("/api/v1/segments/{id}/contacts", name="api-segment-contacts")
async def contacts(request: web.Request) -> web.Response:
    key = await request.app[KEYRING].server_key(presented_key(request), "segments:read")
    result = await request.app[SEGMENTS].contacts(
        request.match_info["id"], parse_limit(request.query), _after(request), key.allow_read
    )
    return web.json_response(result)


@routes.get("/api/v1/segments/{id}/contacts.csv", name="api-segment-csv")
async def contacts_csv(request: web.Request) -> web.Response:
    key = await request.app[KEYRING].server_key(presented_key(request), "segments:read")
    rows = await request.app[SEGMENTS].all_contacts(request.match_info["id"], key.allow_read)
    return csv_response(rows, f"segment-{request.match_info['id']}.csv")


def csv_response(rows: list[dict], filename: str) -> web.Response:
    columns = ["id", "email", "phone", "external_id", "created_at"]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    shown = [c for c in columns if not rows or c in rows[0]]
    writer.writerow(shown)
    for row in rows:
        # a leading = + - @ would be run as a formula by spreadsheets: quote it inert
        writer.writerow(
            [
                "'" + v if isinstance(v, str) and v[:1] in "=+-@" else v
                for v in (row.get(c) for c in shown)
            ]
        )
    return web.Response(
        text=buffer.getvalue(),
        content_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
