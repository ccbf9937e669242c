"""Reading JSON from the wire, strictly.

Python's json module accepts things a store cannot keep or hand back as JSON: NaN and
Infinity, lone UTF-16 surrogates (`"\\ud800"`), and nesting deep enough to exhaust the
stack. Every body any door receives is read here, so each of those becomes one clear
`ValueError` (and the body a `malformed` failed event) instead of a 500 later.
"""

from __future__ import annotations

import json
import math
from typing import Any

MAX_DEPTH = 32


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


_decoder = json.JSONDecoder(parse_constant=_no_constants)

try:  # orjson is several times faster on the hot path; the standard library is the fallback
    import orjson
except ImportError:  # pragma: no cover - a platform without its wheel
    orjson = None  # type: ignore[assignment]


# One encoder, made once: json.dumps with non-default arguments builds a new one per call.
_compact = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def compact(value: Any) -> str:
    """JSON text without spaces, non-ASCII kept as is (for storage and payloads)."""
    if orjson is not None:
        try:
            return orjson.dumps(value).decode()
        except (TypeError, orjson.JSONEncodeError):
            pass  # an integer past 64 bits, say: the standard library takes anything
    return _compact(value)


def dumps(value: Any) -> str:
    """For JSON responses (web.json_response's `dumps`)."""
    return compact(value)


def decode_body(raw: bytes) -> str:
    """UTF-8 text of a body; ValueError when the bytes are not UTF-8."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"the body is not UTF-8 ({exc.reason} at byte {exc.start})") from None


def loads(text: str) -> Any:
    """The JSON value of `text`, or ValueError saying what is wrong with it."""
    if orjson is not None:
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError:
            pass  # orjson limits nesting itself and reads big integers differently
        else:
            # orjson refused NaN, infinities and lone surrogates already. Only nesting is
            # left, and a text with no more brackets than the limit cannot nest deeper.
            if text.count("{") + text.count("[") > MAX_DEPTH:
                _check_depth(value)
            return value
    try:
        value = _decoder.decode(text)
    except RecursionError:
        raise ValueError(f"JSON nested deeper than {MAX_DEPTH} levels") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"the body is not valid JSON: {exc}") from None
    _check(value, 0, escapes="\\u" in text)
    return value


def _check(value: Any, depth: int, escapes: bool) -> None:
    if isinstance(value, dict):
        if depth >= MAX_DEPTH:
            raise ValueError(f"JSON nested deeper than {MAX_DEPTH} levels")
        for key, item in value.items():
            if escapes:
                _check_text(key)
            _check(item, depth + 1, escapes)
    elif isinstance(value, list):
        if depth >= MAX_DEPTH:
            raise ValueError(f"JSON nested deeper than {MAX_DEPTH} levels")
        for item in value:
            _check(item, depth + 1, escapes)
    elif escapes and isinstance(value, str):
        _check_text(value)
    elif isinstance(value, float) and not math.isfinite(value):
        raise ValueError("a number too large to store (1e99999 reads as infinity)")


def _check_depth(value: Any) -> None:
    """Nesting only: a walk over the containers, level by level, skipping every scalar."""
    level = [value]
    for _ in range(MAX_DEPTH):
        level = [
            child
            for container in level
            for child in (container.values() if type(container) is dict else container)
            if type(child) is dict or type(child) is list
        ]
        if not level:
            return
    raise ValueError(f"JSON nested deeper than {MAX_DEPTH} levels")


def _check_text(text: str) -> None:
    # A lone surrogate can only come from a \u escape: strict UTF-8 decoding refuses the
    # encoded form, so bodies without escapes skip this walk.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("a string holds a lone UTF-16 surrogate (\\ud800-\\udfff)") from None
