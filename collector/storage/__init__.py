"""One storage interface for every backend.

Services talk to a `Storage`; only the backends (`sqlite.py`, later `postgres.py`) hold
SQL. `open_storage` picks the backend from the database URL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from collector.model import ApiKey, ContactRef, Definition, NewEvent, NewFailure, Outcome

if TYPE_CHECKING:
    from collector.segments import Group


@dataclass(frozen=True, slots=True)
class Page:
    """Where a list continues: the sort key of the last row handed out."""

    key: int
    seq: int


@dataclass(slots=True)
class EventQuery:
    event: str | None = None
    contact_id: int | None = None
    since_us: int | None = None
    until_us: int | None = None
    params: list[tuple[str, Any]] = field(default_factory=list)  # (code, typed value)
    limit: int = 50
    after: Page | None = None
    oldest_first: bool = False


@dataclass(slots=True)
class FailedQuery:
    reason: str | None = None
    event: str | None = None
    since_us: int | None = None
    until_us: int | None = None
    limit: int = 50
    after: Page | None = None


class Storage(Protocol):
    async def open(self) -> None: ...
    async def close(self) -> None: ...

    # settings
    async def get_setting(self, key: str) -> str | None: ...
    async def put_setting_if_absent(self, key: str, value: str) -> str: ...

    # users and keys
    async def create_user(self, email: str, password_hash: str) -> int: ...
    async def user_by_email(self, email: str) -> dict[str, Any] | None: ...
    async def create_key(self, key: ApiKey, key_hash: str, prefix: str) -> int: ...
    async def key_by_hash(self, key_hash: str) -> ApiKey | None: ...
    async def list_keys(self) -> list[dict[str, Any]]: ...
    async def revoke_key(self, key_id: int) -> bool: ...
    async def user_by_id(self, user_id: int) -> dict[str, Any] | None: ...

    # definitions
    async def list_definitions(self, include_hidden: bool) -> list[Definition]: ...
    async def get_definition(self, name: str, version: int | None = None) -> Definition | None: ...
    async def save_definition(self, definition: Definition, expected_version: int) -> bool: ...
    async def hide_definition(self, name: str) -> bool: ...
    async def definitions_stamp(self) -> tuple[int, int]: ...
    async def definition_versions(self, name: str) -> list[tuple[int, int]]: ...

    # the write path
    async def write_batch(self, items: list[NewEvent | NewFailure]) -> list[Outcome]: ...

    async def identify(
        self, session_id: str, ref: ContactRef, verified: bool
    ) -> tuple[int, int] | None: ...

    # reads
    async def search_events(self, query: EventQuery) -> list[dict[str, Any]]: ...
    async def search_failed(self, query: FailedQuery) -> list[dict[str, Any]]: ...
    async def failed_by_ids(self, ids: list[str]) -> list[dict[str, Any]]: ...
    async def get_event(self, event_id: str) -> dict[str, Any] | None: ...
    async def event_counts(self) -> dict[str, int]: ...
    async def event_volume(
        self, event: str | None, since_us: int, bucket_us: int
    ) -> list[tuple[int, str, int]]: ...

    # contacts
    async def existing_contact_ids(self, ids: list[int]) -> set[int]: ...
    async def segment_contacts(
        self, tree: Group, limit: int, after_id: int | None
    ) -> tuple[int, list[dict[str, Any]]]: ...
    async def explain_segment(self, tree: Group) -> list[str]: ...
    async def save_segment(self, name: str, rules: Any) -> dict[str, Any]: ...
    async def get_segment(self, segment_id: int) -> dict[str, Any] | None: ...
    async def list_segments(self) -> list[dict[str, Any]]: ...
    async def search_contacts(
        self, text: str | None, limit: int, after: Page | None
    ) -> list[dict[str, Any]]: ...
    async def find_contact(self, kind: str, value: str | int) -> dict[str, Any] | None: ...
    async def upsert_contact(
        self, identifiers: dict[str, str], attributes: dict[str, Any]
    ) -> dict[str, Any]: ...


def open_storage(url: str) -> Storage:
    """A backend for `sqlite:///relative.db`, `sqlite:////absolute.db` or `postgresql://…`."""
    if url.startswith("sqlite:///"):
        from collector.storage.sqlite import SQLiteStorage

        return SQLiteStorage(url.removeprefix("sqlite:///"))
    if url.startswith(("postgresql://", "postgres://")):
        raise NotImplementedError("the PostgreSQL backend is not built yet (issue 7)")
    raise ValueError(f"unsupported database URL {url!r}: use sqlite:///path or postgresql://…")
