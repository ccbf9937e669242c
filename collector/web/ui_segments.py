"""UI: segments — the saved list with live counts, the rule builder, a segment's contacts
with CSV export, and audience questions asked in plain English.

The builder works without JavaScript: buttons named `action` (`add-condition`,
`remove-condition:1`, `add-param:0`, `remove-param:0:1`) post the form back and the page
comes back with the change applied and nothing saved; `preview` runs the rules, `save`
saves them. The form's state and its rules are rules_form's; the rules are checked by the
Segments service alone, and a refusal comes back as the same form with the message inline
(422).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from collector.appkeys import DEFINITIONS, SEGMENTS
from collector.errors import DomainError, NotFound
from collector.model import IDENTIFIERS
from collector.web.api_segments import csv_response
from collector.web.rules_form import (
    MAX_JSON,
    Builder,
    apply_action,
    blank_builder,
    builder_rules,
    error_place,
    form_helpers,
    parse_json,
    read_builder,
    text,
)
from collector.web.ui import not_found, page_url, pretty, redirect, render

routes = web.RouteTableDef()

# The signed-in UI user has full rights: every identifier is shown.
READABLE = frozenset(IDENTIFIERS)
PREVIEW_SIZE = 20
PAGE_SIZE = 50


async def _builder_page(
    request: web.Request, builder: Builder, status: int = 200, **values: Any
) -> web.Response:
    definitions = request.app[DEFINITIONS]
    return await render(
        request,
        "segments/new.html",
        {
            "title": "New segment",
            "builder": builder,
            "error": None,
            "error_at": None,
            "preview": None,
            **form_helpers(definitions),
            **values,
        },
        status=status,
    )


@routes.get("/segments", name="ui-segments")
async def segment_list(request: web.Request) -> web.Response:
    service = request.app[SEGMENTS]
    rows = []
    for segment in await service.list():
        count, problem = None, None
        try:
            count = (await service.contacts(str(segment["id"]), 1, None, READABLE))["count"]
        except DomainError as exc:  # e.g. its event was hidden since
            problem = exc.message
        rows.append({**segment, "count": count, "problem": problem})
    return await render(request, "segments/list.html", {"title": "Segments", "segments": rows})


@routes.get("/segments/new", name="ui-segment-new")
async def builder_form(request: web.Request) -> web.Response:
    builder = blank_builder(request.app[DEFINITIONS])
    rules = request.query.get("rules", "")
    if rules.strip():  # "open in the builder" from an answered question
        builder.rules_json = rules[:MAX_JSON]
    return await _builder_page(request, builder)


@routes.post("/segments/new", name="ui-segment-build")
async def builder_post(request: web.Request) -> web.Response:
    definitions = request.app[DEFINITIONS]
    form = await request.post()
    builder = read_builder(form)
    action = text(form, "action", "preview")
    if apply_action(builder, action, definitions):
        return await _builder_page(request, builder)
    try:
        rules = builder_rules(builder, definitions)
        if action == "save":
            saved = await request.app[SEGMENTS].save({"name": builder.name, "rules": rules})
            url = request.app.router["ui-segment"].url_for(id=str(saved["id"]))
            raise redirect(str(url), done="saved")
        preview = await request.app[SEGMENTS].preview(rules, PREVIEW_SIZE, None, READABLE)
    except DomainError as exc:
        place = error_place(exc, builder)
        message = place["message"] if place else exc.message
        return await _builder_page(request, builder, 422, error=message, error_at=place)
    return await _builder_page(request, builder, preview=preview)


@routes.get("/segments/count", name="ui-segment-count")
async def live_count(request: web.Request) -> web.Response:
    """The live count for the builder's script: `?rules=<json>`, or the builder's fields."""
    definitions = request.app[DEFINITIONS]
    try:
        if "rules" in request.query:
            rules = parse_json(request.query["rules"][:MAX_JSON], "rules")
        else:
            rules = builder_rules(read_builder(request.query), definitions)
        found = await request.app[SEGMENTS].preview(rules, 1, None, READABLE)
    except DomainError as exc:
        return web.json_response({"error": exc.message}, status=422)
    return web.json_response({"count": found["count"]})


async def _ask_page(request: web.Request, question: str) -> web.Response:
    values: dict[str, Any] = {"title": "Ask", "q": question, "error": None, "answer": None}
    try:
        answer = await request.app[SEGMENTS].ask(question, PREVIEW_SIZE, READABLE)
    except DomainError as exc:
        return await render(request, "segments/ask.html", {**values, "error": exc.message}, 422)
    values["answer"] = {**answer, "rules_json": pretty(answer["rules"])}
    return await render(request, "segments/ask.html", values)


@routes.post("/segments/ask", name="ui-segment-ask")
async def ask(request: web.Request) -> web.Response:
    return await _ask_page(request, text(await request.post(), "q"))


@routes.get("/segments/ask", name="ui-segment-ask-get")
async def ask_link(request: web.Request) -> web.Response:
    question = text(request.query, "q")
    if not question.strip():
        raise web.HTTPFound(str(request.app.router["ui-segments"].url_for()))
    return await _ask_page(request, question)


@routes.get(r"/segments/{id:\d{1,18}}", name="ui-segment")
async def segment_page(request: web.Request) -> web.Response:
    service = request.app[SEGMENTS]
    segment_id = request.match_info["id"]
    try:
        segment = await service.get(segment_id)
    except NotFound:
        return await not_found(request, "segment")
    values: dict[str, Any] = {
        "title": segment["name"],
        "segment": segment,
        "rules_json": pretty(segment["rules"]),
        "result": None,
        "error": None,
        "more_url": None,
        "first_url": page_url(request.rel_url) if request.query.get("cursor") else None,
    }
    cursor = request.query.get("cursor", "")
    if cursor and not (cursor.isascii() and cursor.isdigit() and len(cursor) < 19):
        values["error"] = "That page link is not one this server made."
        return await render(request, "segments/detail.html", values, 400)
    try:
        result = await service.contacts(segment_id, PAGE_SIZE, int(cursor or 0) or None, READABLE)
    except DomainError as exc:
        values["error"] = exc.message
        return await render(request, "segments/detail.html", values, 422)
    values["result"] = result
    if result["next"]:
        values["more_url"] = page_url(request.rel_url, cursor=result["next"])
    return await render(request, "segments/detail.html", values)


@routes.get(r"/segments/{id:\d{1,18}}/contacts.csv", name="ui-segment-csv")
async def segment_csv(request: web.Request) -> web.Response:
    segment_id = request.match_info["id"]
    try:
        rows = await request.app[SEGMENTS].all_contacts(segment_id, READABLE)
    except NotFound:
        return await not_found(request, "segment")
    return csv_response(rows, f"segment-{segment_id}.csv")
