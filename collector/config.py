"""Settings of one collector process, from the command line and the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass

DEFAULT_DB = "sqlite:///ekevents.db"


def default_db_url() -> str:
    return os.environ.get("EKEVENTS_DB") or DEFAULT_DB


@dataclass(frozen=True, slots=True)
class Config:
    db_url: str = DEFAULT_DB
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str | None = None  # where browsers reach the collector, if proxied
    max_request_bytes: int = 512 * 1024
    max_batch_events: int = 500
    writer_max_batch: int = 5000
    rate_limit: float = 100  # collect requests a second per client IP and per site key; 0: off
