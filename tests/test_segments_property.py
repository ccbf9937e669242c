"""Segment SQL checked against a plain-Python evaluation of the same rules, on random
contacts, events and rules (hypothesis)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.definitions import Definitions
from collector.ids import new_id
from collector.model import ContactRef, NewEvent
from collector.segments import EventCondition, Group, compile_rules, param_matches
from collector.storage.postgres import PostgresStorage
from collector.storage.sqlite import SQLiteStorage
from collector.timeutil import format_datetime, to_us

NOW = datetime(2026, 11, 24, 15, 30, tzinfo=UTC)
COLORS = ["red", "Red shirt", "blue", "", "green", "Äpfel"]  # Ä: lower() folds ASCII only
FIELDS = {
    "amount": "decimal",
    "qty": "integer",
    "color": "text",
    "gift": "boolean",
    "day": "date",
    "at": "timestamp",
}


def _value(draw, type_):
    if type_ == "decimal":
        return draw(st.sampled_from([0, 1.5, 9.99, 10, 100.25, -3]))
    if type_ == "integer":
        return draw(st.integers(0, 5))
    if type_ == "text":
        return draw(st.sampled_from(COLORS))
    if type_ == "boolean":
        return draw(st.booleans())
    if type_ == "date":
        return (NOW.date() - timedelta(days=draw(st.integers(0, 40)))).isoformat()
    return format_datetime(NOW - timedelta(seconds=draw(st.integers(0, 40 * 86400))))


@st.composite
def datasets(draw):
    contacts = draw(st.integers(1, 6))
    events = []
    for _ in range(draw(st.integers(0, 25))):
        name = draw(st.sampled_from(["buy", "view"]))
        codes = draw(st.lists(st.sampled_from(sorted(FIELDS)), unique=True, max_size=4))
        if name == "view":
            codes = [c for c in codes if c == "color"]
        params = {code: _value(draw, FIELDS[code]) for code in codes}
        at = NOW - timedelta(seconds=draw(st.integers(0, 45 * 86400)))
        events.append((draw(st.integers(0, contacts - 1)), name, to_us(at), params))
    return contacts, events


@st.composite
def param_conditions(draw, event):
    code = draw(st.sampled_from(["color"] if event == "view" else sorted(FIELDS)))
    type_ = FIELDS[code]
    if type_ == "text":
        op = draw(st.sampled_from(["=", "!=", "contains", "in", "empty"]))
        value = {
            "in": lambda: draw(st.lists(st.sampled_from(COLORS), max_size=3)),
            "empty": lambda: draw(st.booleans()),
            "contains": lambda: draw(st.sampled_from(["red", "RED", "e", "shirt", "äpfel"])),
        }.get(op, lambda: draw(st.sampled_from(COLORS)))()
    elif type_ in ("integer", "decimal"):
        op = draw(st.sampled_from(["=", "!=", "<", "<=", ">", ">=", "between"]))
        value = (
            [_value(draw, type_), _value(draw, type_)] if op == "between" else _value(draw, type_)
        )
    elif type_ == "boolean":
        op, value = "is", draw(st.booleans())
    else:
        op = draw(st.sampled_from(["before", "after", "between", "within_days"]))
        value = (
            draw(st.integers(1, 40))
            if op == "within_days"
            else [_value(draw, type_), _value(draw, type_)]
            if op == "between"
            else _value(draw, type_)
        )
    return {"param": f"${code}", "op": op, "value": value}


@st.composite
def conditions(draw, depth=0):
    if depth < 2 and draw(st.integers(0, 4)) == 0:
        return {
            draw(st.sampled_from(["all", "any"])): draw(
                st.lists(conditions(depth + 1), min_size=1, max_size=3)
            )
        }
    event = draw(st.sampled_from(["buy", "view"]))
    cond = {"event": event}
    if draw(st.booleans()):
        cond["count"] = {
            "op": draw(st.sampled_from(["=", ">=", "<="])),
            "value": draw(st.integers(0, 3)),
        }
    period = draw(st.integers(0, 2))
    if period == 1:
        cond["period"] = {"last_days": draw(st.integers(1, 40))}
    elif period == 2:
        a, b = sorted(draw(st.integers(0, 45)) for _ in range(2))
        cond["period"] = {
            "from": (NOW.date() - timedelta(days=b)).isoformat(),
            "to": (NOW.date() - timedelta(days=a)).isoformat(),
        }
    for seen in ("first_seen", "last_seen"):
        if draw(st.integers(0, 3)) == 0:
            op = draw(
                st.sampled_from(["before", "after", "between", "within_days", "more_than_days_ago"])
            )
            if op in ("within_days", "more_than_days_ago"):
                value = draw(st.integers(1, 40))
            else:
                days = [
                    (NOW.date() - timedelta(days=draw(st.integers(0, 45)))).isoformat()
                    for _ in range(2)
                ]
                value = sorted(days) if op == "between" else days[0]
            cond[seen] = {"op": op, "value": value}
    where = draw(st.lists(param_conditions(event), max_size=2))
    if where:
        cond["where"] = where
    return cond


@st.composite
def rule_sets(draw):
    return {
        "match": draw(st.sampled_from(["all", "any"])),
        "conditions": draw(st.lists(conditions(), min_size=1, max_size=3)),
    }


# -- the plain-Python evaluation ---------------------------------------------------------


def _condition_ok(c: EventCondition, events) -> bool:
    times = [
        ts
        for name, ts, params in events
        if name == c.event
        and (c.since_us is None or ts >= c.since_us)
        and (c.until_us is None or ts < c.until_us)
        and all(param_matches(p, params) for p in c.where)
    ]
    if c.count_op is not None:
        n = len(times)
        if not {"=": n == c.count, ">=": n >= c.count, "<=": n <= c.count}[c.count_op]:
            return False
    for bound, pick in ((c.first_seen, min), (c.last_seen, max)):
        if bound is not None:
            if not times:
                return False
            t = pick(times)
            if (bound.low_us is not None and t < bound.low_us) or (
                bound.high_us is not None and t >= bound.high_us
            ):
                return False
    return True


def evaluate(tree: Group, events) -> bool:
    results = (
        evaluate(child, events) if isinstance(child, Group) else _condition_ok(child, events)
        for child in tree.children
    )
    return all(results) if tree.match == "all" else any(results)


# -- the property ------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgres"])
async def store(request, tmp_path):
    # one database for every example of the test: each example empties it first
    url = None
    if request.param == "sqlite":
        storage = SQLiteStorage(str(tmp_path / "seg.db"))
    else:
        url = request.getfixturevalue("pg_server").create_database()
        storage = PostgresStorage(url)
    await storage.open()
    definitions = Definitions(storage)
    await definitions.load()
    await definitions.create(
        {"name": "buy", "fields": [{"code": code, "type": type_} for code, type_ in FIELDS.items()]}
    )
    await definitions.create({"name": "view", "fields": [{"code": "color", "type": "text"}]})
    yield storage, definitions
    await storage.close()
    if url is not None:
        request.getfixturevalue("pg_server").drop_database(url)


async def _empty(storage) -> None:
    if isinstance(storage, SQLiteStorage):
        await storage._w.execute("DELETE FROM events")
        await storage._w.execute("DELETE FROM contacts")
    else:
        await storage._pool_().execute("DELETE FROM events; DELETE FROM contacts")


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=datasets(), rules=rule_sets())
async def test_segment_sql_matches_a_plain_python_evaluation(store, data, rules):
    storage, definitions = store
    n_contacts, raw_events = data
    await _empty(storage)
    ids = [
        (await storage.upsert_contact({"email": f"c{i}@example.com"}, {}))["id"]
        for i in range(n_contacts)
    ]
    items = []
    for contact, name, ts, params in raw_events:
        checked = {k: v for k, v in params.items()}
        items.append(
            NewEvent(
                id=new_id(),
                event=name,
                ts=ts,
                received_at=ts,
                contact=ContactRef("contact_id", ids[contact]),
                session_id=None,
                params=checked,
                context={},
                version=1,
                source=None,
                api_inserted=True,
                api_verified=False,
            )
        )
    if items:
        await storage.write_batch(items)
    tree = compile_rules(rules, definitions, now=NOW)
    count, rows = await storage.segment_contacts(tree, 1000, None)
    by_contact = {i: [] for i in ids}
    for contact, name, ts, params in raw_events:
        by_contact[ids[contact]].append((name, ts, params))
    expected = sorted(i for i in ids if evaluate(tree, by_contact[i]))
    assert sorted(r["id"] for r in rows) == expected, (rules, raw_events)
    assert count == len(expected)
