"""UI: event definitions — the list, the create and edit forms, one definition with its
fields, volume and versions, naming auto-created fields in place, hiding, and the no-code
web-tracking editor with the install snippet.

Every form works without JavaScript: buttons named `action` (`add`, `remove:3`, `up:3`,
`add-rule`, `remove-mapping:0:2` …) post the form back and the page comes back with the
change applied and nothing saved; only `save` saves. Form state travels as flat, indexed
names (`field-0-code`, `rule-1-param-0-from`) and is rebuilt from them on every post, so
the user's input survives every round trip, errors included.
"""

from __future__ import annotations

import json
import re
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from multidict import MultiMapping

from collector.appkeys import DEFINITIONS, STORAGE
from collector.charts import bar_chart, volume
from collector.errors import DomainError, NotFound
from collector.model import CATEGORIES, FIELD_CODE, FIELD_TYPES, MAX_FIELDS, SCOPES, Definition
from collector.timeutil import format_us
from collector.tracker import loader_stub
from collector.web.browser import public_base
from collector.web.ui import redirect, render

routes = web.RouteTableDef()

Form = MultiMapping[Any]

TRIGGERS = ("click", "submit", "change", "page")
MATCHES = ("exact", "prefix", "regex")
READS = ("text", "attr", "data", "field", "query", "const")
# What the one "argument" input of a param mapping means for each way of reading it.
_ARG_KEY = {
    "text": "selector",
    "attr": "name",
    "data": "name",
    "field": "name",
    "query": "name",
    "const": "value",
}
_NEEDS_NAME = ("attr", "data", "field", "query")
_EXAMPLES = {
    "text": '"example"',
    "boolean": "true",
    "date": '"2026-11-24"',
    "timestamp": '"2026-11-24T10:00:00Z"',
    "integer": "1",
    "decimal": "9.99",
    "json": "{}",
}
_MAX_ROWS = 200  # form rows read back from a post; far above what a page shows
_FIELD_ROW = re.compile(r"field-(\d{1,3})-code", re.ASCII)
_RULE_ROW = re.compile(r"rule-(\d{1,3})-on", re.ASCII)
_SERVICE_PATH = re.compile(r"fields\[(\d+)\](?:\.(code|label|type|required))?")
PLACEHOLDER_KEY = "YOUR_SITE_KEY"


# -- reading forms --------------------------------------------------------------------------


def _text(form: Form, key: str) -> str:
    value = form.get(key, "")
    return value.strip() if isinstance(value, str) else ""


def _indices(form: Form, pattern: re.Pattern[str]) -> list[int]:
    found = {int(m.group(1)) for key in form if (m := pattern.fullmatch(key))}
    return sorted(found)[:_MAX_ROWS]


def _index(text: str, rows: list[Any]) -> int | None:
    return int(text) if text.isascii() and text.isdigit() and int(text) < len(rows) else None


def _blank_field() -> dict[str, Any]:
    return {"code": "", "label": "", "type": "text", "required": False, "auto_created": False}


def _definition_state(form: Form) -> dict[str, Any]:
    """The create/edit form as posted: the definition's own inputs and its field rows."""
    fields = []
    for i in _indices(form, _FIELD_ROW):
        fields.append(
            {
                "code": _text(form, f"field-{i}-code"),
                "label": _text(form, f"field-{i}-label"),
                "type": _text(form, f"field-{i}-type") or "text",
                "required": f"field-{i}-required" in form,
                "auto_created": f"field-{i}-auto" in form,
            }
        )
    return {
        "name": _text(form, "name"),
        "title": _text(form, "title"),
        "category": _text(form, "category"),
        "scope": _text(form, "scope"),
        "version": _text(form, "version"),
        "fields": fields,
    }


def _state_of(definition: Definition) -> dict[str, Any]:
    return {
        "name": definition.name,
        "title": definition.title,
        "category": definition.category,
        "scope": definition.scope,
        "version": str(definition.version),
        "fields": [f.as_json() for f in definition.fields if f.code != "source"],
    }


def _move(rows: list[Any], verb: str, arg: str, blank: Any) -> None:
    """Apply one no-JavaScript row action to a list of rows, in place."""
    i = _index(arg, rows)
    if verb == "add":
        rows.append(blank())
    elif i is None:
        return
    elif verb == "remove":
        del rows[i]
    elif verb == "up" and i > 0:
        rows[i - 1], rows[i] = rows[i], rows[i - 1]
    elif verb == "down" and i + 1 < len(rows):
        rows[i], rows[i + 1] = rows[i + 1], rows[i]


def _definition_body(
    state: dict[str, Any], base: Definition | None
) -> tuple[dict[str, Any], list[int | None]]:
    """The service's body for a create or edit, and which form row each field came from
    (so the service's `fields[3].code` lands next to the right input). An edit keeps what
    this form does not show — the source field, web tracking, retention — unchanged."""
    fields: list[dict[str, Any]] = []
    rows: list[int | None] = []
    if base is not None and "source" in base.by_code:
        fields.append(base.by_code["source"].as_json())
        rows.append(None)
    for i, row in enumerate(state["fields"]):
        if row["code"] or row["label"]:  # an added row left empty is not a field
            fields.append({k: row[k] for k in ("code", "label", "type", "required")})
            rows.append(i)
    body: dict[str, Any] = {
        "name": state["name"],
        "category": state["category"],
        "scope": state["scope"],
        "fields": fields,
    }
    if state["title"]:
        body["title"] = state["title"]
    if base is not None:
        body["web_tracking"] = base.web_tracking
        body["retention_days"] = base.retention_days
    return body, rows


def _service_errors(exc: DomainError, rows: list[int | None]) -> dict[str, str]:
    """A service error as messages keyed by the id of the input they belong to; "" holds
    what belongs to no single input."""
    errors: dict[str, str] = {}
    details = exc.details if isinstance(exc.details, list) else []
    for item in details:
        if not isinstance(item, dict):
            continue
        path, message = str(item.get("path", "")), str(item.get("message", exc.message))
        key = path if path in ("name", "title", "category", "scope") else ""
        found = _SERVICE_PATH.fullmatch(path)
        if found and int(found.group(1)) < len(rows) and rows[int(found.group(1))] is not None:
            key = f"field-{rows[int(found.group(1))]}-{found.group(2) or 'code'}"
        errors.setdefault(key, message)
    if not errors:
        key = "name" if exc.code == "definition_exists" else ""
        errors[key] = exc.message
    return errors


def _version_moved(state: dict[str, Any], definition: Definition) -> dict[str, str]:
    """Someone saved this definition after the form was opened: refuse to overwrite their
    change unseen. The form comes back at the new version, so saving again is a choice."""
    if state["version"] == str(definition.version):
        return {}
    state["version"] = str(definition.version)
    return {
        "": f"Someone else saved version {definition.version} of this definition after you "
        "opened this form. Check your changes against it and save again."
    }


def _where(key: str) -> str:
    """The name of the input an error key belongs to, for the summary at the top."""
    parts = key.split("-")
    if parts[0] == "field" and len(parts) == 3:
        return f"Field {int(parts[1]) + 1}, {parts[2]}"
    if parts[0] == "rule" and len(parts) == 3:
        return f"Rule {int(parts[1]) + 1}, {_RULE_INPUTS.get(parts[2], parts[2])}"
    if parts[0] == "rule" and len(parts) == 5:
        what = {"code": "field", "from": "read from", "arg": "name"}.get(parts[4], parts[4])
        return f"Rule {int(parts[1]) + 1}, parameter {int(parts[3]) + 1}, {what}"
    if parts[0] == "label":
        return f"Label of {key[6:]}"
    return key.capitalize()


_RULE_INPUTS = {
    "on": "trigger",
    "selector": "CSS selector",
    "match": "path match",
    "value": "path or pattern",
}


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
            "where": {key: _where(key) for key in errors or {}},
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
    state = _definition_state(form)
    if definition is not None:
        state["name"] = definition.name  # an edit never renames
    action = _text(form, "action") or "save"
    if action != "save":
        verb, _, arg = action.partition(":")
        errors = {}
        if verb == "add" and len(state["fields"]) >= MAX_FIELDS - 1:
            errors[""] = f"At most {MAX_FIELDS} fields, the source field included."
        else:
            _move(state["fields"], verb, arg, _blank_field)
        return await _render_form(request, state, definition=definition, errors=errors)
    if definition is not None and (errors := _version_moved(state, definition)):
        return await _render_form(request, state, definition=definition, errors=errors, status=422)
    body, rows = _definition_body(state, definition)
    service = request.app[DEFINITIONS]
    try:
        if definition is None:
            saved = await service.create(body)
        else:
            saved = await service.edit(definition.name, body)
    except DomainError as exc:
        errors = _service_errors(exc, rows)
        if not state["title"]:
            errors.pop("title", None)  # an empty title stands for the name
        return await _render_form(request, state, definition=definition, errors=errors, status=422)
    raise redirect(
        _url(request, "definition", name=saved.name),
        done="created" if definition is None else "saved",
    )


@routes.get("/definitions/new", name="definition-new")
async def new_form(request: web.Request) -> web.Response:
    state = {
        "name": "",
        "title": "",
        "category": "signal",
        "scope": "customer",
        "version": "",
        "fields": [_blank_field()],
    }
    return await _render_form(request, state)


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
        "where": {key: _where(key) for key in errors or {}},
        "typed": typed or {},
    }
    if current is None:
        values["chart_24h"] = bar_chart(await volume(storage, name, "24h"))
        values["chart_30d"] = bar_chart(await volume(storage, name, "30d"))
    return await render(request, "definitions/show.html", values, status=status)


@routes.get("/definitions/{name}/versions/{version}", name="definition-version")
async def old_version(request: web.Request) -> web.Response:
    current = await _visible(request)
    text = request.match_info["version"]
    if not (text.isascii() and text.isdigit() and len(text) < 10):
        raise NotFound(f"{current.name} has no version {text}.")
    if int(text) == current.version:
        raise web.HTTPFound(_url(request, "definition", name=current.name))
    old = await request.app[DEFINITIONS].get(current.name, int(text))
    return await _render_show(request, old, current=current)


@routes.get("/definitions/{name}/edit", name="definition-edit")
async def edit_form(request: web.Request) -> web.Response:
    definition = await _visible(request)
    return await _render_form(request, _state_of(definition), definition=definition)


@routes.post("/definitions/{name}/edit", name="definition-update")
async def update(request: web.Request) -> web.Response:
    return await _definition_form_post(request, await _visible(request))


@routes.post("/definitions/{name}/label", name="definition-label")
async def label_field(request: web.Request) -> web.Response:
    """Name an auto-created field in place: an edit that changes only that label."""
    definition = await _visible(request)
    form = await request.post()
    code, label = _text(form, "code"), _text(form, "label")
    if code not in definition.by_code:
        raise NotFound(f"{definition.name} has no field {code}.")
    key = f"label-{code}"
    if not label:
        errors = {key: "Type a label for this field."}
    else:
        body = _body_of(definition)
        for field in body["fields"]:
            if field["code"] == code:
                field["label"] = label
        try:
            await request.app[DEFINITIONS].edit(definition.name, body)
        except DomainError as exc:
            errors = {key: exc.message}
        else:
            raise redirect(_url(request, "definition", name=definition.name), done="saved")
    return await _render_show(request, definition, errors=errors, typed={code: label}, status=422)


def _when(us: int) -> str:
    return (format_us(us) or "")[:19].replace("T", " ") + " UTC"


def _body_of(definition: Definition) -> dict[str, Any]:
    return {"name": definition.name, **definition.body()}


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


def _blank_mapping() -> dict[str, str]:
    return {"code": "", "from": "data", "arg": ""}


def _blank_rule() -> dict[str, Any]:
    return {"on": "click", "selector": "", "match": "prefix", "value": "", "params": []}


def _rules_state(tracking: dict[str, Any]) -> list[dict[str, Any]]:
    """Stored rules as form rows. Rules come from the API too, so anything may be stored:
    read what fits and leave the rest blank for the user to see and fix."""
    rows = []
    for rule in tracking.get("rules") or []:
        if not isinstance(rule, dict):
            continue
        trigger = rule.get("trigger") if isinstance(rule.get("trigger"), dict) else {}
        url = trigger.get("url") if isinstance(trigger.get("url"), dict) else {}
        params = rule.get("params") if isinstance(rule.get("params"), dict) else {}
        mappings = []
        for code, spec in params.items():
            spec = spec if isinstance(spec, dict) else {}
            read = spec.get("from") if spec.get("from") in READS else "const"
            arg = spec.get(_ARG_KEY[read], "")
            mappings.append(
                {"code": str(code), "from": read, "arg": "" if arg is None else str(arg)}
            )
        rows.append(
            {
                "on": str(trigger.get("on", "click")),
                "selector": str(trigger.get("selector", "")),
                "match": str(url.get("match", "prefix")),
                "value": str(url.get("value", "")),
                "params": mappings,
            }
        )
    return rows


def _rules_posted(form: Form) -> list[dict[str, Any]]:
    rules = []
    for i in _indices(form, _RULE_ROW):
        row = re.compile(rf"rule-{i}-param-(\d{{1,3}})-code", re.ASCII)
        params = [
            {
                "code": _text(form, f"rule-{i}-param-{j}-code"),
                "from": _text(form, f"rule-{i}-param-{j}-from"),
                "arg": _text(form, f"rule-{i}-param-{j}-arg"),
            }
            for j in _indices(form, row)
        ]
        rules.append(
            {
                "on": _text(form, f"rule-{i}-on"),
                "selector": _text(form, f"rule-{i}-selector"),
                "match": _text(form, f"rule-{i}-match"),
                "value": _text(form, f"rule-{i}-value"),
                "params": params,
            }
        )
    return rules


def _apply_rule_action(rules: list[dict[str, Any]], action: str) -> None:
    verb, _, arg = action.partition(":")
    which, _, mapping = arg.partition(":")
    if verb == "add-rule":
        rules.append(_blank_rule())
    elif verb == "remove-rule":
        _move(rules, "remove", which, _blank_rule)
    elif (i := _index(which, rules)) is not None:
        if verb == "add-mapping":
            _move(rules[i]["params"], "add", "", _blank_mapping)
        elif verb == "remove-mapping":
            _move(rules[i]["params"], "remove", mapping, _blank_mapping)


def _compile_rules(rules: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Form rows as the DESIGN's web-tracking rules, or the errors keyed by input id."""
    errors: dict[str, str] = {}
    compiled = []
    for i, rule in enumerate(rules):
        key = f"rule-{i}"
        on = rule["on"]
        if on not in TRIGGERS:
            errors[f"{key}-on"] = f"Choose one of {', '.join(TRIGGERS)}."
            trigger: dict[str, Any] = {}
        elif on == "page":
            if rule["match"] not in MATCHES:
                errors[f"{key}-match"] = f"Choose one of {', '.join(MATCHES)}."
            if not rule["value"]:
                errors[f"{key}-value"] = "Type the page path to match, such as /checkout/done."
            elif rule["match"] == "regex":
                try:
                    re.compile(rule["value"])
                except re.error as exc:
                    errors[f"{key}-value"] = f"This is not a valid regular expression: {exc}."
            elif not rule["value"].startswith("/"):
                # the tracker compares with location.pathname, which always starts with /
                errors[f"{key}-value"] = "Paths start with /, such as /checkout/done."
            trigger = {"on": on, "url": {"match": rule["match"], "value": rule["value"]}}
        else:
            if not rule["selector"]:
                errors[f"{key}-selector"] = "Type the CSS selector of the element, such as .buy."
            trigger = {"on": on, "selector": rule["selector"]}
        params: dict[str, Any] = {}
        for j, mapping in enumerate(rule["params"]):
            at = f"{key}-param-{j}"
            code, read, arg = mapping["code"], mapping["from"], mapping["arg"]
            if not code and not arg:
                continue  # an added mapping left empty
            if not FIELD_CODE.fullmatch(code):
                errors[f"{at}-code"] = "Choose the field this value goes to."
            elif code in params:
                errors[f"{at}-code"] = f"{code} is already read by this rule."
            if read not in READS:
                errors[f"{at}-from"] = f"Choose one of {', '.join(READS)}."
                continue
            if read in _NEEDS_NAME and not arg:
                errors[f"{at}-arg"] = "Type the name to read."
            spec = {"from": read}
            if arg or read == "const":
                spec[_ARG_KEY[read]] = arg
            params[code] = spec
        compiled.append({"trigger": trigger, "params": params})
    return compiled, errors


def _rule_summaries(tracking: dict[str, Any]) -> list[str]:
    """Each rule in words, for the definition page."""
    out = []
    for rule in _rules_state(tracking):
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
            "where": {key: _where(key) for key in errors or {}},
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
    state = {
        "enabled": bool(definition.web_tracking.get("enabled")),
        "rules": _rules_state(definition.web_tracking),
        "version": str(definition.version),
    }
    if request.query.get("enable") == "1":  # "Enable web tracking" on the definition page
        state["enabled"] = True
        if not state["rules"]:
            state["rules"].append(_blank_rule())
    return await _render_tracking(request, definition, state)


@routes.post("/definitions/{name}/tracking", name="definition-tracking-post")
async def save_tracking(request: web.Request) -> web.Response:
    definition = await _visible(request)
    form = await request.post()
    state = {
        "enabled": "enabled" in form,
        "rules": _rules_posted(form),
        "version": _text(form, "version"),
    }
    action = _text(form, "action") or "save"
    if action != "save":
        _apply_rule_action(state["rules"], action)
        return await _render_tracking(request, definition, state)
    if errors := _version_moved(state, definition):
        return await _render_tracking(request, definition, state, errors, status=422)
    rules, errors = _compile_rules(state["rules"])
    if not errors:
        body = _body_of(definition)
        body["web_tracking"] = {"enabled": state["enabled"], "rules": rules}
        try:
            await request.app[DEFINITIONS].edit(definition.name, body)
        except DomainError as exc:
            errors = {"": exc.message}
        else:
            url = _url(request, "definition-tracking", name=definition.name)
            raise redirect(url, done="saved")
    return await _render_tracking(request, definition, state, errors, status=422)
