"""The context of a browser event: page, UTM tags, parsed user agent, locale, screen.

Shape (DESIGN.md): `{page: {url, path, title, referrer}, utm: {…}, user_agent: {browser,
browser_version, os, os_version, device, is_bot}, locale, timezone, screen: {width,
height}, ip, client_time}` (the server's time is the event's `received_at`).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any
from urllib.parse import parse_qs, urlsplit

import user_agents

from collector.timeutil import format_us

_UTM = ("source", "medium", "campaign", "term", "content")


@lru_cache(maxsize=4096)
def parse_user_agent(header: str) -> dict[str, Any]:
    """Parsing a user agent costs about a millisecond; browsers repeat theirs, so cache."""
    ua = user_agents.parse(header)
    if ua.is_bot:
        device = "bot"
    elif ua.is_tablet:
        device = "tablet"
    elif ua.is_mobile:
        device = "mobile"
    elif ua.is_pc:
        device = "desktop"
    else:
        device = "other"
    return {
        "browser": ua.browser.family,
        "browser_version": ua.browser.version_string,
        "os": ua.os.family,
        "os_version": ua.os.version_string,
        "device": device,
        "is_bot": ua.is_bot,
    }


def _text(value: Any, limit: int = 2048) -> str | None:
    return value[:limit] if isinstance(value, str) else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@lru_cache(maxsize=4096)
def _page_of(url: str) -> tuple[str | None, tuple[tuple[str, str], ...]]:
    """(path, UTM tags) of a page URL; a site's events come from a few pages, so cache."""
    if not url:
        return None, ()
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    return parts.path or "/", tuple(
        (name, query[f"utm_{name}"][0]) for name in _UTM if query.get(f"utm_{name}")
    )


def web_context(
    sent: Any, *, user_agent: str, ip: str | None, client_us: int | None
) -> dict[str, Any]:
    """Context from what the tracker sent (`c`) and what the request itself tells."""
    sent = sent if isinstance(sent, dict) else {}
    url = _text(sent.get("u")) or ""
    path, utm = _page_of(url)
    return {
        "page": {
            "url": url or None,
            "path": path,
            "title": _text(sent.get("ti"), 512),
            "referrer": _text(sent.get("r")) or None,
        },
        "utm": dict(utm),
        "user_agent": parse_user_agent(user_agent[:512]),
        "locale": _text(sent.get("l"), 35),
        "timezone": _text(sent.get("tz"), 64),
        "screen": {"width": _int(sent.get("sw")), "height": _int(sent.get("sh"))},
        "ip": ip,
        # server time is the event's received_at; the client's clock, as it was sent
        "client_time": format_us(client_us) if client_us is not None else None,
    }
