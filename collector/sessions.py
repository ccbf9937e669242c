"""Anonymous sessions in signed tokens: the one place that signs and reads them.

A token is an itsdangerous-signed session id. The same token is the `ek_sid` cookie, the
value the tracker keeps, and the `session` of the API. A token that fails its signature
is no session at all: it never names someone else's.
"""

from __future__ import annotations

import secrets

from itsdangerous import BadSignature, URLSafeSerializer


class SessionSigner:
    def __init__(self, secret: str) -> None:
        self._serializer = URLSafeSerializer(secret, salt="ekevents.session")
        # A browser sends its token with every request; checking the signature is the
        # dearest step of a beacon, so genuine tokens are remembered (a bounded cache of
        # verified results: a forged token is never in it).
        self._genuine: dict[str, str] = {}

    def new(self) -> tuple[str, str]:
        """A fresh session: (id, signed token)."""
        session_id = secrets.token_urlsafe(16)
        return session_id, self._serializer.dumps(session_id)

    def read(self, token: object) -> str | None:
        """The session id inside a genuine token, else None."""
        if not isinstance(token, str) or not token or len(token) > 200:
            return None
        known = self._genuine.get(token)
        if known is not None:
            return known
        try:
            value = self._serializer.loads(token)
        except BadSignature:
            return None
        if not isinstance(value, str):
            return None
        if len(self._genuine) >= 100_000:
            self._genuine.clear()
        self._genuine[token] = value
        return value
