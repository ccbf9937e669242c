"""UI: event definitions — the list, the create and edit forms, one definition with its
fields, volume and versions, naming auto-created fields in place, hiding, and the no-code
web-tracking editor with the install snippet.

Every form works without JavaScript: buttons named `action` (`add`, `remove:3`, `up:3`,
`add-rule`, `remove-mapping:0:2` …) post the form back and the page comes back with the
change applied and nothing saved; only `save` saves. The forms' state, rebuilt from the
post every time so the user's input survives every round trip, errors included, is
definition_forms'; these handlers read it, call the Definitions service and render.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from collector.appkeys import DEFINITIONS, STORAGE
from collector.charts import bar_chart, volume
from collector.errors import DomainError, NotFound
from collector.model import CATEGORIES, FIELD_TYPES, MAX_FIELDS, SCOPES, Definition
from collector.timeutil import format_us
from collector.tracker import loader_stub
from collector.web.browser import public_base
from collector.web.definition_forms import (
    MATCHES,
    READS,
    TRIGGERS,
    apply_field_action,
    apply_rule_action,
    blank_definition_state,
    compile_rules,
    definition_body,
    definition_state,
    input_names,
    label_body,
    rules_state,
    service_errors,
    state_of,
    text,
    tracking_body,
    tracking_posted,
    tracking_state,
    version_moved,
)
from collector.web.ui import redirect, render

routes = web.RouteTableDef()

_EXAMPLES = {
    "text": '"example"',
    "boolean": "true",
    "date": '"2026-11-24"',
    "timestamp": '"2026-11-24T10:00:00Z"',
    "integer": "1",
    "decimal": "9.99",
    "json": "{}",
}
PLACEHOLDER_KEY = "YOUR_SITE_KEY"


# -- pages ----------------------------------------------------------------------------------


def _url(request: web.Request, route: str, **parts: str) -> str:
    return str(request.app.router[route].url_for(**parts))


async def _visible(request: web.Request) -> Definition:
    """The definition named in the path; hidden ones are gone from the UI."""
    name = request.match_info["name"]
    definition = await request.app[DEFINITIONS].get(name)
    if definition.hidden:
        raise NotFound(f"The event definition {name} was hidden. Hiding is permanent.")
    return definition


@routes.get("/definitions", name="definitions")
async def definition_list(request: web.Request) -> web.Response:
    definitions = await request.app[DEFINITIONS].list()
    groups = [
        (category, sorted((d for d in definitions if d.category == category), key=_by_name))
        for category in CATEGORIES
    ]
    return await render(
        request,
        "definitions/list.html",
        {
            "title": "Event definitions",
            "groups": groups,
            "counts": await request.app[STORAGE].event_counts(),
        },
    )


def _by_name(definition: Definition) -> str:
    return definition.name


async def _render_form(
    request: web.Request,
    state: dict[str, Any],
    *,
    definition: Definition | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    editing = definition is not None
    return await render(
        request,
        "definitions/form.html",
        {
            "title": f"Edit {definition.title}" if definition else "New event definition",
            "definition": definition,
            "form": state,
            "errors": errors or {},
            "where": input_names(errors),
            "action": _url(request, "definition-edit", name=definition.name)
            if editing
            else _url(request, "definition-new"),
            "categories": CATEGORIES,
            "scopes": SCOPES,
            "types": FIELD_TYPES,
            "source": definition.by_code.get("source") if definition else None,
            "max_rows": MAX_FIELDS - 1,
        },
        status=status,
    )


async def _definition_form_post(
    request: web.Request, definition: Definition | None
) -> web.Response:
    form = await request.post()
    state = definition_state(form)
    if definition is not None:
        state["name"] = definition.name  # an edit never renames
    action = text(form, "action") or "save"
    if action != "save":
        errors = apply_field_action(state["fields"], action)
        return await _render_form(request, state, definition=definition, errors=errors)
    if definition is not None and (errors := version_moved(state, definition)):
        return await _render_form(request, state, definition=definition, errors=errors, status=422)
    body, rows = definition_body(state, definition)
    service = request.app[DEFINITIONS]
    try:
        if definition is None:
            saved = await service.create(body)
        else:
            saved = await service.edit(definition.name, body)
    except DomainError as exc:
        errors = service_errors(exc, rows)
        if not state["title"]:
            errors.pop("title", None)  # an empty title stands for the name
        return await _render_form(request, state, definition=definition, errors=errors, status=422)
    raise redirect(
        _url(request, "definition", name=saved.name),
        done="created" if definition is None else "saved",
    )


@routes.get("/definitions/new", name="definition-new")
async def new_form(request: web.Request) -> web.Response:
    return await _render_form(request, blank_definition_state())


@routes.post("/definitions/new", name="definition-create")
async def create(request: web.Request) -> web.Response:
    return await _definition_form_post(request, None)


@routes.get("/definitions/{name}", name="definition")
async def show(request: web.Request) -> web.Response:
    return await _render_show(request, await _visible(request))


async def _render_show(
    request: web.Request,
    definition: Definition,
    *,
    current: Definition | None = None,
    errors: dict[str, str] | None = None,
    typed: dict[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    """The current version (with charts and actions), or an old one read-only when
    `current` is given."""
    storage = request.app[STORAGE]
    name = definition.name
    values: dict[str, Any] = {
        "title": definition.title
        if current is None
        else f"{definition.title}, version {definition.version}",
        "definition": definition,
        "current": current,
        "rules": _rule_summaries(definition.web_tracking),
        "versions": [(n, _when(at)) for n, at in await storage.definition_versions(name)],
        "count": (await storage.event_counts()).get(name, 0),
        "errors": errors or {},
        "where": input_names(errors),
        "typed": typed or {},
    }
    if current is None:
        values["chart_24h"] = bar_chart(await volume(storage, name, "24h"))
        values["chart_30d"] = bar_chart(await volume(storage, name, "30d"))
    return await render(request, "definitions/show.html", values, status=status)


@routes.get("/definitions/{name}/versions/{version}", name="definition-version")
async def old_version(request: web.Request) -> web.Response:
    current = await _visible(request)
    version = request.match_info["version"]
    if not (version.isascii() and version.isdigit() and len(version) < 10):
        raise NotFound(f"{current.name} has no version {version}.")
    if int(version) == current.version:
        raise web.HTTPFound(_url(request, "definition", name=current.name))
    old = await request.app[DEFINITIONS].get(current.name, int(version))
    return await _render_show(request, old, current=current)


@routes.get("/definitions/{name}/edit", name="definition-edit")
async def edit_form(request: web.Request) -> web.Response:
    definition = await _visible(request)
    return await _render_form(request, state_of(definition), definition=definition)


@routes.post("/definitions/{name}/edit", name="definition-update")
async def update(request: web.Request) -> web.Response:
    return await _definition_form_post(request, await _visible(request))


@routes.post("/definitions/{name}/label", name="definition-label")
async def label_field(request: web.Request) -> web.Response:
    """Name an auto-created field in place: an edit that changes only that label."""
    definition = await _visible(request)
    form = await request.post()
    code, label = text(form, "code"), text(form, "label")
    if code not in definition.by_code:
        raise NotFound(f"{definition.name} has no field {code}.")
    key = f"label-{code}"
    if not label:
        errors = {key: "Type a label for this field."}
    else:
        try:
            await request.app[DEFINITIONS].edit(
                definition.name, label_body(definition, code, label)
            )
        except DomainError as exc:
            errors = {key: exc.message}
        else:
            raise redirect(_url(request, "definition", name=definition.name), done="saved")
    return await _render_show(request, definition, errors=errors, typed={code: label}, status=422)


def _when(us: int) -> str:
    return (format_us(us) or "")[:19].replace("T", " ") + " UTC"


@routes.get("/definitions/{name}/hide", name="definition-hide")
async def hide_form(request: web.Request) -> web.Response:
    definition = await _visible(request)
    count = (await request.app[STORAGE].event_counts()).get(definition.name, 0)
    return await render(
        request,
        "definitions/hide.html",
        {"title": f"Hide {definition.title}", "definition": definition, "count": count},
    )


@routes.post("/definitions/{name}/hide", name="definition-hide-post")
async def hide(request: web.Request) -> web.Response:
    definition = await _visible(request)
    await request.app[DEFINITIONS].hide(definition.name)
    raise redirect(_url(request, "definitions"), done="hidden")


# -- web tracking ---------------------------------------------------------------------------


def _rule_summaries(tracking: dict[str, Any]) -> list[str]:
    """Each rule in words, for the definition page."""
    out = []
    for rule in rules_state(tracking):
        if rule["on"] == "page":
            how = _MATCH_WORDS.get(rule["match"], rule["match"])
            when = f"a page view whose path {how} {rule['value']}"
        else:
            when = f"{rule['on']} on {rule['selector']}"
        reads = ", ".join(f"{m['code']} ← {_read_words(m)}" for m in rule["params"])
        out.append(when + (f": {reads}" if reads else ""))
    return out


_MATCH_WORDS = {"exact": "is", "prefix": "starts with", "regex": "matches"}


def _read_words(mapping: dict[str, str]) -> str:
    read, arg = mapping["from"], mapping["arg"]
    return {
        "text": f"the text of {arg}" if arg else "the element's text",
        "attr": f"attribute {arg}",
        "data": f"data-{arg}",
        "field": f"form field {arg}",
        "query": f"URL parameter {arg}",
        "const": json.dumps(arg, ensure_ascii=False),
    }.get(read, read)


def _push_example(definition: Definition) -> str:
    """An `ekEvents.push` call with every field of the event and an example value."""
    fields = [f for f in definition.fields if f.code != "source"]
    if not fields:
        return f"ekEvents.push('{definition.name}', {{params: {{}}}});"
    lines = [f"ekEvents.push('{definition.name}', {{", "  params: {"]
    for n, field in enumerate(fields):
        comma = "," if n + 1 < len(fields) else ""
        note = field.type + (", required" if field.required else "")
        lines.append(f"    {field.code}: {_EXAMPLES.get(field.type, 'null')}{comma}  // {note}")
    lines += ["  }", "});"]
    return "\n".join(lines)


async def _render_tracking(
    request: web.Request,
    definition: Definition,
    state: dict[str, Any],
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    keys = [
        k
        for k in await request.app[STORAGE].list_keys()
        if k["kind"] == "site" and not k["revoked_at"]
    ]
    chosen = next((k for k in keys if str(k["id"]) == request.query.get("site")), None)
    install = aiohttp_jinja2.render_string(
        "install_snippet.html",
        request,
        {
            "stub": loader_stub(),
            "script_url": f"{public_base(request)}/s/{PLACEHOLDER_KEY}.js",
            "auto_pageview": True,
        },
    )
    codes = [f.code for f in definition.fields if f.code != "source"] + ["source"]
    extra = {m["code"] for r in state["rules"] for m in r["params"]} - set(codes) - {""}
    return await render(
        request,
        "definitions/tracking.html",
        {
            "title": f"Web tracking of {definition.title}",
            "definition": definition,
            "form": state,
            "errors": errors or {},
            "where": input_names(errors),
            "triggers": TRIGGERS,
            "matches": MATCHES,
            "reads": READS,
            "codes": codes + sorted(extra),
            "site_keys": keys,
            "site_key": chosen or (keys[0] if keys else None),
            "install": install,
            "push": _push_example(definition),
            "placeholder": PLACEHOLDER_KEY,
            "rules_json": json.dumps(definition.web_tracking, indent=2, ensure_ascii=False),
        },
        status=status,
    )


@routes.get("/definitions/{name}/tracking", name="definition-tracking")
async def tracking_form(request: web.Request) -> web.Response:
    definition = await _visible(request)
    state = tracking_state(definition, enable=request.query.get("enable") == "1")
    return await _render_tracking(request, definition, state)


@routes.post("/definitions/{name}/tracking", name="definition-tracking-post")
async def save_tracking(request: web.Request) -> web.Response:
    definition = await _visible(request)
    form = await request.post()
    state = tracking_posted(form)
    action = text(form, "action") or "save"
    if action != "save":
        apply_rule_action(state["rules"], action)
        return await _render_tracking(request, definition, state)
    if errors := version_moved(state, definition):
        return await _render_tracking(request, definition, state, errors, status=422)
    rules, errors = compile_rules(state["rules"])
    if not errors:
        body = tracking_body(definition, state["enabled"], rules)
        try:
            await request.app[DEFINITIONS].edit(definition.name, body)
        except DomainError as exc:
            errors = {"": exc.message}
        else:
            url = _url(request, "definition-tracking", name=definition.name)
            raise redirect(url, done="saved")
    return await _render_tracking(request, definition, state, errors, status=422)
