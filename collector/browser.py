"""The browser door: what the tracker posts to the collect endpoint.

A request carries a site key, a session token and a few events. The site key must be
used from one of its origins; the session comes from the signed cookie, else from the
token the tracker kept, else is new. Events go through the one pipeline in order;
an `$identify` among them links the session to the contact once the events before it are
committed, so they are backfilled and the ones after it go straight to the contact.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from collector import jsonwire
from collector.adapters import beacon
from collector.errors import BadRequest, DomainError, Forbidden, RateLimited, Unauthorized
from collector.identity import Identity, read_browser_claims
from collector.jsonwire import compact
from collector.keys import KeyRing
from collector.model import ApiKey, IncomingEvent, Reason
from collector.pipeline import MAX_EVENT_BYTES, Pipeline
from collector.ratelimit import Buckets, retry_after
from collector.sessions import SessionSigner

MAX_BROWSER_EVENTS = 100


@dataclass(frozen=True, slots=True)
class Visit:
    """The facts of one collect request that are not in its body."""

    origin: str | None  # Origin header, else the Referer's origin
    cookie: str | None
    user_agent: str
    ip: str | None
    path: str


@dataclass(frozen=True, slots=True)
class Collected:
    session: str
    results: list[dict[str, Any]]
    origin: str


def cors_headers(origin: str) -> dict[str, str]:
    """What lets a site key's own origin read the collector's answer (with cookies)."""
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Credentials": "true",
        "Access-Control-Expose-Headers": "Retry-After",
        "Vary": "Origin",
    }


class Browser:
    def __init__(
        self,
        keys: KeyRing,
        sessions: SessionSigner,
        pipeline: Pipeline,
        identity: Identity,
        limits: Buckets | None = None,
    ) -> None:
        self.limits = limits or Buckets(0)
        self.keys = keys
        self.sessions = sessions
        self.pipeline = pipeline
        self.identity = identity

    async def site_key(self, token: Any, origin: str | None) -> ApiKey:
        key = await self.keys.lookup(token if isinstance(token, str) else None)
        if key is None or key.kind != "site":
            raise Unauthorized("unknown site key")
        if origin is None or origin not in key.origins:
            raise Forbidden(
                f"origin {origin or '(none)'} is not allowed for this site key",
                code="forbidden_origin",
            )
        return key

    def _throttle(self, site_key: str, ip: str | None) -> None:
        """Per client IP and per site key: N requests a second, bursts of 2N (429 with
        Retry-After, which the tracker waits out before it sends again)."""
        wait = max(self.limits.take(f"ip:{ip}"), self.limits.take(f"key:{site_key}"))
        if wait:
            raise RateLimited(
                "too many requests; slow down", headers={"Retry-After": retry_after(wait)}
            )

    def session_of(self, visit: Visit, sent: Any) -> tuple[str, str]:
        """(session id, token): the cookie's, else the tracker's copy, else a new one.
        A forged or tampered token is no session: a fresh one is issued."""
        for token in (visit.cookie, sent):
            session_id = self.sessions.read(token)
            if session_id is not None:
                return session_id, token  # type: ignore[return-value]
        return self.sessions.new()

    async def collect(self, raw: bytes, visit: Visit) -> Collected:
        try:
            body = jsonwire.loads(jsonwire.decode_body(raw))
        except ValueError as exc:
            raise BadRequest(str(exc), code="malformed_json") from None
        if not isinstance(body, dict) or not isinstance(body.get("e"), list):
            raise BadRequest("send {k: site key, s: session, e: [events]}", code="malformed")
        key = await self.site_key(body.get("k"), visit.origin)
        try:
            return await self._collect(body, key, raw, visit)
        except DomainError as exc:
            # The origin is one of this key's: let its tracker read the error (a 4xx is
            # dropped, a 429 waited out). Other origins never get CORS headers.
            exc.headers.update(cors_headers(visit.origin or ""))
            raise

    async def _collect(
        self, body: dict[str, Any], key: ApiKey, raw: bytes, visit: Visit
    ) -> Collected:
        self._throttle(body["k"], visit.ip)
        items = body["e"]
        if len(items) > MAX_BROWSER_EVENTS:
            raise BadRequest(
                f"at most {MAX_BROWSER_EVENTS} events per request", code="too_many_events"
            )
        session_id, token = self.session_of(visit, body.get("s"))
        source = {"endpoint": visit.path, "key": key.name}
        request_facts = {"s": token, "st": body.get("st"), "ua": visit.user_agent, "ip": visit.ip}

        results: list[dict[str, Any]] = []
        pending: list[IncomingEvent] = []
        large = len(raw) > MAX_EVENT_BYTES

        async def send_pending() -> None:
            outcomes = await self.pipeline.run(pending, key, source)
            results.extend({"status": o.status, "id": o.id} for o in outcomes)
            pending.clear()

        for item in items:
            merged = {**item, **request_facts} if isinstance(item, dict) else item
            raw_item = compact(merged) if large else merged  # see IncomingEvent.raw
            if isinstance(item, dict) and item.get("n") == "$identify":
                await send_pending()  # what came before is committed, so it is backfilled
                results.append(await self._identify(item, raw_item, key, session_id, source))
                continue
            event = beacon(merged, raw_item)
            if isinstance(item, dict):
                claim = read_browser_claims(key, item.get("u"))
                event.contact, event.api_verified = claim.ref, claim.verified
            pending.append(event)
        await send_pending()
        return Collected(token, results, visit.origin or "")

    async def _identify(
        self, item: dict[str, Any], raw: Any, key: ApiKey, session_id: str, source: dict[str, Any]
    ) -> dict[str, Any]:
        claim = read_browser_claims(key, item.get("u"))
        problem = claim.refused
        if claim.ref is not None:
            try:
                await self.identity.link(session_id, claim.ref, claim.verified)
                return {"status": "identified", "verified": claim.verified}
            except DomainError as exc:
                problem = exc.message
        problem = problem or "$identify names no email, phone, contact_id or external_id"
        # Refused: the events stay on the session, and the attempt is kept for debugging.
        reason = Reason("identity_refused", "u", problem)
        text = raw if isinstance(raw, str) else compact(raw)
        await self.pipeline.reject("web", text, reason, source, event="$identify")
        return {"status": "refused", "message": problem}
