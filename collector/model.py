"""The domain's shapes: definitions, incoming and stored events, failures, keys, contacts."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from collector.jsonwire import compact

FIELD_TYPES = ("text", "boolean", "date", "timestamp", "integer", "decimal", "json")
CATEGORIES = ("transaction", "conversion", "signal")
SCOPES = ("customer", "system")
IDENTIFIERS = ("contact_id", "email", "phone", "external_id")
SCOPES_OF_KEYS = (
    "events:write",
    "events:read",
    "contacts:read",
    "contacts:write",
    "definitions:write",
    "segments:read",
    "scenarios:write",
)
MAX_FIELDS = 100

EVENT_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
FIELD_CODE = re.compile(r"^[a-z_][a-z0-9_]*$")


@dataclass(frozen=True, slots=True)
class Field:
    code: str
    type: str
    label: str = ""
    required: bool = False
    auto_created: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "label": self.label,
            "type": self.type,
            "required": self.required,
            "auto_created": self.auto_created,
        }


@dataclass(frozen=True, slots=True)
class Definition:
    """One version of an event definition."""

    name: str
    title: str
    category: str
    scope: str
    fields: tuple[Field, ...]
    web_tracking: dict[str, Any]
    retention_days: int | None
    version: int
    hidden: bool = False
    by_code: dict[str, Field] = field(init=False, repr=False, compare=False)
    required_codes: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_code", {f.code: f for f in self.fields})
        object.__setattr__(self, "required_codes", tuple(f.code for f in self.fields if f.required))

    def body(self) -> dict[str, Any]:
        """What a version stores: everything but its name, number and visibility."""
        return {
            "title": self.title,
            "category": self.category,
            "scope": self.scope,
            "fields": [f.as_json() for f in self.fields],
            "web_tracking": self.web_tracking,
            "retention_days": self.retention_days,
        }

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, **self.body(), "version": self.version, "hidden": self.hidden}


@dataclass(frozen=True, slots=True)
class Reason:
    """Why an event failed: a stable code, where in the payload, and words for a human."""

    code: str
    path: str
    message: str

    def as_json(self) -> dict[str, str]:
        return {"code": self.code, "path": self.path, "message": self.message}


@dataclass(frozen=True, slots=True)
class ContactRef:
    """How an event names its contact: `kind` is one of IDENTIFIERS."""

    kind: str
    value: str | int


@dataclass(slots=True)
class IncomingEvent:
    """One event as any adapter hands it to the pipeline, whatever door it came in by."""

    door: str  # the adapter that produced it, so a failure can be replayed the same way
    # The item as received, kept whole if it fails: its text, or (when its request was too
    # small for any one item to pass the size limit) the parsed value, serialised only if
    # it fails, so accepted events never pay for it.
    raw: Any

    def payload(self) -> str:
        if isinstance(self.raw, str):
            return self.raw
        return compact(self.raw)

    name: Any = None
    id: str | None = None
    timestamp_us: int | None = None
    contact: ContactRef | None = None
    session: str | None = None
    params: Any = None
    context: dict[str, Any] = field(default_factory=dict)
    default_source: str = "api"
    api_inserted: bool = False
    api_verified: bool = False
    reasons: list[Reason] = field(default_factory=list)  # found while reading the wire shape
    failed_id: str | None = None  # set when this is a replay of a stored failure
    attributes: dict[str, Any] = field(default_factory=dict)  # contact fields to set
    session_id: str | None = None  # a session id vouched for by a secret key (Segment)
    contact_must_exist: bool = False  # an unknown identifier is not a new contact


@dataclass(slots=True)
class NewEvent:
    """A validated event on its way to the writer."""

    id: str
    event: str
    ts: int
    received_at: int
    contact: ContactRef | None
    session_id: str | None
    params: dict[str, Any]
    context: dict[str, Any]
    version: int
    source: str | None
    api_inserted: bool
    api_verified: bool
    failed_id: str | None = None
    key_name: str = ""  # the key it came with, for the live debugger
    outbox: list[OutboxItem] = field(default_factory=list)  # scenario work it starts
    products: list[dict[str, Any]] = field(default_factory=list)  # catalog records it carries
    keys: dict[str, str] = field(default_factory=dict)  # property key paths → JSON type
    attributes: dict[str, Any] = field(default_factory=dict)  # contact fields it sets


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """Scenario work an event starts: a delivery, or a fan-out to a system audience."""

    scenario_id: int
    action_index: int
    kind: str  # delivery | fanout


@dataclass(slots=True)
class NewFailure:
    """A rejected event on its way to the writer, kept with every reason."""

    id: str
    received_at: int
    event: str | None
    door: str
    source: dict[str, Any]
    reasons: list[Reason]
    payload: str
    failed_id: str | None = None  # a replay that failed again updates the original
    keys: dict[str, str] = field(default_factory=dict)  # property key paths, for event types


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the writer did with one item: accepted, duplicate or failed."""

    status: str
    id: str
    reasons: tuple[Reason, ...] = ()

    def as_json(self, index: int) -> dict[str, Any]:
        out: dict[str, Any] = {"index": index, "status": self.status, "id": self.id}
        if self.reasons:
            out["errors"] = [r.as_json() for r in self.reasons]
        return out


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: int
    name: str
    kind: str  # server | site
    scopes: frozenset[str]
    allow_read: frozenset[str]
    allow_write: frozenset[str]
    origins: tuple[str, ...] = ()
    require_identity_hash: bool = False
    identity_secret: str | None = None
