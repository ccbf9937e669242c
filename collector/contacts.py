"""Contacts: identifiers and their normal forms, upserts and look-ups.

An email is kept trimmed and lower-cased; a phone keeps a leading `+` and its digits only
(`+1 (555) 010-2000` → `+15550102000`); an external id is kept as given (trimmed). Two
spellings of one identifier therefore name one contact.
"""

from __future__ import annotations

import re
from typing import Any

from collector.errors import BadRequest, NotFound
from collector.model import ContactRef
from collector.storage import Storage

_PHONE_JUNK = re.compile(r"[\s().\-]")
_MAX_IDENTIFIER = 320


def normalize(kind: str, value: Any) -> str | int:
    """The stored form of an identifier; ValueError with a reason when it is not one."""
    if kind == "contact_id":
        if isinstance(value, bool):
            raise ValueError("a contact id is a positive integer")
        if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 20:
            value = int(value)
        if not isinstance(value, int) or not 1 <= value < 2**63:
            raise ValueError("a contact id is a positive integer")
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool) and kind != "email":
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{kind} is a non-empty string")
    value = value.strip()
    if len(value) > _MAX_IDENTIFIER:
        raise ValueError(f"{kind} is at most {_MAX_IDENTIFIER} characters")
    if kind == "email":
        if "@" not in value:
            raise ValueError("an email contains @")
        return value.lower()
    if kind == "phone":
        digits = _PHONE_JUNK.sub("", value)
        if not re.fullmatch(r"\+?\d{3,20}", digits):
            raise ValueError("a phone is digits, optionally with a leading +")
        return digits
    return value


def contact_ref(source: dict[str, Any], path: str) -> tuple[ContactRef | None, str | None]:
    """The identifier an object names a contact by (`id`/`contact_id`, `external_id`,
    `email`, `phone`, first found), or an error message for its path."""
    for key, kind in (
        ("id", "contact_id"),
        ("contact_id", "contact_id"),
        ("external_id", "external_id"),
        ("email", "email"),
        ("phone", "phone"),
    ):
        value = source.get(key)
        if value is None or value == "":
            continue
        try:
            return ContactRef(kind, normalize(kind, value)), None
        except ValueError as exc:
            return None, f"{path}.{key}: {exc}"
    return None, None


class Contacts:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    async def upsert(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise BadRequest("a contact is a JSON object")
        identifiers: dict[str, str] = {}
        for kind in ("email", "phone", "external_id"):
            if body.get(kind) not in (None, ""):
                try:
                    identifiers[kind] = str(normalize(kind, body[kind]))
                except ValueError as exc:
                    raise BadRequest(str(exc), details=[{"path": kind}]) from None
        if not identifiers:
            raise BadRequest("a contact needs an email, phone or external_id")
        attributes = body.get("attributes", {})
        if not isinstance(attributes, dict):
            raise BadRequest("attributes is a JSON object", details=[{"path": "attributes"}])
        return await self.storage.upsert_contact(identifiers, attributes)

    async def find(self, kind: str, value: Any) -> dict[str, Any] | None:
        try:
            normal = normalize(kind, value)
        except ValueError:
            return None
        return await self.storage.find_contact(kind, normal)

    async def erase(self, contact_id: Any, actor: str) -> dict[str, Any]:
        """The right to be forgotten: everything about the contact goes; an audit row with
        counts (no personal data) stays."""
        contact = await self.get(contact_id)
        counts = await self.storage.erase_contact(contact["id"], actor)
        if counts is None:
            raise NotFound(f"no contact with id {contact_id}")
        return {"erased": contact["id"], "counts": counts}

    async def get(self, contact_id: Any) -> dict[str, Any]:
        contact = await self.find("contact_id", contact_id)
        if contact is None:
            raise NotFound(f"no contact with id {contact_id}")
        return contact
