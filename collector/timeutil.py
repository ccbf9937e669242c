"""Times on the wire and in storage.

Storage keeps integer microseconds since the Unix epoch (UTC): compact, indexable and the
same on SQLite and PostgreSQL. The wire speaks ISO-8601 with a zone; `YYYY-MM-DD HH:MM:SS`
and ISO without a zone are read as UTC.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, date, datetime

_US = 1_000_000
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_UTC_SECONDS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")  # the usual form
_DATETIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|z|[+-]\d{2}:?\d{2})?$"
)


def now_us() -> int:
    return time.time_ns() // 1000


def looks_like_date(value: str) -> bool:
    return bool(_DATE.fullmatch(value))


def looks_like_datetime(value: str) -> bool:
    return bool(_DATETIME.fullmatch(value))


def parse_date(value: str) -> date:
    """`YYYY-MM-DD` only; raises ValueError otherwise."""
    if not _DATE.fullmatch(value):
        raise ValueError("expected a date as YYYY-MM-DD")
    return date.fromisoformat(value)


def parse_datetime(value: str) -> datetime:
    """ISO-8601 or `YYYY-MM-DD HH:MM:SS`; a missing zone is UTC. Raises ValueError."""
    if _UTC_SECONDS.fullmatch(value):
        return datetime.fromisoformat(value[:19]).replace(tzinfo=UTC)
    if not _DATETIME.fullmatch(value):
        raise ValueError("expected an ISO-8601 time such as 2026-11-24T10:00:00Z")
    text = value.replace("z", "Z").replace("Z", "+00:00")
    if "." in text:  # Python takes at most 6 fractional digits
        head, _, tail = text.partition(".")
        digits = re.match(r"\d+", tail).group(0)  # type: ignore[union-attr]
        text = f"{head}.{digits[:6].ljust(6, '0')}{tail[len(digits) :]}"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # the zone pushes it past year 1 or 9999
        raise ValueError("that time is out of range") from None


def normalize_datetime(value: str) -> str:
    """A wire time as stored: ISO-8601 UTC with a `Z` (see format_datetime); the usual
    form already is, once it proves a real day and time."""
    moment = parse_datetime(value)
    return value if _UTC_SECONDS.fullmatch(value) else format_datetime(moment)


def parse_time_us(value: str) -> int:
    """A wire time (or a bare date, read as its midnight UTC) as epoch microseconds."""
    if _DATE.fullmatch(value):
        value += "T00:00:00Z"
    return to_us(parse_datetime(value))


def to_us(moment: datetime) -> int:
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * _US + delta.microseconds


def from_us(us: int) -> datetime:
    return datetime.fromtimestamp(us // _US, tz=UTC).replace(microsecond=us % _US)


_YEAR_1000_S = -30_610_224_000


def format_us(us: int | None) -> str | None:
    """Epoch microseconds as ISO-8601 UTC with a `Z`, a fraction only when there is one.
    On every event of the hot path, so C's gmtime/strftime rather than datetime."""
    if us is None:
        return None
    seconds, micro = divmod(us, _US)
    if seconds < _YEAR_1000_S:  # strftime pads no year below 1000
        return format_datetime(from_us(us))
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    if micro:
        text += "." + f"{micro:06d}".rstrip("0")
    return text + "Z"


def format_datetime(moment: datetime) -> str:
    m = moment.astimezone(UTC)
    text = f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}"
    if m.microsecond:
        text += "." + f"{m.microsecond:06d}".rstrip("0")
    return text + "Z"
