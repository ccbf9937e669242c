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

    def new(self) -> tuple[str, str]:
        """A fresh session: (id, signed token)."""
        session_id = secrets.token_urlsafe(16)
        return session_id, self._serializer.dumps(session_id)

    def read(self, token: object) -> str | None:
        """The session id inside a genuine token, else None."""
        if not isinstance(token, str) or not token or len(token) > 200:
            return None
        try:
            value = self._serializer.loads(token)
        except BadSignature:
            return None
        return value if isinstance(value, str) else None
