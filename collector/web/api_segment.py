"""Segment's HTTP Tracking API (`/v1/track`, `/v1/identify`, `/v1/page`, `/v1/alias`,
`/v1/batch` and analytics.js's short `/v1/t` … `/v1/b`)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from collector import jsonwire
from collector.appkeys import CONTACTS, IDENTITY, KEYRING, PIPELINE
from collector.errors import BadRequest, DomainError, Unauthorized
from collector.jsonwire import compact
from collector.model import IncomingEvent, Reason
from collector.segment_api import MAX_BATCH_BYTES, MAX_MESSAGE_BYTES, identify, message_event
from collector.web.bodies import BodyTooLarge, presented_key, read_limited

routes = web.RouteTableDef()

_TYPES = {
    "track": "track",
    "t": "track",
    "identify": "identify",
    "i": "identify",
    "page": "page",
    "p": "page",
    "alias": "alias",
    "a": "alias",
    "screen": "track",
}


async def _handle(request: web.Request, kind: str | None) -> web.Response:
    try:
        raw = await read_limited(request, MAX_BATCH_BYTES)
    except BodyTooLarge:
        raise BadRequest(
            f"a request is at most {MAX_BATCH_BYTES} bytes", code="payload_too_large"
        ) from None
    try:
        body = jsonwire.loads(jsonwire.decode_body(raw))  # whatever the Content-Type says
    except ValueError as exc:
        raise BadRequest(str(exc), code="malformed_json") from None
    if not isinstance(body, dict):
        raise BadRequest("a message is a JSON object", code="malformed")
    token = presented_key(request) or body.get("writeKey")
    key = await request.app[KEYRING].lookup(token if isinstance(token, str) else None)
    if key is None or key.kind != "server":
        raise Unauthorized("a valid write key is required (HTTP Basic user, or writeKey)")
    if kind is None:
        messages = body.get("batch")
        if not isinstance(messages, list):
            raise BadRequest("a batch is {batch: [messages]}", code="malformed")
    else:
        messages = [{**body, "type": kind}]
    for i, message in enumerate(messages):
        if len(compact(message).encode()) > MAX_MESSAGE_BYTES:
            raise BadRequest(
                f"message {i} is over {MAX_MESSAGE_BYTES} bytes", code="payload_too_large"
            )
    source = {"endpoint": request.path, "key": key.name}
    pipeline = request.app[PIPELINE]
    results: list[dict[str, Any]] = []
    pending: list[IncomingEvent] = []

    async def flush() -> None:
        outcomes = await pipeline.run(pending, key, source)
        results.extend(o.as_json(0) for o in outcomes)
        pending.clear()

    for message in messages:
        if not isinstance(message, dict):
            pending.append(message_event({}, compact(message)))
            pending[-1].reasons.append(Reason("malformed", "", "a message is a JSON object"))
            continue
        message_type = _TYPES.get(str(message.get("type", "")))
        if message_type in ("track", "page"):
            pending.append(message_event(message, compact(message), body.get("sentAt")))
        elif message_type in ("identify", "alias"):
            await flush()  # earlier events of the session are committed: they backfill
            try:
                results.append(
                    await identify(message, request.app[CONTACTS], request.app[IDENTITY])
                )
            except DomainError as exc:
                results.append({"status": "failed", "message": exc.message})
        else:
            results.append({"status": "ignored", "message": f"type {message.get('type')!r}"})
    await flush()
    for index, result in enumerate(results):
        result["index"] = index
    # Segment's SDKs read only the status; 200 means "do not send again".
    return web.json_response({"success": True, "results": results})


def _route(kind: str | None):
    async def handler(request: web.Request) -> web.Response:
        return await _handle(request, kind)

    return handler


for _path, _kind in (
    ("track", "track"),
    ("t", "track"),
    ("identify", "identify"),
    ("i", "identify"),
    ("page", "page"),
    ("p", "page"),
    ("alias", "alias"),
    ("a", "alias"),
    ("batch", None),
    ("b", None),
):
    routes.post(f"/v1/{_path}", name=f"segment-{_path}-message")(_route(_kind))
