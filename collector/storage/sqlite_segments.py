"""Segment trees → one SQLite query over contact-id sets (INTERSECT / UNION / EXCEPT).

Each event condition is one GROUP BY over the events of that name (the
`events_by_name` index narrows it to the name and period); groups combine those sets in
SQL. Values are always bound parameters; only operators from fixed tables are inlined.
"""

from __future__ import annotations

from typing import Any

from collector.segments import EventCondition, Group, ParamCondition, Seen

_COMPARE = {"=": "=", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_JSON_EPOCH_US = (
    "CAST(ROUND((julianday(json_extract(params, ?)) - 2440587.5) * 86400000) AS INTEGER) * 1000"
)


def group_sql(group: Group) -> tuple[str, list[Any]]:
    """SQL selecting the contact ids (as `id`) matching `group`, and its arguments."""
    parts, args = [], []
    for child in group.children:
        sql, child_args = group_sql(child) if isinstance(child, Group) else condition_sql(child)
        parts.append(f"SELECT id FROM ({sql})")
        args.extend(child_args)
    joiner = " INTERSECT " if group.match == "all" else " UNION "
    return joiner.join(parts), args


def condition_sql(c: EventCondition) -> tuple[str, list[Any]]:
    where = ["contact_id IS NOT NULL", "event = ?"]
    args: list[Any] = [c.event]
    if c.since_us is not None:
        where.append("ts >= ?")
        args.append(c.since_us)
    if c.until_us is not None:
        where.append("ts < ?")
        args.append(c.until_us)
    for p in c.where:
        sql, p_args = _param_sql(p)
        where.append(sql)
        args.extend(p_args)
    matching = f"FROM events WHERE {' AND '.join(where)}"
    seen = c.first_seen is not None or c.last_seen is not None
    # A contact with no matching events has count 0 and no first/last time. A count
    # condition that holds for 0 (= 0, <= N, >= 0) with no first/last bound therefore takes
    # every contact but those whose matching events make the count fail.
    if not seen and c.count_op is not None and _holds(c.count_op, 0, c.count):
        return (
            f"SELECT id FROM contacts EXCEPT SELECT contact_id AS id {matching} "
            f"GROUP BY contact_id HAVING NOT (count(*) {_COMPARE[c.count_op]} ?)",
            [*args, c.count],
        )
    having, h_args = [], []
    if c.count_op is not None:
        having.append(f"count(*) {_COMPARE[c.count_op]} ?")
        h_args.append(c.count)
    for column, bound in (("min(ts)", c.first_seen), ("max(ts)", c.last_seen)):
        if bound is not None:
            sql, b_args = _bound(column, bound)
            having.append(sql)
            h_args.extend(b_args)
    return (
        f"SELECT contact_id AS id {matching} GROUP BY contact_id HAVING {' AND '.join(having)}",
        [*args, *h_args],
    )


def _holds(op: str, n: int, value: int) -> bool:
    return {"=": n == value, ">=": n >= value, "<=": n <= value}[op]


def _bound(column: str, seen: Seen) -> tuple[str, list[Any]]:
    parts, args = [], []
    if seen.low_us is not None:
        parts.append(f"{column} >= ?")
        args.append(seen.low_us)
    if seen.high_us is not None:
        parts.append(f"{column} < ?")
        args.append(seen.high_us)
    return " AND ".join(parts) or "1", args


def _param_sql(p: ParamCondition) -> tuple[str, list[Any]]:
    path = f'$."{p.code}"'
    value = "json_extract(params, ?)"
    if p.op == "empty":
        sql = f"coalesce({value}, '') = ''" if p.value else f"coalesce({value}, '') != ''"
        return sql, [path]
    if p.type == "boolean":
        return f"{value} = ?", [path, int(p.value)]
    if p.type in ("date", "timestamp"):
        epoch = _JSON_EPOCH_US
        if p.op == "within_days":
            return f"{epoch} >= ?", [path, p.value]
        low, high = p.value
        parts, args = [], []
        if low is not None:
            parts.append(f"{epoch} >= ?")
            args.extend([path, low])
        if high is not None:
            parts.append(f"{epoch} < ?")
            args.extend([path, high])
        return " AND ".join(parts), args
    if p.op == "contains":
        return f"instr(lower({value}), lower(?)) > 0", [path, p.value]
    if p.op == "in":
        return f"{value} IN ({','.join('?' * len(p.value))})", [path, *p.value]
    if p.op == "between":
        return f"{value} BETWEEN ? AND ?", [path, p.value[0], p.value[1]]
    return f"{value} {_COMPARE[p.op]} ?", [path, p.value]
