"""Cursor pagination: lists answer `{<plural>: [...], next}`; `next` is an opaque cursor."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from collector.errors import BadRequest
from collector.storage import Page

DEFAULT_LIMIT = 50
MAX_LIMIT = 1000


def parse_limit(query: Mapping[str, str]) -> int:
    text = query.get("limit")
    if text is None:
        return DEFAULT_LIMIT
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_LIMIT:
        raise BadRequest(f"limit is an integer from 1 to {MAX_LIMIT}", code="invalid_query")
    return int(text)


def parse_cursor(query: Mapping[str, str]) -> Page | None:
    text = query.get("cursor")
    if not text:
        return None
    try:
        key, seq = base64.urlsafe_b64decode(text.encode() + b"==").decode().split(".")
        page = Page(int(key), int(seq))
        if not (-(2**63) <= page.key < 2**63 and 0 <= page.seq < 2**63):
            raise ValueError
        return page
    except (ValueError, UnicodeError):
        raise BadRequest("cursor is not one this server handed out", code="invalid_query") from None


def page_of(rows: list[dict[str, Any]], limit: int) -> tuple[list[dict[str, Any]], str | None]:
    """Rows fetched with `limit + 1`: the page to show and the cursor of the next one."""
    more = len(rows) > limit
    rows = rows[:limit]
    cursor = None
    if more and rows:
        key, seq = rows[-1]["_page"]
        cursor = base64.urlsafe_b64encode(f"{key}.{seq}".encode()).decode().rstrip("=")
    for row in rows:
        row.pop("_page", None)
    return rows, cursor
