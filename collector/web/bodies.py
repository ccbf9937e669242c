"""Reading request bodies within their size limits, and reading keys from headers."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from aiohttp import web

from collector import jsonwire
from collector.errors import BadRequest, PayloadTooLarge


class BodyTooLarge(Exception):
    """The body is over the limit; `head` holds its first `limit` bytes."""

    def __init__(self, head: bytes) -> None:
        super().__init__("body too large")
        self.head = head


async def read_limited(request: web.Request, limit: int) -> bytes:
    """The whole body, or BodyTooLarge (holding the first `limit` bytes) as soon as it is
    known to pass `limit`: from Content-Length before reading, else while reading."""
    declared_too_large = request.content_length is not None and request.content_length > limit
    chunks, size = [], 0
    while size <= limit:
        chunk = await request.content.read(min(64 * 1024, limit + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    body = b"".join(chunks)
    if size > limit or declared_too_large:
        raise BodyTooLarge(body[:limit])
    return body


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
        return jsonwire.loads(jsonwire.decode_body(raw))
    except ValueError as exc:
        raise BadRequest(str(exc), code="malformed_json") from None
