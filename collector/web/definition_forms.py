"""The definition pages' forms as data: the create/edit form and the web-tracking editor,
each rebuilt from flat, indexed field names (`field-0-code`, `rule-1-param-0-from`) on
every post, their no-JavaScript row buttons applied, and turned into the Definitions
service's body, or back from a stored definition.

The tracking editor is checked here, input by input, because its rules are only stored
as JSON by the service; the definition form is checked by the service, and its refusals
are traced back to the input they name.
"""

from __future__ import annotations

import re
from typing import Any

from multidict import MultiMapping

from collector.errors import DomainError
from collector.model import FIELD_CODE, MAX_FIELDS, Definition

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
_MAX_ROWS = 200  # form rows read back from a post; far above what a page shows
_FIELD_ROW = re.compile(r"field-(\d{1,3})-code", re.ASCII)
_RULE_ROW = re.compile(r"rule-(\d{1,3})-on", re.ASCII)
_SERVICE_PATH = re.compile(r"fields\[(\d+)\](?:\.(code|label|type|required))?")
_RULE_INPUTS = {
    "on": "trigger",
    "selector": "CSS selector",
    "match": "path match",
    "value": "path or pattern",
}


# -- reading forms --------------------------------------------------------------------------


def text(form: Form, key: str) -> str:
    value = form.get(key, "")
    return value.strip() if isinstance(value, str) else ""


def _indices(form: Form, pattern: re.Pattern[str]) -> list[int]:
    found = {int(m.group(1)) for key in form if (m := pattern.fullmatch(key))}
    return sorted(found)[:_MAX_ROWS]


def _index(text: str, rows: list[Any]) -> int | None:
    return int(text) if text.isascii() and text.isdigit() and int(text) < len(rows) else None


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


def input_names(errors: dict[str, str] | None) -> dict[str, str]:
    """Each error key with the name of the input it belongs to, for the summary at the top."""
    return {key: _input_name(key) for key in errors or {}}


def _input_name(key: str) -> str:
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


def version_moved(state: dict[str, Any], definition: Definition) -> dict[str, str]:
    """Someone saved this definition after the form was opened: refuse to overwrite their
    change unseen. The form comes back at the new version, so saving again is a choice."""
    if state["version"] == str(definition.version):
        return {}
    state["version"] = str(definition.version)
    return {
        "": f"Someone else saved version {definition.version} of this definition after you "
        "opened this form. Check your changes against it and save again."
    }


def body_of(definition: Definition) -> dict[str, Any]:
    """The service's body for an edit that changes nothing, to change one part of."""
    return {"name": definition.name, **definition.body()}


def label_body(definition: Definition, code: str, label: str) -> dict[str, Any]:
    """An edit that only names the field `code`."""
    body = body_of(definition)
    for field in body["fields"]:
        if field["code"] == code:
            field["label"] = label
    return body


# -- the create and edit form ---------------------------------------------------------------


def _blank_field() -> dict[str, Any]:
    return {"code": "", "label": "", "type": "text", "required": False, "auto_created": False}


def blank_definition_state() -> dict[str, Any]:
    """The create form as it first opens: one empty field row."""
    return {
        "name": "",
        "title": "",
        "category": "signal",
        "scope": "customer",
        "version": "",
        "fields": [_blank_field()],
    }


def definition_state(form: Form) -> dict[str, Any]:
    """The create/edit form as posted: the definition's own inputs and its field rows."""
    fields = []
    for i in _indices(form, _FIELD_ROW):
        fields.append(
            {
                "code": text(form, f"field-{i}-code"),
                "label": text(form, f"field-{i}-label"),
                "type": text(form, f"field-{i}-type") or "text",
                "required": f"field-{i}-required" in form,
                "auto_created": f"field-{i}-auto" in form,
            }
        )
    return {
        "name": text(form, "name"),
        "title": text(form, "title"),
        "category": text(form, "category"),
        "scope": text(form, "scope"),
        "version": text(form, "version"),
        "fields": fields,
    }


def state_of(definition: Definition) -> dict[str, Any]:
    """The edit form as it first opens: the definition as stored, its source field aside."""
    return {
        "name": definition.name,
        "title": definition.title,
        "category": definition.category,
        "scope": definition.scope,
        "version": str(definition.version),
        "fields": [f.as_json() for f in definition.fields if f.code != "source"],
    }


def apply_field_action(fields: list[dict[str, Any]], action: str) -> dict[str, str]:
    """Apply a field row button (`add`, `remove:3`, `up:3`, `down:3`); the error when
    the row cannot be added."""
    verb, _, arg = action.partition(":")
    if verb == "add" and len(fields) >= MAX_FIELDS - 1:
        return {"": f"At most {MAX_FIELDS} fields, the source field included."}
    _move(fields, verb, arg, _blank_field)
    return {}


def definition_body(
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


def service_errors(exc: DomainError, rows: list[int | None]) -> dict[str, str]:
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


# -- the web-tracking editor ----------------------------------------------------------------


def _blank_mapping() -> dict[str, str]:
    return {"code": "", "from": "data", "arg": ""}


def _blank_rule() -> dict[str, Any]:
    return {"on": "click", "selector": "", "match": "prefix", "value": "", "params": []}


def tracking_state(definition: Definition, enable: bool) -> dict[str, Any]:
    """The editor as it opens; `enable` is the definition page's "Enable web tracking",
    which also starts a first rule when there is none."""
    state = {
        "enabled": bool(definition.web_tracking.get("enabled")),
        "rules": rules_state(definition.web_tracking),
        "version": str(definition.version),
    }
    if enable:
        state["enabled"] = True
        if not state["rules"]:
            state["rules"].append(_blank_rule())
    return state


def tracking_posted(form: Form) -> dict[str, Any]:
    return {
        "enabled": "enabled" in form,
        "rules": _rules_posted(form),
        "version": text(form, "version"),
    }


def rules_state(tracking: dict[str, Any]) -> list[dict[str, Any]]:
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
                "code": text(form, f"rule-{i}-param-{j}-code"),
                "from": text(form, f"rule-{i}-param-{j}-from"),
                "arg": text(form, f"rule-{i}-param-{j}-arg"),
            }
            for j in _indices(form, row)
        ]
        rules.append(
            {
                "on": text(form, f"rule-{i}-on"),
                "selector": text(form, f"rule-{i}-selector"),
                "match": text(form, f"rule-{i}-match"),
                "value": text(form, f"rule-{i}-value"),
                "params": params,
            }
        )
    return rules


def apply_rule_action(rules: list[dict[str, Any]], action: str) -> None:
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


def compile_rules(rules: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, str]]:
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


def tracking_body(
    definition: Definition, enabled: bool, rules: list[dict[str, Any]]
) -> dict[str, Any]:
    """An edit that changes only the web tracking."""
    body = body_of(definition)
    body["web_tracking"] = {"enabled": enabled, "rules": rules}
    return body
