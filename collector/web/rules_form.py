"""The segment rule builder's form: its state as dataclasses rebuilt from flat, indexed
field names (`cond-0-event`, `cond-0-param-1-op`), the add/remove buttons applied to it,
and the state turned into segment rules, with a refusal traced back to the row it names.

Values are only shaped here (text to numbers, lists, booleans); whether the rules make
sense is the Segments service's to say. The parameter-condition rows (`ParamRow`,
`read_params`, `param_rule`) are shared with the scenario form (ui_scenarios).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from multidict import MultiMapping

from collector.definitions import Definitions
from collector.errors import DomainError
from collector.model import Definition
from collector.segments import COUNT_OPS, OPS_BY_TYPE, SEEN_OPS, RuleError
from collector.web.ui import pretty

Form = MultiMapping[Any]

MAX_ROWS = 50  # conditions, and parameter conditions per condition, read back from a post
MAX_TEXT = 2_000
MAX_JSON = 100_000

# Every parameter operator once, with words for it; a row shows them all (which ones fit
# depends on the parameter chosen, and the page must work without a script to filter).
_OP_WORDS = {
    "=": "= equals",
    "!=": "≠ does not equal",
    "contains": "contains",
    "in": "is one of (a, b, c)",
    "empty": "is empty (true / false)",
    "<": "< less than",
    "<=": "≤ at most",
    ">": "> more than",
    ">=": "≥ at least",
    "between": "between (low, high)",
    "before": "before (date)",
    "after": "after (date)",
    "within_days": "within the last D days",
    "is": "is (true / false)",
}
PARAM_OPS = [
    (op, words, " ".join(t for t, ops in OPS_BY_TYPE.items() if op in ops))
    for op, words in _OP_WORDS.items()
]
SEEN_WORDS = {
    "before": "before (date)",
    "after": "after (date)",
    "between": "between (from, to)",
    "within_days": "within the last D days",
    "more_than_days_ago": "more than D days ago",
}
COUNT_WORDS = {"any": "at least once", "=": "exactly", ">=": "at least", "<=": "at most"}

_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", re.ASCII)
_INTEGER = re.compile(r"[+-]?\d{1,15}", re.ASCII)
_ERROR_AT = re.compile(r"rules\.conditions\[(\d+)\](?:\.where\[(\d+)\])?")


# -- the builder's form state --------------------------------------------------------------


@dataclass(slots=True)
class ParamRow:
    param: str = ""  # "$code"
    op: str = "="
    value: str = ""


@dataclass(slots=True)
class ConditionRow:
    event: str = ""
    count_op: str = "any"
    count_value: str = ""
    period: str = "none"  # none | last | range
    last_days: str = ""
    date_from: str = ""
    date_to: str = ""
    first_op: str = ""
    first_value: str = ""
    last_op: str = ""
    last_value: str = ""
    params: list[ParamRow] = field(default_factory=list)


@dataclass(slots=True)
class Builder:
    match: str = "all"
    conditions: list[ConditionRow] = field(default_factory=list)
    rules_json: str = ""  # when filled, used instead of the conditions
    name: str = ""


def text(form: Form, key: str, default: str = "") -> str:
    value = form.get(key)
    return value[:MAX_TEXT] if isinstance(value, str) else default


def _indices(form: Form, pattern: str) -> list[int]:
    row = re.compile(pattern, re.ASCII)
    found = {int(m.group(1)) for key in form if (m := row.fullmatch(key))}
    return sorted(found)[:MAX_ROWS]


def read_params(form: Form, base: str) -> list[ParamRow]:
    """The parameter-condition rows named `{base}-{j}-param|op|value`."""
    return [
        ParamRow(
            text(form, f"{base}-{j}-param"),
            text(form, f"{base}-{j}-op", "="),
            text(form, f"{base}-{j}-value"),
        )
        for j in _indices(form, re.escape(base) + r"-(\d{1,3})-param")
    ]


def read_builder(form: Form) -> Builder:
    conditions = []
    for i in _indices(form, r"cond-(\d{1,3})-event"):
        base = f"cond-{i}"
        conditions.append(
            ConditionRow(
                event=text(form, f"{base}-event"),
                count_op=text(form, f"{base}-count-op", "any"),
                count_value=text(form, f"{base}-count-value"),
                period=text(form, f"{base}-period", "none"),
                last_days=text(form, f"{base}-last-days"),
                date_from=text(form, f"{base}-from"),
                date_to=text(form, f"{base}-to"),
                first_op=text(form, f"{base}-first-op"),
                first_value=text(form, f"{base}-first-value"),
                last_op=text(form, f"{base}-last-op"),
                last_value=text(form, f"{base}-last-value"),
                params=read_params(form, f"{base}-param"),
            )
        )
    rules_json = form.get("rules_json")
    return Builder(
        match="any" if form.get("match") == "any" else "all",
        conditions=conditions,
        rules_json=rules_json[:MAX_JSON] if isinstance(rules_json, str) else "",
        name=text(form, "name"),
    )


def visible_events(definitions: Definitions, scope: str | None = None) -> list[Definition]:
    return sorted(
        (
            d
            for d in definitions.all_current()
            if not d.hidden and (scope is None or d.scope == scope)
        ),
        key=lambda d: d.name,
    )


def filterable(definition: Definition | None) -> list[Any]:
    """The fields a parameter condition can name (json fields cannot be filtered)."""
    if definition is None:
        return []
    return [f for f in definition.fields if f.type in OPS_BY_TYPE]


def new_param_row(definition: Definition | None) -> ParamRow:
    fields = filterable(definition)
    # `source` comes first in every definition; the event's own parameters are likelier
    chosen = next((f for f in fields if f.code != "source"), fields[0] if fields else None)
    return ParamRow(param=f"${chosen.code}" if chosen else "")


def apply_action(builder: Builder, action: str, definitions: Definitions) -> bool:
    """Apply an add/remove button to the form state; False when `action` is not one."""
    parts = action.split(":")
    verb, numbers = parts[0], parts[1:]
    if not all(n.isascii() and n.isdigit() and len(n) < 4 for n in numbers):
        return False
    at = [int(n) for n in numbers]
    conditions = builder.conditions
    if verb == "add-condition" and not at:
        if len(conditions) < MAX_ROWS:
            events = visible_events(definitions, "customer")
            conditions.append(ConditionRow(event=events[0].name if events else ""))
        return True
    if verb == "remove-condition" and len(at) == 1:
        if at[0] < len(conditions):
            del conditions[at[0]]
        return True
    if verb == "add-param" and len(at) == 1:
        if at[0] < len(conditions) and len(conditions[at[0]].params) < MAX_ROWS:
            condition = conditions[at[0]]
            condition.params.append(new_param_row(definitions.current(condition.event)))
        return True
    if verb == "remove-param" and len(at) == 2:
        if at[0] < len(conditions) and at[1] < len(conditions[at[0]].params):
            del conditions[at[0]].params[at[1]]
        return True
    return False


def blank_builder(definitions: Definitions) -> Builder:
    """A new builder: one condition on the first customer event."""
    events = visible_events(definitions, "customer")
    return Builder(conditions=[ConditionRow(event=events[0].name if events else "")])


# -- form state → rules --------------------------------------------------------------------


def _scalar(type_: str, raw: str) -> Any:
    """A typed value from text: numbers for number fields, true/false for booleans; the
    rest stays text, and the rule checker names anything that does not fit."""
    value = raw.strip()
    if type_ in ("integer", "decimal") and _NUMBER.fullmatch(value):
        return int(value) if _INTEGER.fullmatch(value) else float(value)
    if type_ == "boolean" and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value


def _whole(raw: str) -> Any:
    value = raw.strip()
    return int(value) if _INTEGER.fullmatch(value) else value


def _pair(raw: str) -> list[str]:
    return [part.strip() for part in raw.split(",")]


def param_rule(row: ParamRow, definition: Definition | None) -> dict[str, Any]:
    found = definition.by_code.get(row.param.removeprefix("$")) if definition else None
    type_ = found.type if found else "text"
    value: Any
    if row.op in ("in", "between"):
        parts = _pair(row.value)
        value = [_scalar(type_, p) for p in parts if p or row.op == "between"]
    elif row.op == "empty":
        value = row.value.strip().lower() != "false"
    elif row.op == "is":
        value = _scalar("boolean", row.value)
    elif row.op == "within_days":
        value = _whole(row.value)
    else:
        value = _scalar(type_, row.value)
    return {"param": row.param, "op": row.op, "value": value}


def _seen(op: str, raw: str) -> dict[str, Any]:
    if op in ("within_days", "more_than_days_ago"):
        return {"op": op, "value": _whole(raw)}
    if op == "between":
        return {"op": op, "value": _pair(raw)}
    return {"op": op, "value": raw.strip()}


def condition_rule(row: ConditionRow, definitions: Definitions) -> dict[str, Any]:
    rule: dict[str, Any] = {"event": row.event}
    if row.count_op in COUNT_OPS:
        rule["count"] = {"op": row.count_op, "value": _whole(row.count_value)}
    if row.period == "last":
        rule["period"] = {"last_days": _whole(row.last_days)}
    elif row.period == "range":
        ends = (("from", row.date_from.strip()), ("to", row.date_to.strip()))
        rule["period"] = {k: v for k, v in ends if v}
    if row.first_op:
        rule["first_seen"] = _seen(row.first_op, row.first_value)
    if row.last_op:
        rule["last_seen"] = _seen(row.last_op, row.last_value)
    if row.params:
        definition = definitions.current(row.event)
        rule["where"] = [param_rule(p, definition) for p in row.params]
    return rule


def parse_json(raw: str, what: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError as exc:
        where = f" at line {exc.lineno}, column {exc.colno}" if hasattr(exc, "lineno") else ""
        message = f"{what} is not valid JSON: {getattr(exc, 'msg', exc)}{where}"
        raise RuleError(message, details=[{"path": what}]) from None


def builder_rules(builder: Builder, definitions: Definitions) -> Any:
    if builder.rules_json.strip():
        return parse_json(builder.rules_json, "rules JSON")
    return {
        "match": builder.match,
        "conditions": [condition_rule(c, definitions) for c in builder.conditions],
    }


def error_place(exc: DomainError, builder: Builder) -> dict[str, Any] | None:
    """Which condition (and parameter row) a refusal points at, to mark it in the form,
    with the message in the form's words."""
    if builder.rules_json.strip() or not isinstance(exc.details, list) or not exc.details:
        return None
    detail = exc.details[0] if isinstance(exc.details[0], dict) else {}
    found = _ERROR_AT.match(str(detail.get("path", "")))
    if not found:
        return None
    condition = int(found.group(1))
    param = int(found.group(2)) if found.group(2) else None
    where = f"Condition {condition + 1}"
    if param is not None:
        where += f", parameter condition {param + 1}"
    return {
        "condition": condition,
        "param": param,
        "message": f"{where}: {detail.get('message') or exc.message}",
    }


# -- what the rule templates need ---------------------------------------------------------


def form_helpers(definitions: Definitions) -> dict[str, Any]:
    """What the rule templates need to draw event and parameter selects."""

    def fields_of(name: str) -> list[Any]:
        return filterable(definitions.current(name))

    return {
        "events": visible_events(definitions),
        "fields_of": fields_of,
        "param_ops": PARAM_OPS,
        "count_words": COUNT_WORDS,
        "seen_ops": [(op, SEEN_WORDS[op]) for op in SEEN_OPS],
        "pretty": pretty,
    }
