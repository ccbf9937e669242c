"""Segment trees → one PostgreSQL query over contact-id sets (INTERSECT / UNION / EXCEPT).

The same plan as `sqlite_segments.py`, condition for condition: each event condition is
one GROUP BY over the events of that name (the `events_by_name` index narrows it to the
name and period); groups combine those sets in SQL. Parameters are read with json
operators and must agree with `collector.segments.param_matches` (the property test runs
both), so every cast is guarded: a stored value of another type (the field's type changed)
matches nothing instead of failing the query. Values and parameter codes are always bound
(`$n`); only operators from fixed tables are inlined.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from collector.segments import EventCondition, Group, ParamCondition, Seen
from collector.storage.postgres_rows import json_text, pg_text

_COMPARE = {"=": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}

# What a stored date or timestamp looks like (validation wrote it); anything else is not
# cast, since one bad text would fail the whole query.
_TIME_TEXT = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|z|[+-]\d{2}(:?\d{2})?)?)?$"


class Args:
    """Bound values, numbered `$1…` in the order they are added; text as PostgreSQL
    stores it (NUL as U+FFFD, see `pg_text`), so a look-up finds what was written."""

    def __init__(self) -> None:
        self.values: list[Any] = []

    def add(self, value: Any, cast: str) -> str:
        if cast == "text[]":
            value = [pg_text(v) for v in value]
        elif cast == "text":
            value = pg_text(value)
        self.values.append(value)
        return f"${len(self.values)}::{cast}"

    def in_json(self, value: Any) -> str:
        """Text compared with a string read out of a stored document (`json_text`)."""
        if isinstance(value, list):
            return self.add([json_text(v) for v in value], "text[]")
        return self.add(json_text(value), "text")


def group_sql(group: Group, args: Args) -> str:
    """SQL selecting the contact ids (as `id`) matching `group`; values go to `args`."""
    parts = []
    for n, child in enumerate(group.children):
        sql = group_sql(child, args) if isinstance(child, Group) else condition_sql(child, args)
        parts.append(f"SELECT id FROM ({sql}) AS c{n}")
    joiner = " INTERSECT " if group.match == "all" else " UNION "
    return joiner.join(parts)


def condition_sql(c: EventCondition, args: Args) -> str:
    where = ["contact_id IS NOT NULL", f"event = {args.add(c.event, 'text')}"]
    if c.since_us is not None:
        where.append(f"ts >= {args.add(c.since_us, 'bigint')}")
    if c.until_us is not None:
        where.append(f"ts < {args.add(c.until_us, 'bigint')}")
    where.extend(_param_sql(p, args) for p in c.where)
    matching = f"FROM events WHERE {' AND '.join(where)}"
    seen = c.first_seen is not None or c.last_seen is not None
    # A contact with no matching events has count 0 and no first/last time. A count
    # condition that holds for 0 (= 0, <= N, >= 0) with no first/last bound therefore takes
    # every contact but those whose matching events make the count fail.
    if not seen and c.count_op is not None and _holds(c.count_op, 0, c.count):
        return (
            f"SELECT id FROM contacts EXCEPT SELECT contact_id AS id {matching} "
            f"GROUP BY contact_id HAVING NOT (count(*) {_COMPARE[c.count_op]} "
            f"{args.add(c.count, 'bigint')})"
        )
    having = []
    if c.count_op is not None:
        having.append(f"count(*) {_COMPARE[c.count_op]} {args.add(c.count, 'bigint')}")
    for column, bound in (("min(ts)", c.first_seen), ("max(ts)", c.last_seen)):
        if bound is not None:
            having.append(_bound(column, bound, args))
    return f"SELECT contact_id AS id {matching} GROUP BY contact_id HAVING {' AND '.join(having)}"


def _holds(op: str, n: int, value: int) -> bool:
    return {"=": n == value, ">=": n >= value, "<=": n <= value}[op]


def _bound(column: str, seen: Seen, args: Args) -> str:
    parts = []
    if seen.low_us is not None:
        parts.append(f"{column} >= {args.add(seen.low_us, 'bigint')}")
    if seen.high_us is not None:
        parts.append(f"{column} < {args.add(seen.high_us, 'bigint')}")
    return " AND ".join(parts) or "TRUE"


def number_param(value: Any) -> Decimal:
    """A JSON number as the exact decimal PostgreSQL stored for it: a float's shortest
    repr is what `json.dumps` wrote, so comparing decimals orders as Python's floats do."""
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def _ascii_lower(sql: str) -> str:
    # lower() under the "C" collation folds A-Z only, like SQLite's lower() and
    # segments._ascii_lower; the database's own collation may fold all of Unicode.
    return f'lower(({sql}) COLLATE "C")'


def _param_sql(p: ParamCondition, args: Args) -> str:
    code = args.add(p.code, "text")
    value, text = f"params -> {code}", f"params ->> {code}"
    kind = f"json_typeof({value})"  # NULL when missing, 'null' for a JSON null
    if p.op == "empty":
        return f"coalesce({text}, '') {'=' if p.value else '<>'} ''"
    if p.type == "boolean":
        # Python's `v == True` also holds for the number 1, as SQLite's 1 = 1 does.
        return (
            f"CASE {kind} WHEN 'boolean' THEN ({text})::boolean = "
            f"{args.add(bool(p.value), 'boolean')} WHEN 'number' THEN ({text})::numeric = "
            f"{args.add(number_param(int(p.value)), 'numeric')} ELSE FALSE END"
        )
    if p.type in ("date", "timestamp"):
        epoch = (
            f"CASE WHEN {kind} = 'string' AND {text} ~ {args.add(_TIME_TEXT, 'text')}"
            f" THEN (extract(epoch FROM ({text})::timestamptz) * 1000000)::bigint END"
        )
        if p.op == "within_days":
            return f"{epoch} >= {args.add(p.value, 'bigint')}"
        low, high = p.value
        parts = []
        if low is not None:
            parts.append(f"{epoch} >= {args.add(low, 'bigint')}")
        if high is not None:
            parts.append(f"{epoch} < {args.add(high, 'bigint')}")
        return " AND ".join(parts) or "TRUE"
    if p.type == "text":
        return _text_sql(p, kind, text, args)
    number = f"CASE WHEN {kind} = 'number' THEN ({text})::numeric END"
    if p.op == "between":
        low, high = (args.add(number_param(v), "numeric") for v in p.value)
        return f"{number} BETWEEN {low} AND {high}"
    if p.op == "!=":
        # Python: any stored value but this number differs from it, the text "5" too.
        bound = args.add(number_param(p.value), "numeric")
        return f"({kind} <> 'null' AND {number} IS DISTINCT FROM {bound})"
    return f"{number} {_COMPARE[p.op]} {args.add(number_param(p.value), 'numeric')}"


def _text_sql(p: ParamCondition, kind: str, text: str, args: Args) -> str:
    # Python compares types too: a stored number 5 is neither equal to nor in ["5"].
    if p.op == "contains":
        needle = _ascii_lower(args.in_json(p.value))
        return f"position({needle} in {_ascii_lower(text)}) > 0"
    if p.op == "in":
        return f"({kind} = 'string' AND {text} = ANY({args.in_json(list(p.value))}))"
    equal = f"({kind} = 'string' AND {text} = {args.in_json(p.value)})"
    return equal if p.op == "=" else f"({kind} <> 'null' AND NOT {equal})"
