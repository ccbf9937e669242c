"""Segment's HTTP Tracking API, so Segment and RudderStack SDKs work unchanged.

Messages map onto the one pipeline:
- `track` → an event. The name is made ours the way Segment's own spec names become
  event names: lower-case, every run of other characters a hyphen ("Order Completed" →
  `order-completed`, one of the default e-commerce events). Property keys become field
  codes the same way (`productId` → `product_id`).
- `page` → a `page-view` (`title` from `properties.title`, else `name`).
- `userId` is the contact's external id; `anonymousId` is an anonymous session.
- `identify` with a `userId` upserts the contact (traits: `email`, `phone`, the rest as
  attributes) and, with an `anonymousId`, links that session to it and backfills it.
- `alias` joins `previousId`'s anonymous events to `userId`'s contact.
- `messageId` is the event id, so an SDK's retry is stored once.
- Time: `timestamp` when sent; else receivedAt − (sentAt − originalTimestamp) when both
  are sent (the client clock's skew corrected); else receivedAt.
"""

from __future__ import annotations

import re
from typing import Any

from collector.contacts import normalize
from collector.identity import Identity
from collector.model import ContactRef, IncomingEvent, Reason
from collector.timeutil import now_us, parse_time_us

MAX_MESSAGE_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NOT_CODE = re.compile(r"[^a-z0-9]+")


def event_name(name: Any) -> Any:
    if not isinstance(name, str):
        return name
    return _NOT_CODE.sub("-", name.strip().lower()).strip("-")[:64] or name


def field_code(key: str) -> str:
    code = _NOT_CODE.sub("_", _CAMEL.sub("_", key).lower()).strip("_")
    return code if code and not code[0].isdigit() else f"_{code}"


def properties(raw: Any) -> Any:
    """Segment properties with our field codes, one level deep (nested values whole)."""
    if not isinstance(raw, dict):
        return raw
    return {field_code(k): v for k, v in raw.items()}


def session_of(anonymous_id: Any) -> str | None:
    """Segment's anonymousId as a session id; namespaced, so it meets no other session."""
    if isinstance(anonymous_id, (str, int)) and not isinstance(anonymous_id, bool):
        text = str(anonymous_id).strip()
        if 0 < len(text) <= 200:
            return f"seg:{text}"
    return None


def _time(message: dict[str, Any], received: int, sent_at: Any) -> tuple[int | None, str | None]:
    try:
        if isinstance(message.get("timestamp"), str):
            return parse_time_us(message["timestamp"]), None
        original, sent = message.get("originalTimestamp"), message.get("sentAt", sent_at)
        if isinstance(original, str) and isinstance(sent, str):
            return received - (parse_time_us(sent) - parse_time_us(original)), None
    except ValueError:
        return None, "timestamp"
    return None, None


def message_event(message: dict[str, Any], raw: str, sent_at: Any = None) -> IncomingEvent:
    """A `track` or `page` message as an IncomingEvent."""
    event = IncomingEvent(door="segment", raw=raw, api_inserted=True)
    kind = message.get("type")
    if kind == "page" or kind == "p":
        props = properties(message.get("properties") or {})
        props = props if isinstance(props, dict) else {}
        title = props.get("title") or message.get("name")
        event.name = "page-view"
        event.params = {**props, **({"title": title} if title else {})}
        if message.get("name"):
            event.params.setdefault("name", message["name"])
    else:
        event.name = event_name(message.get("event"))
        event.params = properties(message.get("properties") or {})
    message_id = message.get("messageId")
    if isinstance(message_id, str) and 0 < len(message_id) <= 128:
        event.id = message_id
    event.timestamp_us, bad = _time(message, now_us(), sent_at)
    if bad:
        event.reasons.append(Reason("invalid_type", bad, "expected an ISO-8601 time"))
    user_id = message.get("userId")
    if isinstance(user_id, (str, int)) and not isinstance(user_id, bool) and str(user_id):
        event.contact = ContactRef("external_id", str(user_id)[:320])
        event.api_verified = True
    event.session_id = session_of(message.get("anonymousId"))
    context = message.get("context")
    event.context = context if isinstance(context, dict) else {}
    return event


async def identify(message: dict[str, Any], contacts: Any, identity: Identity) -> dict[str, Any]:
    """An `identify` (or `alias`): upsert the contact, link and backfill the session."""
    if message.get("type") in ("alias", "a"):
        user_id, session = message.get("userId"), session_of(message.get("previousId"))
        traits: dict[str, Any] = {}
    else:
        user_id, session = message.get("userId"), session_of(message.get("anonymousId"))
        context = message.get("context") if isinstance(message.get("context"), dict) else {}
        # Segment sends `traits`; RudderStack's SDKs send them as `context.traits`
        traits = next(
            (
                t
                for t in (message.get("traits"), context.get("traits"))
                if isinstance(t, dict) and t
            ),
            {},
        )
    if not isinstance(user_id, (str, int)) or isinstance(user_id, bool) or not str(user_id):
        return {"status": "ignored", "message": "no userId: nothing to identify"}
    body: dict[str, Any] = {"external_id": str(user_id)}
    for kind in ("email", "phone"):
        try:
            if traits.get(kind):
                body[kind] = normalize(kind, traits[kind])
        except ValueError:
            pass  # a trait that is no identifier stays an attribute
    attributes = {field_code(k): v for k, v in traits.items() if k not in ("email", "phone")}
    contact = await contacts.upsert({**body, "attributes": attributes})
    backfilled = 0
    if session:
        _, backfilled = await identity.link(session, ContactRef("contact_id", contact["id"]), True)
    return {"status": "identified", "contact_id": contact["id"], "backfilled": backfilled}
