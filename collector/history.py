"""Reading what was stored: event search, a contact's timeline, failed events."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from collector.contacts import Contacts
from collector.definitions import Definitions
from collector.errors import BadRequest
from collector.keys import require_identifier
from collector.model import FIELD_CODE, ApiKey
from collector.paging import page_of, parse_cursor, parse_limit
from collector.storage import EventQuery, FailedQuery, Storage
from collector.timeutil import parse_time_us
from collector.validation import coerce


def _time(query: Mapping[str, str], name: str) -> int | None:
    text = query.get(name)
    if not text:
        return None
    try:
        return parse_time_us(text)
    except ValueError:
        raise BadRequest(
            f"{name} is an ISO-8601 time such as 2026-11-24T10:00:00Z", code="invalid_query"
        ) from None


class History:
    def __init__(self, storage: Storage, definitions: Definitions, contacts: Contacts) -> None:
        self.storage = storage
        self.definitions = definitions
        self.contacts = contacts

    async def search(self, query: Mapping[str, str], key: ApiKey) -> dict[str, Any]:
        """`GET /api/v1/events`: newest first."""
        q = EventQuery(
            event=query.get("event") or None,
            since_us=_time(query, "since"),
            until_us=_time(query, "until"),
            limit=parse_limit(query) + 1,
            after=parse_cursor(query),
        )
        for kind in ("contact_id", "email", "phone", "external_id"):
            if query.get(kind):
                require_identifier(key, kind, write=False)
                contact = await self.contacts.find(kind, query[kind])
                if contact is None or (q.contact_id not in (None, contact["id"])):
                    return {"events": [], "next": None}
                q.contact_id = contact["id"]
        for name, value in query.items():
            if name.startswith("param."):
                q.params.append(self._param_filter(name.removeprefix("param."), value, q.event))
        rows, cursor = page_of(await self.storage.search_events(q), q.limit - 1)
        return {"events": rows, "next": cursor}

    async def timeline(
        self, contact_id: Any, query: Mapping[str, str], key: ApiKey
    ) -> dict[str, Any]:
        """`GET /api/v1/contacts/{id}/events`: the contact's history, oldest first."""
        require_identifier(key, "contact_id", write=False)
        contact = await self.contacts.get(contact_id)
        q = EventQuery(
            contact_id=contact["id"],
            limit=parse_limit(query) + 1,
            after=parse_cursor(query),
            oldest_first=True,
        )
        rows, cursor = page_of(await self.storage.search_events(q), q.limit - 1)
        return {"events": rows, "next": cursor}

    async def failed(self, query: Mapping[str, str]) -> dict[str, Any]:
        q = FailedQuery(
            reason=query.get("reason") or None,
            event=query.get("event") or None,
            since_us=_time(query, "since"),
            until_us=_time(query, "until"),
            limit=parse_limit(query) + 1,
            after=parse_cursor(query),
        )
        rows, cursor = page_of(await self.storage.search_failed(q), q.limit - 1)
        for row in rows:
            row.pop("door", None)
        return {"failed_events": rows, "next": cursor}

    def _param_filter(self, code: str, value: str, event: str | None) -> tuple[str, Any]:
        """A `param.<code>=value` filter, the value typed as the field is (text otherwise)."""
        if not FIELD_CODE.fullmatch(code):
            raise BadRequest(
                f"param.{code}: parameter names match ^[a-z_][a-z0-9_]*$", code="invalid_query"
            )
        candidates = [self.definitions.current(event)] if event else self.definitions.all_current()
        for definition in candidates:
            field = definition.by_code.get(code) if definition else None
            if field is not None and field.type != "json":
                try:
                    return code, coerce(field.type, value)
                except ValueError:
                    raise BadRequest(
                        f"param.{code} must be a {field.type}", code="invalid_query"
                    ) from None
        return code, value
