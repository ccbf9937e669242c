"""What every UI page shares: the navigation, the template context, flash messages."""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web

from collector.web.ui_auth import current_user

NAV = [
    ("/", "Overview"),
    ("/definitions", "Definitions"),
    ("/events", "Events"),
    ("/failed", "Failed"),
    ("/contacts", "Contacts"),
    ("/segments", "Segments"),
    ("/scenarios", "Scenarios"),
    ("/products", "Products"),
    ("/live", "Live"),
    ("/keys", "Keys"),
]

# Flash messages travel as a short code in the redirect's query string (?done=saved),
# so no server-side state is needed; the texts live here.
FLASHES = {
    "saved": ("ok", "Saved."),
    "created": ("ok", "Created."),
    "hidden": ("ok", "Hidden. It no longer appears in lists, and new events for it fail."),
    "replayed": ("ok", "Replayed."),
    "revoked": ("ok", "Revoked. The key stops working at once."),
    "erased": ("ok", "Erased: the contact, its identifiers and its events are gone."),
}


async def render(
    request: web.Request, template: str, values: dict[str, Any], status: int = 200
) -> web.Response:
    """A UI page: `template` with `values` plus what every page shows."""
    return aiohttp_jinja2.render_template(
        template, request, {**await context(request), **values}, status=status
    )


async def context(request: web.Request) -> dict[str, Any]:
    """The user, their CSRF token, the navigation, flash messages."""
    user = await current_user(request)
    path = request.path
    active = max(
        (href for href, _ in NAV if path == href or (href != "/" and path.startswith(href))),
        key=len,
        default=None,
    )
    done = request.query.get("done")
    return {
        "user": user,
        "csrf": user["csrf"] if user else "",
        "nav": NAV,
        "active": active,
        "flashes": [FLASHES[done]] if done in FLASHES else [],
        "request": request,
    }


def redirect(location: str, done: str | None = None) -> web.HTTPFound:
    """A redirect after a successful form post (POST → redirect → GET)."""
    if done:
        location += ("&" if "?" in location else "?") + f"done={done}"
    return web.HTTPFound(location)
