"""Segment rules: checked against the definitions and turned into a typed tree that a
storage backend compiles to one parameterised SQL query (no Python loop over events).

Rules (DESIGN.md, "Segment rules"):
    {"match": "all" | "any", "conditions": [condition | {"all"|"any": [...]}]}
A condition names an event and, optionally: `count` {op: = | >= | <=, value: N},
`period` {last_days: D} (today and the D−1 days before, UTC) or {from, to} (dates, `to`
inclusive), `first_seen` / `last_seen` {op: before | after | between | within_days |
more_than_days_ago, value}, and `where`: parameter conditions [{param: "$code", op, value}].
A condition with no count, first_seen or last_seen means "did it at least once".
A contact who never did the event matches `count` = 0 and <= N, and no first/last_seen.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from collector.definitions import Definitions
from collector.errors import NotFound, Unprocessable
from collector.timeutil import parse_date, parse_time_us, to_us
from collector.validation import coerce

DAY_US = 86_400_000_000
TEXT_OPS = ("=", "!=", "contains", "in", "empty")
NUMBER_OPS = ("=", "!=", "<", "<=", ">", ">=", "between")
TIME_OPS = ("before", "after", "between", "within_days")
OPS_BY_TYPE = {
    "text": TEXT_OPS,
    "integer": NUMBER_OPS,
    "decimal": NUMBER_OPS,
    "date": TIME_OPS,
    "timestamp": TIME_OPS,
    "boolean": ("is",),
}
COUNT_OPS = ("=", ">=", "<=")
SEEN_OPS = ("before", "after", "between", "within_days", "more_than_days_ago")


class RuleError(Unprocessable):
    code = "invalid_rules"


@dataclass(frozen=True, slots=True)
class ParamCondition:
    code: str
    type: str
    op: str
    value: Any  # typed: a list for in/between, a bool for empty/is, bounds in µs for time ops


@dataclass(frozen=True, slots=True)
class Seen:
    """A bound on the first or last time: low <= t < high (None: unbounded)."""

    low_us: int | None
    high_us: int | None


@dataclass(frozen=True, slots=True)
class EventCondition:
    event: str
    since_us: int | None = None
    until_us: int | None = None  # exclusive
    where: tuple[ParamCondition, ...] = ()
    count_op: str | None = None
    count: int = 0
    first_seen: Seen | None = None
    last_seen: Seen | None = None


@dataclass(frozen=True, slots=True)
class Group:
    match: str  # all | any
    children: tuple[EventCondition | Group, ...] = field(default_factory=tuple)


def compile_rules(rules: Any, definitions: Definitions, now: datetime | None = None) -> Group:
    """The checked tree of `rules`; RuleError naming the path of the first problem."""
    return _Compiler(definitions, now or datetime.now(UTC)).group(rules, "rules")


class _Compiler:
    def __init__(self, definitions: Definitions, now: datetime) -> None:
        self.definitions = definitions
        self.now = now
        self.now_us = to_us(now)
        midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        self.tomorrow_us = to_us(midnight + timedelta(days=1))

    def fail(self, path: str, message: str) -> RuleError:
        return RuleError(f"{path}: {message}", details=[{"path": path, "message": message}])

    def group(self, raw: Any, path: str) -> Group:
        if not isinstance(raw, dict):
            raise self.fail(path, "rules are an object {match, conditions}")
        if "all" in raw or "any" in raw:
            match = "all" if "all" in raw else "any"
            items = raw[match]
            path = f"{path}.{match}"
        else:
            match = raw.get("match", "all")
            if match not in ("all", "any"):
                raise self.fail(f"{path}.match", "match is all or any")
            items = raw.get("conditions")
            path = f"{path}.conditions"
        if not isinstance(items, list) or not items:
            raise self.fail(path, "a non-empty list of conditions")
        children = []
        for i, item in enumerate(items):
            where = f"{path}[{i}]"
            if isinstance(item, dict) and ("all" in item or "any" in item or "conditions" in item):
                children.append(self.group(item, where))
            else:
                children.append(self.condition(item, where))
        return Group(match, tuple(children))

    def condition(self, raw: Any, path: str) -> EventCondition:
        if not isinstance(raw, dict):
            raise self.fail(path, "a condition is an object {event, …}")
        name = raw.get("event")
        definition = self.definitions.current(name) if isinstance(name, str) else None
        if definition is None or definition.hidden:
            raise self.fail(f"{path}.event", f"no event definition named {name!r}")
        since, until = self.period(raw.get("period"), f"{path}.period")
        where = tuple(
            self.param(definition, item, f"{path}.where[{i}]")
            for i, item in enumerate(self.listed(raw.get("where", []), f"{path}.where"))
        )
        count_op, count = None, 0
        if raw.get("count") is not None:
            count_op, count = self.count(raw["count"], f"{path}.count")
        first = self.seen(raw.get("first_seen"), f"{path}.first_seen")
        last = self.seen(raw.get("last_seen"), f"{path}.last_seen")
        if count_op is None and first is None and last is None:
            count_op, count = ">=", 1
        return EventCondition(name, since, until, where, count_op, count, first, last)

    def listed(self, raw: Any, path: str) -> list[Any]:
        if not isinstance(raw, list):
            raise self.fail(path, "a list")
        return raw

    def period(self, raw: Any, path: str) -> tuple[int | None, int | None]:
        if raw is None:
            return None, None
        if not isinstance(raw, dict):
            raise self.fail(path, "period is {last_days: D} or {from, to}")
        if "last_days" in raw:
            days = self.positive_int(raw["last_days"], f"{path}.last_days")
            return self.tomorrow_us - days * DAY_US, None
        low = self.day(raw.get("from"), f"{path}.from") if raw.get("from") else None
        high = self.day(raw.get("to"), f"{path}.to") + DAY_US if raw.get("to") else None
        if low is None and high is None:
            raise self.fail(path, "period is {last_days: D} or {from, to}")
        return low, high

    def count(self, raw: Any, path: str) -> tuple[str, int]:
        if not isinstance(raw, dict) or raw.get("op") not in COUNT_OPS:
            raise self.fail(f"{path}.op", f"count op is one of {', '.join(COUNT_OPS)}")
        value = raw.get("value")
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**31:
            raise self.fail(f"{path}.value", "count value is a whole number ≥ 0")
        return raw["op"], value

    def seen(self, raw: Any, path: str) -> Seen | None:
        if raw is None:
            return None
        if not isinstance(raw, dict) or raw.get("op") not in SEEN_OPS:
            raise self.fail(f"{path}.op", f"op is one of {', '.join(SEEN_OPS)}")
        op, value = raw["op"], raw.get("value")
        if op == "within_days":
            return Seen(self.now_us - self.positive_int(value, f"{path}.value") * DAY_US, None)
        if op == "more_than_days_ago":
            return Seen(None, self.now_us - self.positive_int(value, f"{path}.value") * DAY_US)
        low, high = self.bounds(op, value, f"{path}.value", self.moment)
        return Seen(low, high)

    def param(self, definition: Any, raw: Any, path: str) -> ParamCondition:
        if not isinstance(raw, dict):
            raise self.fail(path, "a parameter condition is {param: '$code', op, value}")
        ref = raw.get("param")
        if not isinstance(ref, str) or not ref.startswith("$"):
            raise self.fail(f"{path}.param", "parameters are referred to as $code")
        found = definition.by_code.get(ref[1:])
        if found is None:
            raise self.fail(f"{path}.param", f"{definition.name} has no parameter {ref}")
        op, value, vpath = raw.get("op"), raw.get("value"), f"{path}.value"
        allowed = OPS_BY_TYPE.get(found.type, ())
        if op not in allowed:
            raise self.fail(
                f"{path}.op",
                f"{ref} is {found.type}: op is one of {', '.join(allowed)}"
                if allowed
                else f"{ref} is {found.type}, which cannot be filtered",
            )
        return ParamCondition(
            found.code, found.type, op, self.param_value(found.type, op, value, vpath)
        )

    def param_value(self, type_: str, op: str, value: Any, path: str) -> Any:
        if op in ("empty", "is"):
            if not isinstance(value, bool):
                raise self.fail(path, "true or false")
            return value
        if op == "within_days":
            return self.now_us - self.positive_int(value, path) * DAY_US
        if type_ in ("date", "timestamp"):
            read = self.day if type_ == "date" else self.moment
            return self.bounds(op, value, path, read)
        typed = self.typed
        if op == "in":
            return [typed(type_, v, path) for v in self.listed(value, path)]
        if op == "between":
            pair = self.listed(value, path)
            if len(pair) != 2:
                raise self.fail(path, "between takes [low, high]")
            return [typed(type_, pair[0], path), typed(type_, pair[1], path)]
        return typed(type_, value, path)

    def typed(self, type_: str, value: Any, path: str) -> Any:
        try:
            return coerce(type_, value)
        except ValueError as exc:
            raise self.fail(path, f"{exc} for a {type_} parameter") from None

    def bounds(self, op: str, value: Any, path: str, read: Any) -> tuple[int | None, int | None]:
        """before x: t < x; after x: t > x; between [a, b]: a <= t <= b (a date's b is its
        whole day). As half-open µs bounds (low inclusive, high exclusive)."""
        if op == "between":
            pair = self.listed(value, path)
            if len(pair) != 2:
                raise self.fail(path, "between takes [low, high]")
            return read(pair[0], path), read(pair[1], path, end=True)
        if op == "before":
            return None, read(value, path)
        if op == "after":
            return read(value, path, end=True), None
        raise self.fail(path, f"unknown op {op}")

    def day(self, value: Any, path: str, end: bool = False) -> int:
        try:
            start = to_us(datetime.combine(parse_date(value), datetime.min.time(), UTC))
        except (ValueError, TypeError):
            raise self.fail(path, "a date as YYYY-MM-DD") from None
        return start + DAY_US if end else start

    def moment(self, value: Any, path: str, end: bool = False) -> int:
        if isinstance(value, str) and len(value) == 10:
            return self.day(value, path, end)
        try:
            at = parse_time_us(value)
        except (ValueError, TypeError):
            raise self.fail(path, "an ISO-8601 time such as 2026-11-24T10:00:00Z") from None
        return at + 1 if end else at

    def positive_int(self, value: Any, path: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 100_000:
            raise self.fail(path, "a whole number of days ≥ 1")
        return value


_OPERATORS = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _ascii_lower(text: str) -> str:
    # SQLite's lower() folds ASCII only; so does this, so both evaluations agree
    return "".join(c.lower() if c.isascii() else c for c in text)


def param_matches(p: ParamCondition, params: dict[str, Any]) -> bool:
    """One parameter condition on one event's params, in Python (scenario triggers; the
    segment SQL must agree with it, which the property test checks)."""
    v = params.get(p.code)
    if p.op == "empty":
        return (v is None or v == "") == p.value
    if v is None:
        return False
    if p.type == "boolean":
        return bool(v == p.value)
    if p.type in ("date", "timestamp"):
        t = parse_time_us(v)
        if p.op == "within_days":
            return bool(t >= p.value)
        low, high = p.value
        return (low is None or t >= low) and (high is None or t < high)
    if p.op == "contains":
        return _ascii_lower(p.value) in _ascii_lower(str(v))
    if p.op == "in":
        return v in p.value
    if p.op == "between":
        return bool(p.value[0] <= v <= p.value[1])
    try:
        return bool(_OPERATORS[p.op](v, p.value))
    except TypeError:  # a stored value of another type (the field's type changed)
        return False


class Segments:
    """Previewing, saving and reading segments."""

    def __init__(self, storage: Any, definitions: Definitions) -> None:
        self.storage = storage
        self.definitions = definitions

    async def preview(
        self, rules: Any, limit: int, after_id: int | None, readable: frozenset[str]
    ) -> dict[str, Any]:
        tree = compile_rules(rules, self.definitions)
        count, rows = await self.storage.segment_contacts(tree, limit + 1, after_id)
        return _page(count, rows, limit, readable)

    async def save(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or not isinstance(body.get("name"), str):
            raise RuleError("send {name, rules}", details=[{"path": "name"}])
        name = body["name"].strip()
        if not name or len(name) > 200:
            raise RuleError("name: 1 to 200 characters", details=[{"path": "name"}])
        compile_rules(body.get("rules"), self.definitions)  # refuse what would not run
        return await self.storage.save_segment(name, body["rules"])

    async def ask(self, question: Any, limit: int, readable: frozenset[str]) -> dict[str, Any]:
        """An English question → rules → the contacts (see audience.py for the grammar)."""
        from collector.audience import parse_question

        rules = await parse_question(question, self.definitions, self.storage.distinct_param_values)
        return {"rules": rules, **await self.preview(rules, limit, None, readable)}

    async def list(self) -> list[dict[str, Any]]:
        return await self.storage.list_segments()

    async def get(self, segment_id: Any) -> dict[str, Any]:
        found = None
        if isinstance(segment_id, str) and segment_id.isascii() and segment_id.isdigit():
            found = await self.storage.get_segment(int(segment_id[:18]))
        if found is None:
            raise NotFound(f"no segment with id {segment_id}")
        return found

    async def contacts(
        self, segment_id: Any, limit: int, after_id: int | None, readable: frozenset[str]
    ) -> dict[str, Any]:
        segment = await self.get(segment_id)
        return await self.preview(segment["rules"], limit, after_id, readable)

    async def all_contacts(self, segment_id: Any, readable: frozenset[str]) -> list[dict]:
        """Every contact of a saved segment (for CSV export), page by page."""
        segment = await self.get(segment_id)
        tree = compile_rules(segment["rules"], self.definitions)
        found, after = [], None
        while True:
            _, rows = await self.storage.segment_contacts(tree, 5000, after)
            found.extend(_visible(row, readable) for row in rows)
            if len(rows) < 5000:
                return found
            after = rows[-1]["id"]


def _visible(contact: dict[str, Any], readable: frozenset[str]) -> dict[str, Any]:
    """A contact without the identifiers the reader may not read."""
    shown = {k: v for k, v in contact.items() if k != "_page"}
    for kind in ("email", "phone", "external_id"):
        if kind not in readable:
            shown.pop(kind, None)
    return shown


def _page(count: int, rows: list[dict[str, Any]], limit: int, readable: frozenset[str]) -> dict:
    more = len(rows) > limit
    rows = rows[:limit]
    cursor = str(rows[-1]["id"]) if more and rows else None
    return {"count": count, "contacts": [_visible(r, readable) for r in rows], "next": cursor}
