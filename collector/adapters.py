"""Adapters: one function per wire format, each turning one received item into an
`IncomingEvent`. They only read shapes; every decision is the pipeline's.

Problems found while reading (an id that is not a string, an unreadable timestamp) ride
along as reasons, so the event still reaches the pipeline and is kept as a failure.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from collector import jsonwire
from collector.contacts import contact_ref
from collector.model import ContactRef, IncomingEvent, Reason
from collector.timeutil import now_us, parse_time_us
from collector.webcontext import web_context

_MAX_ID = 128
CLOCK_SLACK_US = 10_000_000


def _read_id(item: dict[str, Any], event: IncomingEvent, name: str = "id") -> None:
    value = item.get(name)
    if value is None:
        return
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not 0 < len(value) <= _MAX_ID:
        event.reasons.append(
            Reason("invalid_type", name, f"an event id is a string of 1 to {_MAX_ID} characters")
        )
        return
    event.id = value


def _read_timestamp(value: Any, path: str, event: IncomingEvent) -> None:
    if value is None:
        return
    try:
        if not isinstance(value, str):
            raise ValueError
        event.timestamp_us = parse_time_us(value)
    except ValueError:
        event.reasons.append(
            Reason("invalid_type", path, "expected an ISO-8601 time such as 2026-11-24T10:00:00Z")
        )


def native(item: Any, raw: str) -> IncomingEvent:
    """`POST /api/v1/events`: {event, id?, timestamp?, contact?, session?, params?, context?}."""
    event = IncomingEvent(door="api", raw=raw, api_inserted=True)
    if not isinstance(item, dict):
        event.reasons.append(Reason("malformed", "", "an event is a JSON object"))
        return event
    event.name = item.get("event")
    _read_id(item, event)
    _read_timestamp(item.get("timestamp"), "timestamp", event)
    contact = item.get("contact")
    if isinstance(contact, dict):
        event.contact, problem = contact_ref(contact, "contact")
        if problem:
            event.reasons.append(Reason("invalid_type", problem.split(":")[0], problem))
    elif contact is not None:
        event.reasons.append(
            Reason("invalid_type", "contact", "contact is {id | email | phone | external_id}")
        )
    event.api_verified = event.contact is not None  # a secret key vouches for the identity
    event.session = item.get("session")
    event.params = item.get("params", {})
    context = item.get("context", {})
    if isinstance(context, dict):
        event.context = context
    elif context is not None:
        event.reasons.append(Reason("invalid_type", "context", "context is a JSON object"))
    return event


def _ms(value: Any) -> int | None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    return int(value * 1000) if ok and 0 < value < 1e14 else None


def beacon(item: Any, raw: str) -> IncomingEvent:
    """A browser event from the tracker: `{i, n, t, p, u, c}` with the request's own facts
    merged in by the collect endpoint (`s` session token, `st` send time, `ua`, `ip`).

    The event time is the client's, and never later than receipt. When the client's clock
    is off by more than CLOCK_SLACK (measured on this very request: its send time `st`
    against our receive time), the time is shifted by that offset. Smaller offsets are
    mostly network latency, which differs per request; correcting for it would reorder
    events made milliseconds apart but sent in different requests.
    Identity claims (`u`) are the browser service's to judge, not the adapter's.
    """
    event = IncomingEvent(door="web", raw=raw, default_source="website")
    if not isinstance(item, dict):
        event.reasons.append(Reason("malformed", "", "an event is a JSON object"))
        return event
    received = now_us()
    event.name = item.get("n")
    _read_id(item, event, "i")
    event.session = item.get("s")
    event.params = item.get("p", {})
    client_us, sent_us = _ms(item.get("t")), _ms(item.get("st"))
    if client_us is not None:
        offset = received - sent_us if sent_us is not None else 0
        if abs(offset) < CLOCK_SLACK_US:
            offset = 0
        event.timestamp_us = min(client_us + offset, received)
    ua, ip = item.get("ua"), item.get("ip")
    event.context = web_context(
        item.get("c"),
        user_agent=ua if isinstance(ua, str) else "",
        ip=ip if isinstance(ip, str) else None,
        client_us=client_us,
    )
    return event


def enkod(item: Any, raw: str) -> IncomingEvent:
    """`POST /api/v1/customEvent/save`: {event, email?, phone?, session?, params}. An email
    or phone must name a known contact; otherwise the event stays on the session."""
    event = IncomingEvent(door="enkod", raw=raw, api_inserted=True, contact_must_exist=True)
    if not isinstance(item, dict):
        event.reasons.append(Reason("malformed", "", "an event is a JSON object"))
        return event
    event.name = item.get("event")
    _read_contact(item, event, ("email", "phone"), "")
    event.session = item.get("session")
    event.params = item.get("params", {})
    return event


def msg91(item: Any, raw: str) -> IncomingEvent:
    """`POST /api/v1/user-events` items: {event_name, visitor_id, event_properties,
    event_timestamp ('YYYY-MM-DD HH:MM:SS'), context, type}. visitor_id is a known
    contact's id or external id."""
    event = IncomingEvent(door="msg91", raw=raw, api_inserted=True, contact_must_exist=True)
    if not isinstance(item, dict):
        event.reasons.append(Reason("malformed", "", "an item is a JSON object"))
        return event
    event.name = item.get("event_name")
    visitor = item.get("visitor_id")
    if isinstance(visitor, (str, int)) and not isinstance(visitor, bool) and str(visitor).strip():
        event.contact = ContactRef("visitor_id", str(visitor).strip())
        event.api_verified = True
    else:
        event.reasons.append(Reason("missing_required", "visitor_id", "visitor_id is required"))
    _read_timestamp(item.get("event_timestamp"), "event_timestamp", event)
    event.params = item.get("event_properties", {})
    context = item.get("context") if isinstance(item.get("context"), dict) else {}
    if item.get("type") is not None:
        context = {**context, "type": item["type"]}
    event.context = context
    return event


def backend(item: Any, raw: str) -> IncomingEvent:
    """`POST /api/v1/backend-events` (Squeezely style): {event, email, language?,
    currency?, custom_<field>?, …params}. Every other key is a parameter;
    `custom_<field>` sets that (existing) contact field."""
    event = IncomingEvent(door="backend", raw=raw, api_inserted=True)
    if not isinstance(item, dict):
        event.reasons.append(Reason("malformed", "", "an event is a JSON object"))
        return event
    event.name = item.get("event")
    if item.get("email") in (None, ""):
        event.reasons.append(Reason("missing_required", "email", "email is required"))
    _read_contact(item, event, ("email",), "")
    event.params = {
        k: v for k, v in item.items() if k not in ("event", "email") and not k.startswith("custom_")
    }
    event.attributes = {
        k.removeprefix("custom_"): v
        for k, v in item.items()
        if k.startswith("custom_") and len(k) > 7
    }
    return event


def _read_contact(
    item: dict[str, Any], event: IncomingEvent, kinds: tuple[str, ...], path: str
) -> None:
    ref, problem = contact_ref({k: item.get(k) for k in kinds}, path)
    if problem:
        event.reasons.append(Reason("invalid_type", problem.split(":")[0].lstrip("."), problem))
    event.contact = ref
    event.api_verified = ref is not None  # a secret key vouches for the identity


ADAPTERS: dict[str, Callable[[Any, str], IncomingEvent]] = {
    "api": native,
    "web": beacon,
    "enkod": enkod,
    "msg91": msg91,
    "backend": backend,
    "segment": lambda item, raw: _segment(item, raw),
}


def _segment(item: Any, raw: str) -> IncomingEvent:
    from collector.segment_api import message_event  # it builds on this module

    return message_event(item if isinstance(item, dict) else {}, raw)


def read_again(door: str, payload: str) -> IncomingEvent:
    """A stored failure's payload read once more by the adapter it first came through."""
    try:
        item = jsonwire.loads(payload)
    except ValueError as exc:
        event = IncomingEvent(door=door, raw=payload)
        event.reasons.append(Reason("malformed", "", str(exc)))
        return event
    return ADAPTERS.get(door, native)(item, payload)
