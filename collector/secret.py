"""The signing secret: EKEVENTS_SECRET when set, else made on first start and kept in the
database, so every collector process on one database signs alike and the repo holds none."""

from __future__ import annotations

import os
import secrets

from collector.storage import Storage


async def signing_secret(storage: Storage) -> str:
    configured = os.environ.get("EKEVENTS_SECRET")
    if configured:
        return configured
    return await storage.put_setting_if_absent("signing_secret", secrets.token_urlsafe(48))
