"""Checking parameters against a definition.

Coercion rules, per field type (the wire is JSON, so numbers often arrive as strings):
- text: strings; numbers are kept as their decimal text. Booleans, lists and objects fail.
- boolean: true/false, or the strings "true"/"false" (any case).
- integer: integral numbers (3, 3.0) and integral numeric strings ("3", "3.0"), within
  64 bits.
- decimal: finite numbers and numeric strings ("9.99", "1e3").
- date: `YYYY-MM-DD`, a real calendar day.
- timestamp: ISO-8601 (no zone means UTC) or `YYYY-MM-DD HH:MM:SS`; stored as UTC `…Z`.
- json: any JSON value, stored whole (lists and objects such as `products`).
A null is the same as a missing parameter. A parameter the definition does not know yet is
auto-created with a type inferred from its value and an empty label; an auto-created
integer widens to decimal when a decimal arrives. Anything else that does not fit is
`invalid_type`, with the path of the parameter.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from typing import Any

from collector.model import FIELD_CODE, MAX_FIELDS, Definition, Field, Reason
from collector.timeutil import looks_like_date, looks_like_datetime, normalize_datetime, parse_date

_INT64 = 2**63


class _Mismatch(ValueError):
    """The value does not fit the field's type; the text says what was expected."""


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise _Mismatch("expected text")


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise _Mismatch("expected true or false")


def _number(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise _Mismatch("expected a number")
    try:
        number = Decimal(value.strip() if isinstance(value, str) else repr(value))
    except (InvalidOperation, ValueError):
        raise _Mismatch("expected a number") from None
    if not number.is_finite() or abs(number) > Decimal("1e300"):
        raise _Mismatch("expected a finite number")
    return number


def _integer(value: Any) -> int:
    if type(value) is int and -_INT64 <= value < _INT64:
        return value
    number = _number(value)
    if number != number.to_integral_value():
        raise _Mismatch("expected an integer")
    result = int(number)
    if not -_INT64 <= result < _INT64:
        raise _Mismatch("integer out of the 64-bit range")
    return result


def _decimal(value: Any) -> float | int:
    if type(value) is int and abs(value) < _INT64:
        return value
    if type(value) is float and abs(value) <= 1e300:  # neither NaN nor infinite
        return value
    return float(_number(value))


def _date(value: Any) -> str:
    if isinstance(value, str):
        try:
            return parse_date(value).isoformat()
        except ValueError:
            pass
    raise _Mismatch("expected a date as YYYY-MM-DD")


def _timestamp(value: Any) -> str:
    if isinstance(value, str):
        try:
            return normalize_datetime(value)
        except ValueError:
            pass
    raise _Mismatch("expected an ISO-8601 time such as 2026-11-24T10:00:00Z")


def _json(value: Any) -> Any:
    return value


COERCE = {
    "text": _text,
    "boolean": _boolean,
    "integer": _integer,
    "decimal": _decimal,
    "date": _date,
    "timestamp": _timestamp,
    "json": _json,
}


def coerce(type_: str, value: Any) -> Any:
    """The stored form of `value` for a field of `type_`; ValueError when it does not fit."""
    return COERCE[type_](value)


def infer_type(value: Any) -> str:
    """The type an auto-created parameter gets from the first value seen."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "decimal"
    if isinstance(value, str):
        if looks_like_date(value):
            return "date"
        if looks_like_datetime(value):
            return "timestamp"
        return "text"
    return "json"


@dataclass(slots=True)
class Checked:
    """The result of checking one event's parameters."""

    params: dict[str, Any] = field(default_factory=dict)
    reasons: list[Reason] = field(default_factory=list)
    new_fields: dict[str, Field] = field(default_factory=dict)  # auto-created or widened


MAX_PARAMS = 100
MAX_CODE = 64
MAX_TEXT = 8 * 1024


def check_params(definition: Definition, params: dict[str, Any]) -> Checked:
    out = Checked()
    if len(params) > MAX_PARAMS:
        out.reasons.append(
            Reason("too_many_params", "params", f"at most {MAX_PARAMS} parameters an event")
        )
        return out
    for code, value in params.items():
        if value is None:
            continue
        path = f"params.{code}"
        if isinstance(value, str) and len(value) > MAX_TEXT:
            out.reasons.append(
                Reason("value_too_long", path, f"a text value is at most {MAX_TEXT} characters")
            )
            continue
        known = definition.by_code.get(code)
        if known is None:
            if len(code) > MAX_CODE:
                out.reasons.append(
                    Reason("invalid_param", path, f"parameter names are at most {MAX_CODE} long")
                )
                continue
            if not isinstance(code, str) or not FIELD_CODE.fullmatch(code):
                out.reasons.append(
                    Reason("invalid_param", path, "parameter names match ^[a-z_][a-z0-9_]*$")
                )
                continue
            known = Field(code=code, type=infer_type(value), auto_created=True)
            out.new_fields[code] = known
        elif known.auto_created and known.type == "integer" and _is_fractional(value):
            known = replace(known, type="decimal")
            out.new_fields[code] = known
        try:
            out.params[code] = coerce(known.type, value)
        except ValueError as exc:
            out.reasons.append(Reason("invalid_type", path, f"{exc} for {known.type} field"))
    for code in definition.required_codes:
        if params.get(code) is None:
            out.reasons.append(Reason("missing_required", f"params.{code}", f"{code} is required"))
    added = sum(1 for code in out.new_fields if code not in definition.by_code)
    if added and len(definition.fields) + added > MAX_FIELDS:
        out.reasons.append(
            Reason(
                "too_many_fields",
                "params",
                f"{definition.name} would have more than {MAX_FIELDS} fields",
            )
        )
    return out


def _is_fractional(value: Any) -> bool:
    try:
        number = _number(value)
    except ValueError:
        return False
    return number != number.to_integral_value()
