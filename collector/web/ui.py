"""What every UI page shares: the navigation, the template context, flash messages, and
the small view helpers several pages use (values as text, page links that keep their
filters, contact names, the 404 page)."""

from __future__ import annotations

import json
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from multidict import MultiDict
from yarl import URL

from collector.appkeys import CONTACTS
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
# Query keys that only carry a flash message, never a filter.
FLASH_KEYS = ("done", "accepted", "failing", "skipped", "event_id", "cursor")


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


# -- view helpers --------------------------------------------------------------------------


def show_value(value: Any) -> str:
    """A parameter value as one line of text: strings as they are, the rest as JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def pretty(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=False)


def page_url(url: URL, **changes: str | None) -> str:
    """A page's URL with its filters kept, flash keys dropped, `changes` applied."""
    query = MultiDict((k, v) for k, v in url.query.items() if k not in FLASH_KEYS)
    for name, value in changes.items():
        if value is not None:
            query[name] = value
    return str(url.with_query(query))


async def contact_labels(request: web.Request, rows: list[dict[str, Any]]) -> dict[int, str]:
    """How each contact on a page is named: email, else phone, else external id."""
    labels: dict[int, str] = {}
    for contact_id in {r["contact_id"] for r in rows if r.get("contact_id") is not None}:
        contact = await request.app[CONTACTS].find("contact_id", contact_id)
        if contact:
            labels[contact_id] = (
                contact["email"] or contact["phone"] or contact["external_id"] or ""
            )
    return labels


async def not_found(request: web.Request, what: str) -> web.Response:
    return await render(
        request,
        "error.html",
        {"title": f"No such {what}", "message": f"There is no {what} with that id."},
        status=404,
    )
