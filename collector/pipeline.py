"""The one way through for every event: authorize → resolve identity → validate → write.

Adapters hand over `IncomingEvent`s; the pipeline decides what each one is (an accepted
event, or a failure with every reason) and gives the lot to the writer in one job, so a
request is answered once all of its events are committed.
"""

from __future__ import annotations

import json
from typing import Any

from collector.adapters import read_again
from collector.definitions import Definitions
from collector.ecommerce import check_products, key_paths, products_in
from collector.ids import new_id
from collector.keys import require_identifier
from collector.model import (
    ApiKey,
    ContactRef,
    IncomingEvent,
    NewEvent,
    NewFailure,
    Outcome,
    Reason,
)
from collector.scenarios import Scenarios
from collector.sessions import SessionSigner
from collector.storage import Storage
from collector.timeutil import now_us
from collector.validation import check_params
from collector.writer import Writer

MAX_EVENT_BYTES = 32 * 1024


class Pipeline:
    def __init__(
        self,
        storage: Storage,
        definitions: Definitions,
        writer: Writer,
        sessions: SessionSigner,
        scenarios: Scenarios | None = None,
    ) -> None:
        self.storage = storage
        self.definitions = definitions
        self.writer = writer
        self.sessions = sessions
        self.scenarios = scenarios

    async def run(
        self, events: list[IncomingEvent], key: ApiKey, source: dict[str, Any]
    ) -> list[Outcome]:
        """Outcomes for `events`, in order, after they are committed.

        A key that may not write by an identifier some event uses is refused as a whole
        (403, nothing stored): the request is wrong, not the events.
        """
        for event in events:
            if event.contact is not None:
                kind = event.contact.kind
                require_identifier(key, "external_id" if kind == "visitor_id" else kind, write=True)
        await self._existing_contacts_only(events)
        await self._check_attributes(events)
        wanted = [
            int(e.contact.value) for e in events if e.contact and e.contact.kind == "contact_id"
        ]
        known = await self.storage.existing_contact_ids(wanted) if wanted else set()
        received = now_us()
        items = [await self._decide(e, received, source, known) for e in events]
        return await self.writer.write(items)

    async def _existing_contacts_only(self, events: list[IncomingEvent]) -> None:
        """For doors where an identifier must name a known contact (enKod, MSG91): point
        the event at that contact; otherwise keep it on its session if it has one, or
        fail it with `unknown_contact`."""
        strict = [e for e in events if e.contact is not None and e.contact_must_exist]
        if not strict:
            return
        found: dict[tuple[str, Any], int] = {}
        for kind in ("contact_id", "email", "phone", "external_id"):
            values = [e.contact.value for e in strict if e.contact and e.contact.kind == kind]
            if kind == "contact_id":  # a visitor_id is a contact id, else an external id
                values += [
                    int(e.contact.value)
                    for e in strict
                    if e.contact
                    and e.contact.kind == "visitor_id"
                    and str(e.contact.value).isdigit()
                ]
            if kind == "external_id":
                values += [
                    e.contact.value for e in strict if e.contact and e.contact.kind == "visitor_id"
                ]
            if values:
                ids = await self.storage.contact_ids_by(kind, values)
                found.update(((kind, v), i) for v, i in ids.items())
        for e in strict:
            assert e.contact is not None
            ref = e.contact
            if ref.kind == "visitor_id":
                text = str(ref.value)
                contact_id = found.get(("contact_id", int(text))) if text.isdigit() else None
                contact_id = contact_id or found.get(("external_id", text))
            else:
                contact_id = found.get((ref.kind, ref.value))
            if contact_id is not None:
                e.contact = ContactRef("contact_id", contact_id)
            elif e.session is not None or e.session_id is not None:
                e.contact = None  # kept on the session; joins the contact once identified
            else:
                e.reasons.append(
                    Reason("unknown_contact", ref.kind, f"no contact with {ref.kind} {ref.value}")
                )
                e.contact = None

    async def _check_attributes(self, events: list[IncomingEvent]) -> None:
        """Contact fields an event sets must exist; one that does not fails it whole."""
        if not any(e.attributes for e in events):
            return
        known = await self.storage.contact_fields()
        for e in events:
            for name in e.attributes:
                if name not in known:
                    e.reasons.append(
                        Reason(
                            "unknown_contact_field",
                            f"custom_{name}",
                            f"there is no contact field {name}; create it first (replayable then)",
                        )
                    )

    async def reject(
        self,
        door: str,
        raw: str,
        reason: Reason,
        source: dict[str, Any],
        event: str | None = None,
    ) -> None:
        """Keep what could not become an event at all (a malformed or too large body, a
        refused identify) as a failed event."""
        failure = NewFailure(
            id=new_id(),
            received_at=now_us(),
            event=event,
            door=door,
            source=source,
            reasons=[reason],
            payload=raw,
        )
        await self.writer.write([failure])

    async def replay(
        self, ids: list[str], key: ApiKey, source: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Run stored failures through the pipeline again; those that pass leave the list."""
        rows = {row["id"]: row for row in await self.storage.failed_by_ids(ids)}
        results: dict[str, dict[str, Any]] = {}
        events: list[IncomingEvent] = []
        for failed_id in dict.fromkeys(ids):
            row = rows.get(failed_id)
            if row is None:
                results[failed_id] = {"id": failed_id, "status": "not_found"}
            elif row.get("replayed_at"):
                results[failed_id] = {"id": failed_id, "status": "already_replayed"}
            else:
                payload = row["payload"]
                raw = payload if isinstance(payload, str) else json.dumps(payload)
                event = read_again(row["door"], raw)
                event.failed_id = failed_id
                events.append(event)
        for event, outcome in zip(events, await self.run(events, key, source), strict=True):
            result: dict[str, Any] = {"id": event.failed_id, "status": outcome.status}
            if outcome.status == "failed":
                result["errors"] = [r.as_json() for r in outcome.reasons]
            else:
                result["event_id"] = outcome.id
            results[event.failed_id] = result  # type: ignore[index]
        return [results[i] for i in dict.fromkeys(ids)]

    async def _decide(
        self, e: IncomingEvent, received: int, source: dict[str, Any], known: set[int]
    ) -> NewEvent | NewFailure:
        reasons = list(e.reasons)
        if isinstance(e.raw, str) and len(e.raw.encode()) > MAX_EVENT_BYTES:
            reasons.append(
                Reason("payload_too_large", "", f"an event is at most {MAX_EVENT_BYTES} bytes")
            )
        name, definition = e.name, None
        if not isinstance(name, str) or not name:
            reasons.append(Reason("missing_required", "event", "an event name is required"))
        elif name.startswith("$"):
            reasons.append(Reason("unknown_event", "event", f"{name} is a command, not an event"))
        else:
            definition = self.definitions.current(name)
            if definition is None:
                reasons.append(
                    Reason("unknown_event", "event", f"no event definition named {name}")
                )
            elif definition.hidden:
                reasons.append(Reason("hidden_event", "event", f"{name} is hidden"))
                definition = None

        params = e.params if e.params is not None else {}
        if not isinstance(params, dict):
            reasons.append(Reason("invalid_type", "params", "params is a JSON object"))
            params = {}
        if params.get("source") is None:
            params = {**params, "source": e.default_source}

        session_id = e.session_id
        if e.session is not None:
            session_id = self.sessions.read(e.session)
            if session_id is None:
                reasons.append(
                    Reason("invalid_session", "session", "the session token is not valid")
                )

        contact = e.contact
        if contact and contact.kind == "contact_id" and contact.value not in known:
            reasons.append(
                Reason("unknown_contact", "contact.id", f"no contact with id {contact.value}")
            )
        checked = None
        if definition is not None:
            if definition.scope == "system":
                contact, session_id = None, None  # a system event belongs to no contact
            elif (
                contact is None
                and e.session is None
                and e.session_id is None
                and not any(r.code == "unknown_contact" for r in reasons)
            ):
                reasons.append(
                    Reason(
                        "unknown_contact",
                        "contact",
                        "a customer event names a contact (id, email, phone, external_id) "
                        "or a session",
                    )
                )
            checked = check_params(definition, params)
            reasons.extend(checked.reasons)
            reasons.extend(check_products(definition.name, params))
            if not reasons and checked.new_fields:
                # The new fields become a new version; check again against that version
                # (an operator may have defined one of them differently meanwhile).
                definition = await self.definitions.add_fields(name, checked.new_fields)
                if definition is None:
                    reasons.append(Reason("hidden_event", "event", f"{name} is hidden"))
                else:
                    checked = check_params(definition, params)
                    reasons.extend(checked.reasons)
                    if checked.new_fields:
                        reasons.append(
                            Reason("definition_changed", "params", "try again: it changed")
                        )

        if reasons or definition is None or checked is None:
            return NewFailure(
                id=new_id(),
                received_at=received,
                event=name[:200] if isinstance(name, str) else None,
                door=e.door,
                source=source,
                reasons=reasons,
                payload=e.payload(),
                failed_id=e.failed_id,
                keys=key_paths(params) if isinstance(name, str) else {},
            )
        event = NewEvent(
            id=e.id or new_id(),
            event=definition.name,
            ts=e.timestamp_us if e.timestamp_us is not None else received,
            received_at=received,
            contact=contact,
            session_id=session_id,
            params=checked.params,
            context=e.context,
            version=definition.version,
            source=checked.params.get("source"),
            api_inserted=e.api_inserted,
            api_verified=e.api_verified,
            failed_id=e.failed_id,
            key_name=source.get("key", ""),
            products=products_in(definition.name, checked.params),
            keys=key_paths(checked.params),
            attributes=e.attributes,
        )
        if self.scenarios is not None:
            event.outbox = self.scenarios.outbox_for(event, definition.scope)
        return event
