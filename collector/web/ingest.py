"""Receiving event bodies, whatever door they come in by: size limit, JSON, batch limit,
then the adapter and the pipeline. A body that cannot be read is still kept as a failed
event before the client hears the error."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from collector import jsonwire
from collector.appkeys import CONFIG, PIPELINE
from collector.errors import BadRequest, PayloadTooLarge
from collector.jsonwire import compact
from collector.model import ApiKey, IncomingEvent, Outcome, Reason
from collector.pipeline import MAX_EVENT_BYTES
from collector.web.bodies import BodyTooLarge, read_limited

Splitter = Callable[[Any], tuple[list[Any], bool]]  # body → (items, was it a single event)
Adapter = Callable[[Any, str], IncomingEvent]


async def receive(
    request: web.Request, key: ApiKey, *, door: str, split: Splitter, adapter: Adapter
) -> tuple[list[Outcome], bool]:
    """Outcomes of every event in the request, committed; and whether it held one event."""
    config, pipeline = request.app[CONFIG], request.app[PIPELINE]
    source = {"endpoint": request.path, "key": key.name}

    async def reject(raw: str, reason: Reason) -> None:
        await pipeline.reject(door, raw, reason, source)

    try:
        body = await read_limited(request, config.max_request_bytes)
    except BodyTooLarge as exc:
        limit = config.max_request_bytes
        await reject(
            exc.head.decode("utf-8", "replace"),
            Reason("payload_too_large", "", f"the body was cut at the {limit}-byte limit"),
        )
        raise PayloadTooLarge(f"a request body is at most {limit} bytes") from None
    text = body.decode("utf-8", "replace")  # what is kept if it cannot be read
    try:
        data = jsonwire.loads(jsonwire.decode_body(body))
    except ValueError as exc:
        await reject(text, Reason("malformed", "", str(exc)))
        raise BadRequest(str(exc), code="malformed_json") from None
    try:
        items, single = split(data)
    except ValueError as exc:
        await reject(text, Reason("malformed", "", str(exc)))
        raise BadRequest(str(exc), code="malformed") from None
    if len(items) > config.max_batch_events:
        message = f"at most {config.max_batch_events} events in one request ({len(items)} sent)"
        await reject(text, Reason("too_many_events", "batch", message))
        raise BadRequest(message, code="too_many_events")
    # Items of a body under the per-event limit cannot pass it: keep them parsed, and
    # serialise one only if it fails. In a larger body each item is measured.
    small = len(body) <= MAX_EVENT_BYTES
    events = [adapter(item, text if single else item if small else compact(item)) for item in items]
    return await pipeline.run(events, key, source), single


def results_response(outcomes: list[Outcome], single: bool) -> web.Response:
    """`{results: [...]}`; a single event that failed answers 422 with the same body, or
    413 when it failed for its size (the failure is kept all the same)."""
    results = [o.as_json(i) for i, o in enumerate(outcomes)]
    if single and outcomes[0].status == "failed":
        too_large = [r for r in outcomes[0].reasons if r.code == "payload_too_large"]
        if too_large:
            raise PayloadTooLarge(too_large[0].message, details=results)
        return web.json_response({"results": results}, status=422, dumps=jsonwire.dumps)
    return web.json_response({"results": results}, dumps=jsonwire.dumps)
