"""UI: finding contacts, and a contact's profile with their timeline (oldest first)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from collector.appkeys import CONTACTS, HISTORY, STORAGE
from collector.errors import DomainError, NotFound
from collector.keys import UI_PRINCIPAL
from collector.paging import page_of, parse_cursor
from collector.web.ui import not_found, page_url, redirect, render
from collector.web.ui_events import HELPERS, PAGE_SIZE

routes = web.RouteTableDef()

MAX_SEARCH = 320


@routes.get("/contacts", name="ui-contacts")
async def contact_search(request: web.Request) -> web.Response:
    text = request.query.get("q", "").strip()[:MAX_SEARCH]
    values: dict[str, Any] = {
        "title": "Contacts",
        "q": text,
        "contacts": [],
        "error": None,
        "older_url": None,
        "newest_url": page_url(request.rel_url) if request.query.get("cursor") else None,
    }
    try:
        after = parse_cursor(request.query)
    except DomainError as exc:
        return await render(request, "contacts/list.html", {**values, "error": exc.message}, 400)
    found = await request.app[STORAGE].search_contacts(text or None, PAGE_SIZE + 1, after)
    values["contacts"], cursor = page_of(found, PAGE_SIZE)
    if cursor:
        values["older_url"] = page_url(request.rel_url, cursor=cursor)
    return await render(request, "contacts/list.html", values)


@routes.get("/contacts/{id}", name="ui-contact")
async def contact_profile(request: web.Request) -> web.Response:
    try:
        contact = await request.app[CONTACTS].get(request.match_info["id"])
    except NotFound:
        return await not_found(request, "contact")
    values: dict[str, Any] = {
        "title": contact["email"] or contact["phone"] or contact["external_id"] or "Contact",
        "contact": contact,
        "events": [],
        "error": None,
        "later_url": None,
        "first_url": page_url(request.rel_url) if request.query.get("cursor") else None,
        **HELPERS,
    }
    query = {"limit": str(PAGE_SIZE), "cursor": request.query.get("cursor", "")}
    try:
        page = await request.app[HISTORY].timeline(contact["id"], query, UI_PRINCIPAL)
    except DomainError as exc:
        return await render(request, "contacts/detail.html", {**values, "error": exc.message}, 400)
    values["events"] = page["events"]
    if page["next"]:
        values["later_url"] = page_url(request.rel_url, cursor=page["next"])
    return await render(request, "contacts/detail.html", values)


@routes.post("/contacts/{id}/erase", name="ui-contact-erase")
async def erase(request: web.Request) -> web.Response:
    """The right to be forgotten, from the UI (the audit row names the user)."""
    from collector.web.ui_auth import current_user

    user = await current_user(request)
    actor = f"user {user['email']}" if user else "ui"
    await request.app[CONTACTS].erase(request.match_info["id"], actor)
    raise redirect("/contacts", done="erased")
