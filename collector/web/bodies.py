"""Reading request bodies within their size limits, and reading keys from headers."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from aiohttp import web

from collector.errors import BadRequest, PayloadTooLarge


class BodyTooLarge(Exception):
    """The body is over the limit; `head` holds its first `limit` bytes."""

    def __init__(self, head: bytes) -> None:
        super().__init__("body too large")
        self.head = head


async def read_limited(request: web.Request, limit: int) -> bytes:
    """The whole body, or BodyTooLarge as soon as it passes `limit` bytes."""
    if request.content_length is not None and request.content_length > limit:
        raise BodyTooLarge(await request.content.read(limit))
    chunks, size = [], 0
    while True:
        chunk = await request.content.read(64 * 1024)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(b"".join(chunks)[:limit])


def presented_key(request: web.Request) -> str | None:
    """A key from `Authorization: Bearer`, MSG91's `authkey`, or HTTP Basic's user
    (Segment's write key)."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if scheme.lower() == "basic" and value.strip():
        try:
            user = base64.b64decode(value.strip(), validate=True).decode().partition(":")[0]
        except (binascii.Error, UnicodeDecodeError):
            return None
        return user or None
    return request.headers.get("authkey") or None


async def json_body(request: web.Request, limit: int = 512 * 1024) -> Any:
    """A small JSON body for the management API (events go through `ingest.receive`)."""
    try:
        raw = await read_limited(request, limit)
    except BodyTooLarge:
        raise PayloadTooLarge(f"a request body is at most {limit} bytes") from None
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}", code="malformed_json") from None
