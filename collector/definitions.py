"""Event definitions: checking them, versioning every edit, hiding, auto-created fields.

The current version of every definition is cached in memory for the ingestion hot path;
each change goes to storage first (with an optimistic version check) and then to the cache.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import replace
from typing import Any

from collector.errors import Conflict, NotFound, Unprocessable
from collector.model import (
    CATEGORIES,
    EVENT_NAME,
    FIELD_CODE,
    FIELD_TYPES,
    MAX_FIELDS,
    SCOPES,
    Definition,
    Field,
)
from collector.storage import Storage

SOURCE_FIELD = Field(code="source", type="text", label="Source")
RESERVED_NAMES = frozenset({"new"})


class DefinitionError(Unprocessable):
    code = "invalid_definition"


def parse_definition(
    body: Any, *, name: str, version: int, previous: Definition | None = None
) -> Definition:
    """A Definition from an API body, or DefinitionError naming every bad field."""
    problems: list[dict[str, str]] = []

    def bad(path: str, message: str) -> None:
        problems.append({"path": path, "message": message})

    if not isinstance(body, dict):
        raise DefinitionError("a definition is a JSON object")
    if not isinstance(name, str) or not EVENT_NAME.fullmatch(name):
        bad("name", "event names match ^[a-z][a-z0-9_-]{0,63}$")
    elif name in RESERVED_NAMES:
        bad("name", f"{name} is reserved (the UI uses it as a page)")
    title = body.get("title") or name
    if not isinstance(title, str) or len(title) > 200:
        bad("title", "title is text of at most 200 characters")
    category = body.get("category", "signal")
    if category not in CATEGORIES:
        bad("category", f"category is one of {', '.join(CATEGORIES)}")
    scope = body.get("scope", "customer")
    if scope not in SCOPES:
        bad("scope", f"scope is one of {', '.join(SCOPES)}")
    fields = _parse_fields(body.get("fields", []), previous, bad)
    web_tracking = body.get("web_tracking", {"enabled": False, "rules": []})
    if not isinstance(web_tracking, dict) or not isinstance(web_tracking.get("rules", []), list):
        bad("web_tracking", "web_tracking is {enabled, rules: [...]}")
        web_tracking = {}
    retention = body.get("retention_days")
    if retention is not None and (
        isinstance(retention, bool) or not isinstance(retention, int) or retention < 1
    ):
        bad("retention_days", "retention_days is a positive integer or null")
    if problems:
        raise DefinitionError(
            f"invalid definition: {problems[0]['path']}: {problems[0]['message']}",
            details=problems,
        )
    return Definition(
        name=name,
        title=title,
        category=category,
        scope=scope,
        fields=fields,
        web_tracking={
            "enabled": bool(web_tracking.get("enabled", False)),
            "rules": web_tracking.get("rules", []),
        },
        retention_days=retention,
        version=version,
    )


def _parse_fields(raw: Any, previous: Definition | None, bad: Any) -> tuple[Field, ...]:
    if not isinstance(raw, list):
        bad("fields", "fields is a list")
        return (SOURCE_FIELD,)
    fields: list[Field] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        path = f"fields[{i}]"
        if not isinstance(item, dict):
            bad(path, "a field is an object {code, label, type, required}")
            continue
        code, type_ = item.get("code"), item.get("type", "text")
        label, required = item.get("label", ""), item.get("required", False)
        if not isinstance(code, str) or not FIELD_CODE.fullmatch(code):
            bad(f"{path}.code", "field codes match ^[a-z_][a-z0-9_]*$ (no hyphens)")
            continue
        if code in seen:
            bad(f"{path}.code", f"field {code} appears twice")
            continue
        seen.add(code)
        if type_ not in FIELD_TYPES:
            bad(f"{path}.type", f"type is one of {', '.join(FIELD_TYPES)}")
        if code == "source" and type_ != "text":
            bad(f"{path}.type", "the source field is text")
        if not isinstance(label, str) or len(label) > 200:
            bad(f"{path}.label", "label is text of at most 200 characters")
        if not isinstance(required, bool):
            bad(f"{path}.required", "required is true or false")
        before = previous.by_code.get(code) if previous else None
        fields.append(
            Field(
                code=code,
                type=type_,
                label=label if isinstance(label, str) else "",
                required=required is True,
                # an auto-created field stays flagged until someone gives it a label
                auto_created=bool(before and before.auto_created and not label),
            )
        )
    if "source" not in seen:
        fields.insert(0, SOURCE_FIELD)
    if len(fields) > MAX_FIELDS:
        bad("fields", f"at most {MAX_FIELDS} fields, source included ({len(fields)} given)")
    return tuple(fields)


class Definitions:
    """The definitions service: storage for every version, a cache of the current ones."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self._current: dict[str, Definition] = {}
        self._lock = asyncio.Lock()

    async def load(self) -> None:
        self._current = {d.name: d for d in await self.storage.list_definitions(True)}

    async def ensure(self, bodies: list[dict[str, Any]]) -> None:
        """Create the definitions in `bodies` that do not exist yet (hidden ones stay
        hidden, edited ones stay edited)."""
        for body in bodies:
            if body["name"] not in self._current:
                with contextlib.suppress(Conflict):  # another process made it meanwhile
                    await self.create(body)

    def current(self, name: str) -> Definition | None:
        """The current version, hidden ones included; no I/O (ingestion's hot path)."""
        return self._current.get(name)

    def all_current(self) -> list[Definition]:
        return list(self._current.values())

    async def create(self, body: Any) -> Definition:
        name = body.get("name") if isinstance(body, dict) else None
        definition = parse_definition(body, name=name, version=1)
        async with self._lock:
            if not await self.storage.save_definition(definition, expected_version=0):
                raise Conflict(f"event {name} is already defined", code="definition_exists")
            self._current[definition.name] = definition
        return definition

    async def edit(self, name: str, body: Any) -> Definition:
        if isinstance(body, dict) and body.get("name", name) != name:
            raise DefinitionError("a definition cannot be renamed", details=[{"path": "name"}])
        async with self._lock:
            previous = await self._fresh(name)
            definition = parse_definition(
                body, name=name, version=previous.version + 1, previous=previous
            )
            await self._save(definition, previous)
        return definition

    async def add_fields(self, name: str, fields: dict[str, Field]) -> Definition | None:
        """Auto-create (or widen) fields first seen in traffic, as a new version like any
        edit. Fields an operator defined meanwhile win. None when the definition is gone
        or hidden: the event that brought the fields must then fail as hidden."""
        async with self._lock:
            previous = await self.storage.get_definition(name)
            if previous is None or previous.hidden:
                return None
            changes = {}
            for code, field in fields.items():
                now = previous.by_code.get(code)
                widening = now is not None and now.auto_created and now.type == "integer"
                if now is None or (widening and field.type == "decimal"):
                    changes[code] = field
            if changes:
                merged = [changes.pop(f.code, f) for f in previous.fields]
                merged.extend(changes.values())
                fresh = replace(previous, fields=tuple(merged), version=previous.version + 1)
                await self._save(fresh, previous)
                previous = fresh
            self._current[name] = previous
        return previous

    async def watch(self, interval: float = 1.0) -> None:
        """Reload the cache when another process changed a definition (a version check)."""
        stamp = await self.storage.definitions_stamp()
        while True:
            await asyncio.sleep(interval)
            fresh = await self.storage.definitions_stamp()
            if fresh != stamp:
                stamp = fresh
                async with self._lock:
                    await self.load()

    async def hide(self, name: str) -> Definition:
        async with self._lock:
            if not await self.storage.hide_definition(name):
                raise NotFound(f"no event definition named {name}")
            hidden = replace(await self._fresh(name, allow_hidden=True), hidden=True)
            self._current[name] = hidden
        return hidden

    async def list(self, include_hidden: bool = False) -> list[Definition]:
        return await self.storage.list_definitions(include_hidden)

    async def get(self, name: str, version: int | None = None) -> Definition:
        definition = await self.storage.get_definition(name, version)
        if definition is None:
            suffix = f" at version {version}" if version is not None else ""
            raise NotFound(f"no event definition named {name}{suffix}")
        return definition

    async def _fresh(self, name: str, allow_hidden: bool = False) -> Definition:
        definition = await self.get(name)
        if definition.hidden and not allow_hidden:
            raise Conflict(f"event {name} is hidden; hiding is permanent", code="definition_hidden")
        return definition

    async def _save(self, definition: Definition, previous: Definition) -> None:
        if not await self.storage.save_definition(definition, previous.version):
            raise Conflict(f"event {definition.name} was changed meanwhile; try again")
        self._current[definition.name] = definition
