"""The OpenAPI 3.1 document of the HTTP API, served at /api/v1/openapi.json.

Written by hand from the contracts (DESIGN.md) so it says what clients may rely on; a
schemathesis test fuzzes the running server against it."""

from __future__ import annotations

from typing import Any

_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        }
    },
}
_ANY_OBJECT = {"type": "object", "additionalProperties": True}
_CONTACT_REF = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "email": {"type": "string"},
        "phone": {"type": "string"},
        "external_id": {"type": "string"},
    },
}
_EVENT = {
    "type": "object",
    "properties": {
        "event": {"type": "string"},
        "id": {"type": "string"},
        "timestamp": {"type": "string"},
        "contact": _CONTACT_REF,
        "session": {"type": "string"},
        "params": _ANY_OBJECT,
        "context": _ANY_OBJECT,
    },
}
_FIELD = {
    "type": "object",
    "required": ["code"],
    "properties": {
        "code": {"type": "string"},
        "label": {"type": "string"},
        "type": {"enum": ["text", "boolean", "date", "timestamp", "integer", "decimal", "json"]},
        "required": {"type": "boolean"},
    },
}
_DEFINITION = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string"},
        "title": {"type": "string"},
        "category": {"enum": ["transaction", "conversion", "signal"]},
        "scope": {"enum": ["customer", "system"]},
        "fields": {"type": "array", "items": _FIELD},
        "web_tracking": _ANY_OBJECT,
        "retention_days": {"type": ["integer", "null"]},
    },
}
_RULES = {
    "type": "object",
    "properties": {
        "match": {"enum": ["all", "any"]},
        "conditions": {"type": "array", "items": _ANY_OBJECT},
    },
}


def _op(
    summary: str,
    body: Any = None,
    params: list[dict] | None = None,
    ok: str = "200",
    extra: tuple[str, ...] = ("400", "401", "403", "404", "422"),
) -> dict:
    op: dict[str, Any] = {
        "summary": summary,
        "responses": {
            ok: {"description": "done", "content": {"application/json": {"schema": _ANY_OBJECT}}},
            **{
                code: {"description": "error", "content": {"application/json": {"schema": _ERROR}}}
                for code in extra
            },
        },
    }
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    if params:
        op["parameters"] = params
    return op


def _q(name: str, schema: dict | None = None) -> dict:
    return {"name": name, "in": "query", "required": False, "schema": schema or {"type": "string"}}


def _p(name: str, schema: dict | None = None) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": schema or {"type": "string"}}


def document() -> dict[str, Any]:
    paging = [_q("limit", {"type": "integer"}), _q("cursor")]
    event_filters = [
        _q("event"),
        _q("contact_id"),
        _q("email"),
        _q("phone"),
        _q("since"),
        _q("until"),
        *paging,
    ]
    return {
        "openapi": "3.1.0",
        "info": {"title": "ekEvents HTTP API", "version": "1"},
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
        "paths": {
            "/api/v1/event-definitions": {
                "get": _op("List definitions", params=[_q("include_hidden")]),
                "post": _op(
                    "Create a definition",
                    _DEFINITION,
                    ok="201",
                    extra=("400", "401", "403", "409", "422"),
                ),
            },
            "/api/v1/event-definitions/{name}": {
                "parameters": [_p("name")],
                "get": _op("One definition", params=[_q("version", {"type": "integer"})]),
                "put": _op(
                    "Edit: a new version",
                    _DEFINITION,
                    extra=("400", "401", "403", "404", "409", "422"),
                ),
            },
            "/api/v1/event-definitions/{name}/hide": {
                "parameters": [_p("name")],
                "post": _op("Hide permanently"),
            },
            "/api/v1/events": {
                "get": _op("Search events", params=event_filters),
                "post": _op(
                    "Send one event or {batch}",
                    {
                        "oneOf": [
                            _EVENT,
                            {
                                "type": "object",
                                "required": ["batch"],
                                "properties": {"batch": {"type": "array", "items": _EVENT}},
                            },
                        ]
                    },
                    extra=("400", "401", "403", "413", "422"),
                ),
            },
            "/api/v1/failed-events": {
                "get": _op(
                    "Failed events",
                    params=[_q("reason"), _q("event"), _q("since"), _q("until"), *paging],
                )
            },
            "/api/v1/failed-events/replay": {
                "post": _op(
                    "Replay failed events",
                    {
                        "type": "object",
                        "required": ["ids"],
                        "properties": {"ids": {"type": "array", "items": {"type": "string"}}},
                    },
                )
            },
            "/api/v1/contacts": {
                "get": _op(
                    "Look a contact up", params=[_q("email"), _q("phone"), _q("external_id")]
                ),
                "post": _op(
                    "Upsert a contact",
                    {
                        "type": "object",
                        "properties": {
                            "email": {"type": "string"},
                            "phone": {"type": "string"},
                            "external_id": {"type": "string"},
                            "attributes": _ANY_OBJECT,
                        },
                    },
                    extra=("400", "401", "403", "409"),
                ),
            },
            "/api/v1/contacts/{id}": {
                "parameters": [_p("id")],
                "get": _op("One contact"),
                "delete": _op("Erase a contact and its events"),
            },
            "/api/v1/contacts/{id}/events": {
                "parameters": [_p("id")],
                "get": _op("A contact's history", params=paging),
            },
            "/api/v1/sessions": {"post": _op("A new anonymous session", ok="201")},
            "/api/v1/identify": {
                "post": _op(
                    "Link a session to a contact",
                    {
                        "type": "object",
                        "properties": {
                            "session": {"type": "string"},
                            "email": {"type": "string"},
                            "phone": {"type": "string"},
                            "contact_id": {"type": "integer"},
                            "external_id": {"type": "string"},
                        },
                    },
                )
            },
            "/api/v1/event-types": {"get": _op("Event names and keys seen")},
            "/api/v1/products": {"get": _op("The product catalog", params=paging)},
            "/api/v1/segments/preview": {
                "post": _op(
                    "Preview a segment",
                    {"type": "object", "properties": {"rules": _RULES}},
                    params=paging,
                )
            },
            "/api/v1/segments": {
                "get": _op("Saved segments"),
                "post": _op(
                    "Save a segment",
                    {"type": "object", "properties": {"name": {"type": "string"}, "rules": _RULES}},
                    ok="201",
                ),
            },
            "/api/v1/segments/{id}/contacts": {
                "parameters": [_p("id")],
                "get": _op("A segment's contacts", params=paging),
            },
            "/api/v1/audience/query": {
                "post": _op(
                    "A question in plain English",
                    {"type": "object", "properties": {"q": {"type": "string"}}},
                )
            },
            "/api/v1/scenarios": {
                "get": _op("Scenarios"),
                "post": _op("Create a scenario", _ANY_OBJECT, ok="201"),
            },
            "/api/v1/scenarios/{id}/deliveries": {
                "parameters": [_p("id")],
                "get": _op("Webhook deliveries", params=paging),
            },
            "/api/v1/customEvent/save": {
                "post": _op(
                    "enKod-style event",
                    {
                        "type": "object",
                        "properties": {
                            "event": {"type": "string"},
                            "email": {"type": "string"},
                            "phone": {"type": "string"},
                            "session": {"type": "string"},
                            "params": _ANY_OBJECT,
                        },
                    },
                )
            },
            "/api/v1/user-events": {
                "post": _op(
                    "MSG91-style events",
                    {
                        "type": "object",
                        "properties": {"data": {"type": "array", "items": _ANY_OBJECT}},
                    },
                )
            },
            "/api/v1/backend-events": {"post": _op("Squeezely-style event", _ANY_OBJECT)},
        },
    }
