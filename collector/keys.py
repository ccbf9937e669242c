"""API keys: making them, storing only their hashes, and checking them on requests.

Server keys (`ek_sk_…`) are secret and carry scopes and per-identifier read/write rights.
Site keys (`ek_pk_…`) are public, write-only and bound to origins. Keys have 192 random
bits, so a plain SHA-256 is enough to store them: there is nothing to brute-force, and the
look-up by hash never compares secrets byte by byte.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from urllib.parse import urlsplit

from collector.errors import BadRequest, Forbidden, Unauthorized
from collector.model import IDENTIFIERS, SCOPES_OF_KEYS, ApiKey
from collector.storage import Storage

_PREFIX = {"server": "ek_sk_", "site": "ek_pk_"}
_CACHE_SECONDS = 10.0


def origin_of(url: str | None) -> str | None:
    """`scheme://host[:port]` of a URL, lower-cased; None when it has none."""
    if not url:
        return None
    parts = urlsplit(url.strip())
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def hash_key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def parse_list(text: str | None, allowed: tuple[str, ...], what: str) -> frozenset[str]:
    """A comma list such as `email,phone`; None means all of `allowed`."""
    if text is None:
        return frozenset(allowed)
    items = frozenset(part.strip() for part in text.split(",") if part.strip())
    unknown = items - set(allowed)
    if unknown:
        raise BadRequest(f"unknown {what}: {', '.join(sorted(unknown))}; use {', '.join(allowed)}")
    return items


async def create_key(
    storage: Storage,
    *,
    name: str,
    kind: str,
    origins: tuple[str, ...] = (),
    scopes: str | None = None,
    allow_read: str | None = None,
    allow_write: str | None = None,
    require_identity_hash: bool = False,
) -> str:
    """Store a new key and return it; it is never shown again."""
    if kind not in _PREFIX:
        raise BadRequest("kind is server or site")
    if kind == "site":
        allowed = tuple(origin_of(o) for o in origins)
        if not allowed or None in allowed:
            raise BadRequest("a site key needs --origin URL(s) such as https://shop.example")
        key = ApiKey(
            id=0,
            name=name,
            kind="site",
            scopes=frozenset({"events:write"}),
            allow_read=frozenset(),
            allow_write=frozenset(IDENTIFIERS),
            origins=allowed,  # type: ignore[arg-type]
            require_identity_hash=require_identity_hash,
            identity_secret=secrets.token_hex(32),
        )
    else:
        key = ApiKey(
            id=0,
            name=name,
            kind="server",
            scopes=parse_list(scopes, SCOPES_OF_KEYS, "scopes"),
            allow_read=parse_list(allow_read, IDENTIFIERS, "identifiers"),
            allow_write=parse_list(allow_write, IDENTIFIERS, "identifiers"),
        )
    token = _PREFIX[kind] + secrets.token_urlsafe(24)
    await storage.create_key(key, hash_key(token), token[:10])
    return token


class KeyRing:
    """Checks presented keys; remembers good ones briefly so hot paths skip the database.

    A key made by the CLI while the server runs works at once: misses always ask storage.
    """

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self._cache: dict[str, tuple[float, ApiKey]] = {}

    async def lookup(self, token: str | None) -> ApiKey | None:
        if not token:
            return None
        digest = hash_key(token)
        hit = self._cache.get(digest)
        now = time.monotonic()
        if hit and now - hit[0] < _CACHE_SECONDS:
            return hit[1]
        key = await self.storage.key_by_hash(digest)
        if key is not None:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = (now, key)
        return key

    def forget(self) -> None:
        """Drop remembered keys, so a revocation takes effect at once in this process."""
        self._cache.clear()

    async def server_key(self, token: str | None, scope: str) -> ApiKey:
        """The server key behind `token` if it holds `scope`; 401 or 403 otherwise."""
        key = await self.lookup(token)
        if key is None or key.kind != "server":
            raise Unauthorized("a valid server key is required (Authorization: Bearer <key>)")
        require_scope(key, scope)
        return key


def require_scope(key: ApiKey, scope: str) -> None:
    if scope not in key.scopes:
        raise Forbidden(f"this key lacks the {scope} scope")


def require_identifier(key: ApiKey, identifier: str, *, write: bool) -> None:
    rights = key.allow_write if write else key.allow_read
    if identifier not in rights:
        verb = "write" if write else "read"
        raise Forbidden(f"this key may not {verb} contacts by {identifier}")


# What a signed-in UI user acts as: every scope and every identifier right.
UI_PRINCIPAL = ApiKey(
    id=0,
    name="ui",
    kind="server",
    scopes=frozenset(SCOPES_OF_KEYS),
    allow_read=frozenset(IDENTIFIERS),
    allow_write=frozenset(IDENTIFIERS),
)
