"""UI users: scrypt password hashes (hashlib's, no extra dependency)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from collector.errors import BadRequest
from collector.storage import Storage

_N, _R, _P = 2**14, 8, 1


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    encode = base64.b64encode
    return f"scrypt${_N}${_R}${_P}${encode(salt).decode()}${encode(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if kind != "scrypt":
        return False
    expected = base64.b64decode(digest)
    actual = hashlib.scrypt(
        password.encode(),
        salt=base64.b64decode(salt),
        n=int(n),
        r=int(r),
        p=int(p),
        dklen=len(expected),
    )
    return hmac.compare_digest(actual, expected)


async def create_user(storage: Storage, email: str, password: str) -> int:
    """Create a login (or reset the password of an existing one)."""
    email = email.strip().lower()
    if "@" not in email:
        raise BadRequest("a user's email must contain @")
    if len(password) < 8:
        raise BadRequest("a password has at least 8 characters")
    return await storage.create_user(email, hash_password(password))
