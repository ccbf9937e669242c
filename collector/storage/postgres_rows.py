"""PostgreSQL rows → the shapes the SQLite backend hands out, key for key.

asyncpg returns Records with JSON already decoded (the pool sets a codec), BOOLEAN as
bool and BIGINT as int; these helpers only rename, format times with `format_us` and keep
the `_page` sort keys, so services cannot tell the backends apart.
"""

from __future__ import annotations

import contextlib
import json
import re
from typing import Any, TypeVar

from asyncpg import Record

from collector.jsonwire import compact
from collector.model import Definition, Field
from collector.scenarios import Scenario
from collector.timeutil import format_us

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

EVENT_COLUMNS = """seq, id, event, ts, received_at, contact_id, session_id, params, context,
    version, source, api_inserted, api_verified, backfilled"""
CONTACT_COLUMNS = "id, email, phone, external_id, attributes, created_at"


T = TypeVar("T")
_ESC = "\ufffe"  # a noncharacter: never meaningful in an event, so a cheap escape


def pg_text(value: T) -> T:
    """A value for a text column: PostgreSQL text cannot hold U+0000 (SQLite's can), so
    ids, names and identifiers keep it as U+FFFD, written and looked up alike. A NUL is
    never meaningful there, but a hostile one must not fail a batch or a query."""
    if isinstance(value, str) and "\x00" in value:
        return value.replace("\x00", "\ufffd")  # type: ignore[return-value]
    return value


def json_text(value: str) -> str:
    """A string as it sits inside a stored JSON document (see `dumps`)."""
    if "\x00" in value or _ESC in value:
        return value.replace(_ESC, _ESC + _ESC).replace("\x00", _ESC + "0")
    return value


def _from_json_text(value: str) -> str:
    return re.sub(_ESC + "(.)", lambda m: "\x00" if m.group(1) == "0" else m.group(1), value)


def _walk(value: Any, change: Any) -> Any:
    if isinstance(value, str):
        return change(value)
    if isinstance(value, dict):
        return {change(k): _walk(v, change) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v, change) for v in value]
    return value


def dumps(value: Any) -> str:
    """JSON text for a json column, as SQLite's backend writes it, but for U+0000: with a
    \\u0000 anywhere in a document, PostgreSQL refuses every json operator on it (so
    segments and searches would fail), so strings keep it as U+FFFE "0" (and U+FFFE as
    U+FFFE U+FFFE) and `loads` gives back exactly what was written."""
    text = compact(value)
    if "\\u0000" in text or _ESC in text:
        text = compact(_walk(value, json_text))
    return text


def loads(text: str) -> Any:
    value = json.loads(text)
    return _walk(value, _from_json_text) if _ESC in text else value


def int64(value: Any) -> int | None:
    """`value` as a BIGINT parameter, or None when it cannot be one (so it matches no
    row, as in SQLite, instead of failing the query)."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if INT64_MIN <= number <= INT64_MAX else None


def affected(status: str) -> int:
    """Rows touched, from a command status such as `UPDATE 3` or `INSERT 0 1`."""
    return int(status.rsplit(" ", 1)[1])


def definition(row: Record) -> Definition:
    body = row["body"]
    return Definition(
        name=row["name"],
        title=body["title"],
        category=body["category"],
        scope=body["scope"],
        fields=tuple(Field(**f) for f in body["fields"]),
        web_tracking=body["web_tracking"],
        retention_days=body["retention_days"],
        version=row["version"],
        hidden=row["hidden"],
    )


def event_json(row: Record) -> dict[str, Any]:
    return {
        "id": row["id"],
        "event": row["event"],
        "timestamp": format_us(row["ts"]),
        "received_at": format_us(row["received_at"]),
        "contact_id": row["contact_id"],
        "session_id": row["session_id"],
        "params": row["params"],
        "context": row["context"],
        "version": row["version"],
        "source": row["source"],
        "api_inserted": row["api_inserted"],
        "api_verified": row["api_verified"],
        "backfilled": row["backfilled"],
        "_page": (row["ts"], row["seq"]),
    }


def failed_json(row: Record) -> dict[str, Any]:
    payload: Any = bytes(row["payload"]).decode("utf-8")
    with contextlib.suppress(ValueError, RecursionError):  # else the raw text it came as
        payload = json.loads(payload)  # the bytes received: no escapes of ours in them
    out = {
        "id": row["id"],
        "received_at": format_us(row["received_at"]),
        "event": row["event"],
        "source": row["source"],
        "reasons": row["reasons"],
        "payload": payload,
        "door": row["door"],
        "_page": (row["received_at"], row["seq"]),
    }
    if "replayed_at" in row.keys():  # noqa: SIM118 (a Record's `in` looks at values)
        out["replayed_at"] = format_us(row["replayed_at"])
    return out


def live_event(row: Record) -> dict[str, Any]:
    return {
        "status": "accepted",
        "id": row["id"],
        "event": row["event"],
        "at": format_us(row["received_at"]),
        "key": row["key_name"] or "",
        "contact_id": row["contact_id"],
        "session": bool(row["session_id"]),
        "params": row["params"],
        "_at": row["received_at"],
    }


def live_failure(row: Record) -> dict[str, Any]:
    return {
        "status": "failed",
        "id": row["id"],
        "event": row["event"],
        "at": format_us(row["received_at"]),
        "key": row["source"].get("key", ""),
        "reasons": row["reasons"],
        "_at": row["received_at"],
    }


def scenario(row: Record) -> Scenario:
    return Scenario(
        id=row["id"],
        name=row["name"],
        enabled=row["enabled"],
        trigger=row["trigger"],
        actions=row["actions"],
    )


def segment_json(row: Record) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "rules": row["rules"],
        "created_at": format_us(row["created_at"]),
    }


def contact_json(row: Record) -> dict[str, Any]:
    return {
        "id": row["id"],
        "email": row["email"],
        "phone": row["phone"],
        "external_id": row["external_id"],
        "attributes": row["attributes"],
        "created_at": format_us(row["created_at"]),
    }
