"""Identity: linking a session to a contact, backfilling its history, verifying hashes.

When a visitor is identified, the session is linked to the contact and every anonymous
event of that session joins the contact's history (original times and order kept);
later events of the session go straight to the contact. A session already linked to
someone else is re-linked for what comes next, but never merged: their events stay theirs.

A site may require identity verification: `hash = hex(HMAC-SHA256(identity secret,
identifier))`, computed by the site's backend, where the identifier is the one sent
(email, else phone, else external_id, else contact_id) exactly as sent.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from collector.contacts import contact_ref
from collector.errors import BadRequest, NotFound
from collector.keys import require_identifier
from collector.model import ApiKey, ContactRef
from collector.sessions import SessionSigner
from collector.storage import Storage

_HASHED_ORDER = ("email", "phone", "external_id", "contact_id")


def identity_hash(secret: str, identifier: str) -> str:
    return hmac.new(secret.encode(), identifier.encode(), hashlib.sha256).hexdigest()


def hash_is_valid(key: ApiKey, claims: dict[str, Any]) -> bool:
    """Whether `claims` carry a hash the site's identity secret vouches for."""
    given = claims.get("hash")
    if not key.identity_secret or not isinstance(given, str):
        return False
    for name in _HASHED_ORDER:
        value = claims.get(name)
        if value not in (None, ""):
            expected = identity_hash(key.identity_secret, str(value))
            return hmac.compare_digest(expected, given.lower())
    return False


@dataclass(frozen=True, slots=True)
class BrowserIdentity:
    """Who a browser says it is, and whether we may believe it."""

    ref: ContactRef | None
    verified: bool
    refused: str | None = None  # why a claim was not accepted


def read_browser_claims(key: ApiKey, claims: Any) -> BrowserIdentity:
    """The contact a browser names (`{email?, phone?, contact_id?, external_id?, hash?}`).

    Sites that require verification only get the claim with a valid hash; otherwise the
    claim is refused and the event stays on the session.
    """
    if not isinstance(claims, dict) or not claims:
        return BrowserIdentity(None, False)
    ref, problem = contact_ref(claims, "identity")
    if problem:
        return BrowserIdentity(None, False, problem)
    if ref is None:
        return BrowserIdentity(None, False)
    verified = hash_is_valid(key, claims)
    if key.require_identity_hash and not verified:
        return BrowserIdentity(None, False, "this site requires a valid identity hash")
    return BrowserIdentity(ref, verified)


class Identity:
    def __init__(self, storage: Storage, sessions: SessionSigner) -> None:
        self.storage = storage
        self.sessions = sessions

    async def link(self, session_id: str, ref: ContactRef, verified: bool) -> tuple[int, int]:
        """(contact id, events backfilled); NotFound for a contact id that does not exist."""
        linked = await self.storage.identify(session_id, ref, verified)
        if linked is None:
            raise NotFound(f"no contact with id {ref.value}")
        return linked

    async def identify_api(self, body: Any, key: ApiKey) -> dict[str, Any]:
        """`POST /api/v1/identify` with a server key: the secret key vouches for it."""
        if not isinstance(body, dict):
            raise BadRequest("send {session, email | phone | contact_id | external_id}")
        session_id = self.sessions.read(body.get("session"))
        if session_id is None:
            raise BadRequest("session is not a valid session token", code="invalid_session")
        ref, problem = contact_ref(body, "")
        if problem or ref is None:
            raise BadRequest(problem or "name the contact: email, phone, contact_id or external_id")
        require_identifier(key, ref.kind, write=True)
        contact_id, backfilled = await self.link(session_id, ref, verified=True)
        return {"contact_id": contact_id, "backfilled": backfilled}
