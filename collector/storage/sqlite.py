"""The SQLite backend (aiosqlite, WAL).

One connection writes, behind a lock, so writers never meet SQLITE_BUSY inside a process,
and a lock file beside the database orders the write transactions of several processes;
another connection reads, which WAL lets run beside a write. The event writer's batches
run in the write connection's thread as one call each (see sqlite_write).
`synchronous=FULL` makes every commit durable: the group-commit writer pays one fsync per
batch, not per event.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
from collections.abc import Callable, Iterable
from importlib import resources
from typing import IO, Any, TypeVar

import aiosqlite

from collector.errors import Conflict
from collector.jsonwire import compact
from collector.model import ApiKey, ContactRef, Definition, Field, NewEvent, NewFailure, Outcome
from collector.scenarios import Scenario
from collector.segments import Group
from collector.storage import EventQuery, FailedQuery, Page, sqlite_write
from collector.storage.sqlite_segments import group_sql
from collector.storage.sqlite_write import IDENTIFIER_COLUMNS, chunks, marks
from collector.timeutil import format_us, now_us

dumps = compact  # JSON columns are written compact
T = TypeVar("T")


class SQLiteStorage:
    def __init__(self, path: str) -> None:
        self.path = path
        self._w: aiosqlite.Connection | None = None
        self._r: aiosqlite.Connection | None = None
        self._write_lock = asyncio.Lock()  # this process's writers, one at a time
        self._lock_file: IO[Any] | None = None  # every process's write transactions, in turn

    # -- lifecycle -----------------------------------------------------------------------

    async def open(self) -> None:
        self._lock_file = open(f"{self.path}-writelock", "a")  # noqa: SIM115 (closed in close)
        self._w = await self._connect()
        await self._w.execute("PRAGMA journal_mode = WAL")
        await self._migrate()
        self._r = await self._connect()

    async def _connect(self) -> aiosqlite.Connection:
        conn = await aiosqlite.connect(self.path, isolation_level=None)
        conn.row_factory = aiosqlite.Row
        await conn.execute("PRAGMA busy_timeout = 10000")
        await conn.execute("PRAGMA synchronous = FULL")
        await conn.execute("PRAGMA foreign_keys = ON")
        return conn

    async def close(self) -> None:
        for conn in (self._r, self._w):
            if conn is not None:
                await conn.close()
        self._r = self._w = None
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    async def _migrate(self) -> None:
        db = self._w
        assert db is not None
        await db.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)"""
        )
        done = {
            row[0] for row in await db.execute_fetchall("SELECT version FROM schema_migrations")
        }
        folder = resources.files("collector.storage").joinpath("migrations", "sqlite")
        for item in sorted(folder.iterdir(), key=lambda p: p.name):
            if not item.name.endswith(".sql"):
                continue
            version = int(item.name.split("_", 1)[0])
            if version in done:
                continue
            await db.execute("BEGIN IMMEDIATE")
            try:
                # A second process may have applied it while we waited for the lock.
                again = await db.execute_fetchall(
                    "SELECT 1 FROM schema_migrations WHERE version = ?", (version,)
                )
                if not again:
                    for statement in _statements(item.read_text()):
                        await db.execute(statement)
                    await db.execute(
                        """INSERT INTO schema_migrations (version, name, applied_at)
                           VALUES (?, ?, ?)""",
                        (version, item.name, now_us()),
                    )
                await db.execute("COMMIT")
            except BaseException:
                await db.execute("ROLLBACK")
                raise

    # -- settings ------------------------------------------------------------------------

    async def get_setting(self, key: str) -> str | None:
        rows = await self._read("SELECT value FROM settings WHERE key = ?", (key,))
        return rows[0][0] if rows else None

    async def put_setting_if_absent(self, key: str, value: str) -> str:
        async with _Tx(self) as db:
            await db.execute(
                "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
                (key, value),
            )
            rows = await db.execute_fetchall("SELECT value FROM settings WHERE key = ?", (key,))
        return rows[0][0]

    # -- users and keys ------------------------------------------------------------------

    async def create_user(self, email: str, password_hash: str) -> int:
        async with _Tx(self) as db:
            cursor = await db.execute(
                """INSERT INTO users (email, password_hash, created_at) VALUES (?, ?, ?)
                   ON CONFLICT (email) DO UPDATE SET password_hash = excluded.password_hash
                   RETURNING id""",
                (email, password_hash, now_us()),
            )
            row = await cursor.fetchone()
        return int(row[0])

    async def user_by_email(self, email: str) -> dict[str, Any] | None:
        rows = await self._read(
            "SELECT id, email, password_hash FROM users WHERE email = ?", (email,)
        )
        return dict(rows[0]) if rows else None

    async def create_key(self, key: ApiKey, key_hash: str, prefix: str) -> int:
        async with _Tx(self) as db:
            cursor = await db.execute(
                """INSERT INTO api_keys (name, kind, key_hash, key_prefix, scopes, allow_read,
                       allow_write, origins, require_identity_hash, identity_secret, created_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id""",
                (
                    key.name,
                    key.kind,
                    key_hash,
                    prefix,
                    dumps(sorted(key.scopes)),
                    dumps(sorted(key.allow_read)),
                    dumps(sorted(key.allow_write)),
                    dumps(list(key.origins)),
                    int(key.require_identity_hash),
                    key.identity_secret,
                    now_us(),
                ),
            )
            row = await cursor.fetchone()
        return int(row[0])

    async def key_by_hash(self, key_hash: str) -> ApiKey | None:
        rows = await self._read(
            """SELECT id, name, kind, scopes, allow_read, allow_write, origins,
                      require_identity_hash, identity_secret
               FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL""",
            (key_hash,),
        )
        if not rows:
            return None
        row = rows[0]
        return ApiKey(
            id=row["id"],
            name=row["name"],
            kind=row["kind"],
            scopes=frozenset(json.loads(row["scopes"])),
            allow_read=frozenset(json.loads(row["allow_read"])),
            allow_write=frozenset(json.loads(row["allow_write"])),
            origins=tuple(json.loads(row["origins"])),
            require_identity_hash=bool(row["require_identity_hash"]),
            identity_secret=row["identity_secret"],
        )

    async def list_keys(self) -> list[dict[str, Any]]:
        rows = await self._read(
            """SELECT id, name, kind, key_prefix, scopes, allow_read, allow_write, origins,
                      require_identity_hash, created_at, revoked_at
               FROM api_keys ORDER BY revoked_at IS NOT NULL, created_at DESC"""
        )
        return [
            {
                **dict(row),
                **{
                    k: json.loads(row[k])
                    for k in ("scopes", "allow_read", "allow_write", "origins")
                },
                "require_identity_hash": bool(row["require_identity_hash"]),
                "created_at": format_us(row["created_at"]),
                "revoked_at": format_us(row["revoked_at"]),
            }
            for row in rows
        ]

    async def revoke_key(self, key_id: int) -> bool:
        async with _Tx(self) as db:
            cursor = await db.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                (now_us(), key_id),
            )
        return cursor.rowcount == 1

    async def user_by_id(self, user_id: int) -> dict[str, Any] | None:
        rows = await self._read("SELECT id, email FROM users WHERE id = ?", (user_id,))
        return dict(rows[0]) if rows else None

    # -- definitions ---------------------------------------------------------------------

    _DEFINITION_SELECT = """
        SELECT d.name, d.hidden, v.version, v.body
        FROM definitions d JOIN definition_versions v ON v.name = d.name"""

    async def list_definitions(self, include_hidden: bool) -> list[Definition]:
        rows = await self._read(
            self._DEFINITION_SELECT
            + """ WHERE v.version = d.current_version AND (? OR d.hidden = 0)
                  ORDER BY d.name""",
            (int(include_hidden),),
        )
        return [_definition(row) for row in rows]

    async def get_definition(self, name: str, version: int | None = None) -> Definition | None:
        rows = await self._read(
            self._DEFINITION_SELECT
            + " WHERE d.name = ? AND v.version = COALESCE(?, d.current_version)",
            (name, version),
        )
        return _definition(rows[0]) if rows else None

    async def save_definition(self, definition: Definition, expected_version: int) -> bool:
        """Store a new version; False when someone else saved version `expected_version + 1`
        first (or, for a new name, when it exists already)."""
        now = now_us()
        async with _Tx(self) as db:
            if expected_version == 0:
                cursor = await db.execute(
                    """INSERT INTO definitions (name, current_version, created_at, updated_at)
                       VALUES (?, 1, ?, ?) ON CONFLICT (name) DO NOTHING""",
                    (definition.name, now, now),
                )
            else:
                cursor = await db.execute(
                    """UPDATE definitions SET current_version = ?, updated_at = ?
                       WHERE name = ? AND current_version = ? AND hidden = 0""",
                    (definition.version, now, definition.name, expected_version),
                )
            if cursor.rowcount != 1:
                return False
            await db.execute(
                """INSERT INTO definition_versions (name, version, body, created_at)
                   VALUES (?, ?, ?, ?)""",
                (definition.name, definition.version, dumps(definition.body()), now),
            )
        return True

    async def definitions_stamp(self) -> tuple[int, int]:
        rows = await self._read("SELECT count(*), coalesce(max(updated_at), 0) FROM definitions")
        return rows[0][0], rows[0][1]

    async def hide_definition(self, name: str) -> bool:
        async with _Tx(self) as db:
            cursor = await db.execute(
                "UPDATE definitions SET hidden = 1, updated_at = ? WHERE name = ?",
                (now_us(), name),
            )
        return cursor.rowcount == 1

    async def definition_versions(self, name: str) -> list[tuple[int, int]]:
        rows = await self._read(
            "SELECT version, created_at FROM definition_versions WHERE name = ? ORDER BY version",
            (name,),
        )
        return [(row[0], row[1]) for row in rows]

    # -- the write path ------------------------------------------------------------------

    async def write_batch(self, items: list[NewEvent | NewFailure]) -> list[Outcome]:
        """Write a batch in one transaction; one outcome per item, in order."""
        return await self._write_in_thread(sqlite_write.write_batch, items)

    async def identify(
        self, session_id: str, ref: ContactRef, verified: bool
    ) -> tuple[int, int] | None:
        """Link a session to a contact and backfill the session's anonymous events into the
        contact's history; (contact id, events backfilled), or None for an unknown id."""
        return await self._write_in_thread(sqlite_write.identify, session_id, ref, verified)

    async def _write_in_thread(self, work: Callable[..., T], *args: Any) -> T:
        """`work(connection, *args)` as one transaction and one call in the write
        connection's thread, behind the same lock as every other write."""
        async with self._write_lock:
            db = self._w
            assert db is not None, "storage is not open"
            # `_execute` is how aiosqlite's own methods run a call in its thread; here the
            # call is a whole transaction, so a batch costs one hop, not one per statement.
            return await db._execute(
                sqlite_write.in_transaction, db._conn, self._lock_file, work, *args
            )

    # -- reads ---------------------------------------------------------------------------

    async def search_events(self, query: EventQuery) -> list[dict[str, Any]]:
        where, args = [], []
        if query.event is not None:
            where.append("event = ?")
            args.append(query.event)
        if query.contact_id is not None:
            where.append("contact_id = ?")
            args.append(query.contact_id)
        if query.since_us is not None:
            where.append("ts >= ?")
            args.append(query.since_us)
        if query.until_us is not None:
            where.append("ts <= ?")
            args.append(query.until_us)
        for code, value in query.params:
            if isinstance(value, str):
                where.append("CAST(json_extract(params, ?) AS TEXT) = ?")
            else:
                where.append("json_extract(params, ?) = ?")
            args.extend([f'$."{code}"', int(value) if isinstance(value, bool) else value])
        order = "ASC" if query.oldest_first else "DESC"
        if query.after is not None:
            cmp = ">" if query.oldest_first else "<"
            where.append(f"(ts {cmp} ? OR (ts = ? AND seq {cmp} ?))")
            args.extend([query.after.key, query.after.key, query.after.seq])
        sql = f"""SELECT {_EVENT_COLUMNS}
                  FROM events {"WHERE " + " AND ".join(where) if where else ""}
                  ORDER BY ts {order}, seq {order} LIMIT ?"""
        rows = await self._read(sql, (*args, query.limit))
        return [_event_json(row) for row in rows]

    async def search_failed(self, query: FailedQuery) -> list[dict[str, Any]]:
        where, args = ["replayed_at IS NULL"], []
        if query.event is not None:
            where.append("event = ?")
            args.append(query.event)
        if query.reason is not None:
            where.append(
                "EXISTS (SELECT 1 FROM json_each(reasons) WHERE json_extract(value, '$.code') = ?)"
            )
            args.append(query.reason)
        if query.since_us is not None:
            where.append("received_at >= ?")
            args.append(query.since_us)
        if query.until_us is not None:
            where.append("received_at <= ?")
            args.append(query.until_us)
        if query.after is not None:
            where.append("(received_at < ? OR (received_at = ? AND seq < ?))")
            args.extend([query.after.key, query.after.key, query.after.seq])
        rows = await self._read(
            f"""SELECT seq, id, received_at, event, door, source, reasons, payload
                FROM failed_events WHERE {" AND ".join(where)}
                ORDER BY received_at DESC, seq DESC LIMIT ?""",
            (*args, query.limit),
        )
        return [_failed_json(row) for row in rows]

    async def stored_ids(self, ids: list[str]) -> set[str]:
        found: set[str] = set()
        for chunk in chunks(ids):
            rows = await self._read(f"SELECT id FROM events WHERE id IN ({marks(chunk)})", chunk)
            found.update(row[0] for row in rows)
        return found

    async def live_position(self) -> tuple[int, int]:
        rows = await self._read(
            """SELECT (SELECT coalesce(max(seq), 0) FROM events),
                      (SELECT coalesce(max(seq), 0) FROM failed_events)"""
        )
        return rows[0][0], rows[0][1]

    async def live_since(
        self, event_seq: int, failed_seq: int, limit: int = 500
    ) -> tuple[list[dict[str, Any]], int, int]:
        """What any process committed after the given positions, for the live debugger."""
        events = await self._read(
            """SELECT seq, id, event, received_at, key_name, contact_id, session_id, params
               FROM events WHERE seq > ? ORDER BY seq LIMIT ?""",
            (event_seq, limit),
        )
        failed = await self._read(
            """SELECT seq, id, event, received_at, source, reasons FROM failed_events
               WHERE seq > ? ORDER BY seq LIMIT ?""",
            (failed_seq, limit),
        )
        entries = [
            {
                "status": "accepted",
                "id": r["id"],
                "event": r["event"],
                "at": format_us(r["received_at"]),
                "key": r["key_name"] or "",
                "contact_id": r["contact_id"],
                "session": bool(r["session_id"]),
                "params": json.loads(r["params"]),
                "_at": r["received_at"],
            }
            for r in events
        ] + [
            {
                "status": "failed",
                "id": r["id"],
                "event": r["event"],
                "at": format_us(r["received_at"]),
                "key": json.loads(r["source"]).get("key", ""),
                "reasons": json.loads(r["reasons"]),
                "_at": r["received_at"],
            }
            for r in failed
        ]
        entries.sort(key=lambda e: e.pop("_at"))
        return (
            entries,
            events[-1]["seq"] if events else event_seq,
            failed[-1]["seq"] if failed else failed_seq,
        )

    async def get_event(self, event_id: str) -> dict[str, Any] | None:
        rows = await self._read(
            f"""SELECT {_EVENT_COLUMNS} FROM events WHERE id = ?""", (event_id,)
        )
        return _event_json(rows[0]) if rows else None

    async def event_counts(self) -> dict[str, int]:
        rows = await self._read("SELECT event, count(*) FROM events GROUP BY event")
        return {row[0]: row[1] for row in rows}

    async def event_volume(
        self, event: str | None, since_us: int, bucket_us: int
    ) -> list[tuple[int, str, int]]:
        """Events per time bucket since `since_us`: (bucket index, event name, count)."""
        rows = await self._read(
            """SELECT (ts - ?) / ? AS bucket, event, count(*) FROM events
               WHERE ts >= ? AND (? IS NULL OR event = ?)
               GROUP BY bucket, event ORDER BY bucket""",
            (since_us, bucket_us, since_us, event, event),
        )
        return [(row[0], row[1], row[2]) for row in rows]

    async def failed_by_ids(self, ids: list[str]) -> list[dict[str, Any]]:
        found = []
        for chunk in chunks(ids):
            rows = await self._read(
                f"""SELECT seq, id, received_at, event, door, source, reasons, payload, replayed_at
                    FROM failed_events WHERE id IN ({marks(chunk)})""",
                chunk,
            )
            found.extend(_failed_json(row) for row in rows)
        return found

    # -- contacts ------------------------------------------------------------------------

    async def search_contacts(
        self, text: str | None, limit: int, after: Page | None
    ) -> list[dict[str, Any]]:
        """Contacts whose email, phone or external id starts with `text`, newest first."""
        where, args = [], []
        if text:
            prefix = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            where.append(
                "(email LIKE ? ESCAPE '\\' OR phone LIKE ? ESCAPE '\\'"
                " OR external_id LIKE ? ESCAPE '\\')"
            )
            args.extend([prefix.lower(), prefix, prefix])
        if after is not None:
            where.append("id < ?")
            args.append(after.seq)
        rows = await self._read(
            f"""SELECT id, email, phone, external_id, attributes, created_at FROM contacts
                {"WHERE " + " AND ".join(where) if where else ""} ORDER BY id DESC LIMIT ?""",
            (*args, limit),
        )
        return [{**_contact_json(row), "_page": (0, row["id"])} for row in rows]

    async def segment_contacts(
        self, tree: Group, limit: int, after_id: int | None
    ) -> tuple[int, list[dict[str, Any]]]:
        """How many contacts match `tree`, and a page of them by id."""
        sql, args = group_sql(tree)
        # One evaluation of the segment gives the page and, by a window over the rows
        # before LIMIT, the total; only a page past the end needs a second count.
        rows = (
            await self._read(
                f"""WITH seg(id) AS ({sql})
                SELECT id, email, phone, external_id, attributes, created_at,
                       count(*) OVER () AS total
                FROM contacts WHERE id IN (SELECT id FROM seg) ORDER BY id LIMIT ?""",
                (*args, limit),
            )
            if after_id is None
            else []
        )
        if rows:
            return rows[0]["total"], [
                {**_contact_json(row), "_page": (0, row["id"])} for row in rows
            ]
        count = (await self._read(f"WITH seg(id) AS ({sql}) SELECT count(*) FROM seg", args))[0][0]
        rows = (
            await self._read(
                f"""WITH seg(id) AS ({sql})
                SELECT id, email, phone, external_id, attributes, created_at FROM contacts
                WHERE id IN (SELECT id FROM seg) AND id > ? ORDER BY id LIMIT ?""",
                (*args, after_id or 0, limit),
            )
            if count
            else []
        )
        return count, [{**_contact_json(row), "_page": (0, row["id"])} for row in rows]

    async def distinct_param_values(self, event: str, code: str, limit: int = 10_000) -> list[Any]:
        rows = await self._read(
            """SELECT DISTINCT json_extract(params, ?) FROM events
               WHERE event = ? AND json_extract(params, ?) IS NOT NULL LIMIT ?""",
            (f'$."{code}"', event, f'$."{code}"', limit),
        )
        return [row[0] for row in rows]

    async def explain_backfill(self) -> list[str]:
        rows = await self._read(
            """EXPLAIN QUERY PLAN UPDATE events SET contact_id = 1, backfilled = 1
               WHERE session_id = 'x' AND contact_id IS NULL"""
        )
        return [row[3] for row in rows]

    async def explain_segment(self, tree: Group) -> list[str]:
        sql, args = group_sql(tree)
        rows = await self._read(
            f"EXPLAIN QUERY PLAN WITH seg(id) AS ({sql}) SELECT count(*) FROM seg", args
        )
        return [row[3] for row in rows]

    async def save_segment(self, name: str, rules: Any) -> dict[str, Any]:
        async with _Tx(self) as db:
            cursor = await db.execute(
                "INSERT INTO segments (name, rules, created_at) VALUES (?, ?, ?) RETURNING id",
                (name, dumps(rules), now_us()),
            )
            segment_id = (await cursor.fetchone())[0]
        found = await self.get_segment(segment_id)
        assert found is not None
        return found

    async def get_segment(self, segment_id: int) -> dict[str, Any] | None:
        rows = await self._read(
            "SELECT id, name, rules, created_at FROM segments WHERE id = ?", (segment_id,)
        )
        return _segment_json(rows[0]) if rows else None

    async def list_segments(self) -> list[dict[str, Any]]:
        rows = await self._read("SELECT id, name, rules, created_at FROM segments ORDER BY id DESC")
        return [_segment_json(row) for row in rows]

    # -- scenarios and their outbox ------------------------------------------------------

    async def save_scenario(
        self, name: str, enabled: bool, trigger: dict[str, Any], actions: list[dict[str, Any]]
    ) -> Scenario:
        now = now_us()
        async with _Tx(self) as db:
            cursor = await db.execute(
                """INSERT INTO scenarios (name, enabled, trigger, actions, created_at, updated_at)
                   VALUES (?, ?, ?, ?, ?, ?) RETURNING id""",
                (name, int(enabled), dumps(trigger), dumps(actions), now, now),
            )
            scenario_id = (await cursor.fetchone())[0]
        found = await self.get_scenario(scenario_id)
        assert found is not None
        return found

    async def get_scenario(self, scenario_id: int) -> Scenario | None:
        rows = await self._read(
            "SELECT id, name, enabled, trigger, actions FROM scenarios WHERE id = ?",
            (scenario_id,),
        )
        return _scenario(rows[0]) if rows else None

    async def list_scenarios(self) -> list[Scenario]:
        rows = await self._read(
            "SELECT id, name, enabled, trigger, actions FROM scenarios ORDER BY id"
        )
        return [_scenario(row) for row in rows]

    async def set_scenario_enabled(self, scenario_id: int, enabled: bool) -> None:
        async with _Tx(self) as db:
            await db.execute(
                "UPDATE scenarios SET enabled = ?, updated_at = ? WHERE id = ?",
                (int(enabled), now_us(), scenario_id),
            )

    async def scenarios_stamp(self) -> tuple[int, int]:
        rows = await self._read("SELECT count(*), coalesce(max(updated_at), 0) FROM scenarios")
        return rows[0][0], rows[0][1]

    async def lease_due(self, now: int, limit: int, lease_us: int) -> list[dict[str, Any]]:
        """Take up to `limit` due outbox rows for `lease_us`; nobody else takes them meanwhile
        (in SQLite the write lock makes the select-and-update one step)."""
        async with _Tx(self) as db:
            rows = await db.execute_fetchall(
                """UPDATE deliveries SET leased_until = ?
                   WHERE id IN (SELECT id FROM deliveries
                                WHERE status = 'pending' AND next_attempt_at <= ?
                                  AND leased_until <= ?
                                ORDER BY next_attempt_at LIMIT ?)
                   RETURNING id, scenario_id, action_index, kind, event_id, contact_id, attempts""",
                (now + lease_us, now, now, limit),
            )
        return [dict(row) for row in rows]

    async def record_attempt(
        self,
        delivery_id: int,
        *,
        status_code: int | None,
        error: str | None,
        status: str,
        next_attempt_at: int,
        message: str | None,
    ) -> None:
        now = now_us()
        async with _Tx(self) as db:
            await db.execute(
                """INSERT INTO delivery_attempts (delivery_id, at, status_code, error)
                   VALUES (?, ?, ?, ?)""",
                (delivery_id, now, status_code, error),
            )
            await db.execute(
                """UPDATE deliveries SET status = ?, attempts = attempts + 1,
                       next_attempt_at = ?, leased_until = 0, message = ? WHERE id = ?""",
                (status, next_attempt_at, message, delivery_id),
            )

    async def expand_fanout(
        self, fanout_id: int, scenario_id: int, actions: int, event_id: str, contact_ids: list[int]
    ) -> None:
        """Turn a fan-out row into one delivery per audience contact and action, at once."""
        now = now_us()
        async with _Tx(self) as db:
            await db.executemany(
                """INSERT INTO deliveries (scenario_id, action_index, kind, event_id, contact_id,
                       next_attempt_at, created_at)
                   VALUES (?, ?, 'delivery', ?, ?, ?, ?) ON CONFLICT DO NOTHING""",
                [
                    (scenario_id, a, event_id, contact_id, now, now)
                    for contact_id in contact_ids
                    for a in range(actions)
                ],
            )
            await db.execute(
                "UPDATE deliveries SET status = 'done', leased_until = 0 WHERE id = ?",
                (fanout_id,),
            )

    async def list_deliveries(self, scenario_id: int, limit: int) -> list[dict[str, Any]]:
        rows = await self._read(
            """SELECT id, event_id, contact_id, status, message FROM deliveries
               WHERE scenario_id = ? AND kind = 'delivery' ORDER BY id DESC LIMIT ?""",
            (scenario_id, limit),
        )
        found = [dict(row) for row in rows]
        by_id = {d["id"]: d for d in found}
        for d in found:
            d["attempts"] = []
        for chunk in chunks(list(by_id)):
            attempts = await self._read(
                f"""SELECT delivery_id, at, status_code, error FROM delivery_attempts
                    WHERE delivery_id IN ({marks(chunk)}) ORDER BY id""",
                chunk,
            )
            for a in attempts:
                by_id[a["delivery_id"]]["attempts"].append(
                    {"at": format_us(a["at"]), "status_code": a["status_code"], "error": a["error"]}
                )
        return found

    async def list_products(self, limit: int, after: str | None) -> list[dict[str, Any]]:
        rows = await self._read(
            """SELECT product_id, name, price, category, brand, url, image_url, first_seen,
                      last_seen FROM products WHERE product_id > ? ORDER BY product_id LIMIT ?""",
            (after or "", limit),
        )
        products = [dict(row) for row in rows]
        by_id = {p["product_id"]: p for p in products}
        for p in products:
            p["variants"] = []
            p["first_seen"], p["last_seen"] = format_us(p["first_seen"]), format_us(p["last_seen"])
        for chunk in chunks(list(by_id)):
            rows = await self._read(
                f"""SELECT product_id, variant_id, variant, sku FROM product_variants
                    WHERE product_id IN ({marks(chunk)}) ORDER BY variant_id""",
                chunk,
            )
            for row in rows:
                by_id[row["product_id"]]["variants"].append(
                    {"variant_id": row["variant_id"], "variant": row["variant"], "sku": row["sku"]}
                )
        return products

    async def event_types(self) -> list[dict[str, Any]]:
        rows = await self._read(
            "SELECT event, key, type, count FROM event_keys ORDER BY event, key"
        )
        types: dict[str, dict[str, dict[str, Any]]] = {}
        for row in rows:
            key = types.setdefault(row["event"], {}).setdefault(
                row["key"], {"key": row["key"], "types": {}, "count": 0}
            )
            key["types"][row["type"]] = row["count"]
            key["count"] += row["count"]
        return [{"event": event, "keys": list(keys.values())} for event, keys in types.items()]

    async def existing_contact_ids(self, ids: list[int]) -> set[int]:
        found: set[int] = set()
        for chunk in chunks(sorted(set(ids))):
            rows = await self._read(f"SELECT id FROM contacts WHERE id IN ({marks(chunk)})", chunk)
            found.update(row[0] for row in rows)
        return found

    async def find_contact(self, kind: str, value: str | int) -> dict[str, Any] | None:
        column = "id" if kind == "contact_id" else IDENTIFIER_COLUMNS[kind]
        rows = await self._read(
            f"""SELECT id, email, phone, external_id, attributes, created_at
                FROM contacts WHERE {column} = ?""",
            (value,),
        )
        return _contact_json(rows[0]) if rows else None

    async def upsert_contact(
        self, identifiers: dict[str, str], attributes: dict[str, Any]
    ) -> dict[str, Any]:
        async with _Tx(self) as db:
            matches: set[int] = set()
            for kind, value in identifiers.items():
                column = IDENTIFIER_COLUMNS[kind]
                rows = await db.execute_fetchall(
                    f"SELECT id FROM contacts WHERE {column} = ?", (value,)
                )
                matches.update(row[0] for row in rows)
            if len(matches) > 1:
                raise Conflict(
                    "these identifiers belong to different contacts",
                    details={"contact_ids": sorted(matches)},
                    code="identifier_conflict",
                )
            if matches:
                contact_id = matches.pop()
                rows = await db.execute_fetchall(
                    "SELECT attributes FROM contacts WHERE id = ?", (contact_id,)
                )
                merged = {**json.loads(rows[0][0]), **attributes}
                sets = ", ".join(f"{IDENTIFIER_COLUMNS[k]} = ?" for k in identifiers)
                await db.execute(
                    f"UPDATE contacts SET {sets}{', ' if sets else ''}attributes = ? WHERE id = ?",
                    (*identifiers.values(), dumps(merged), contact_id),
                )
            else:
                columns = [IDENTIFIER_COLUMNS[k] for k in identifiers]
                cursor = await db.execute(
                    f"""INSERT INTO contacts ({", ".join(columns + ["attributes", "created_at"])})
                        VALUES ({marks(columns + ["a", "c"])}) RETURNING id""",
                    (*identifiers.values(), dumps(attributes), now_us()),
                )
                contact_id = (await cursor.fetchone())[0]
            if attributes:
                await db.executemany(
                    """INSERT INTO contact_fields (name, created_at) VALUES (?, ?)
                       ON CONFLICT (name) DO NOTHING""",
                    [(name, now_us()) for name in attributes],
                )
            rows = await db.execute_fetchall(
                """SELECT id, email, phone, external_id, attributes, created_at
                   FROM contacts WHERE id = ?""",
                (contact_id,),
            )
        return _contact_json(rows[0])

    async def erase_contact(self, contact_id: int, actor: str) -> dict[str, int] | None:
        """Delete a contact, its identifiers, events, sessions and deliveries, and the failed
        events that carry one of its identifiers; keep an audit row with counts only."""
        async with _Tx(self) as db:
            rows = await db.execute_fetchall(
                "SELECT email, phone, external_id FROM contacts WHERE id = ?", (contact_id,)
            )
            if not rows:
                return None
            identifiers = [v for v in rows[0] if v]
            counts: dict[str, int] = {}
            attempts = await db.execute(
                """DELETE FROM delivery_attempts WHERE delivery_id IN
                       (SELECT id FROM deliveries WHERE contact_id = ?)""",
                (contact_id,),
            )
            counts["delivery_attempts"] = attempts.rowcount
            for table in ("deliveries", "events", "sessions"):
                cursor = await db.execute(
                    f"DELETE FROM {table} WHERE contact_id = ?", (contact_id,)
                )
                counts[table] = cursor.rowcount
            failed = 0
            for value in identifiers:
                cursor = await db.execute(
                    "DELETE FROM failed_events WHERE instr(payload, ?) > 0", (value,)
                )
                failed += cursor.rowcount
            counts["failed_events"] = failed
            await db.execute("DELETE FROM contacts WHERE id = ?", (contact_id,))
            await db.execute(
                """INSERT INTO audit_log (at, action, subject, actor, counts)
                   VALUES (?, 'erase_contact', ?, ?, ?)""",
                (now_us(), f"contact {contact_id}", actor, dumps(counts)),
            )
        return counts

    async def audit_log(self, limit: int = 100) -> list[dict[str, Any]]:
        rows = await self._read(
            "SELECT at, action, subject, actor, counts FROM audit_log ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        return [
            {**dict(row), "at": format_us(row["at"]), "counts": json.loads(row["counts"])}
            for row in rows
        ]

    async def delete_events_before(self, event: str, before_us: int) -> int:
        async with _Tx(self) as db:
            cursor = await db.execute(
                "DELETE FROM events WHERE event = ? AND ts < ?", (event, before_us)
            )
        return cursor.rowcount

    async def contact_ids_by(self, kind: str, values: list[Any]) -> dict[Any, int]:
        """Existing contacts by one identifier: {value: contact id}."""
        column = "id" if kind == "contact_id" else IDENTIFIER_COLUMNS[kind]
        found: dict[Any, int] = {}
        for chunk in chunks(sorted(set(values), key=str)):
            rows = await self._read(
                f"SELECT {column}, id FROM contacts WHERE {column} IN ({marks(chunk)})", chunk
            )
            found.update((row[0], row[1]) for row in rows)
        return found

    async def contact_fields(self) -> set[str]:
        return {row[0] for row in await self._read("SELECT name FROM contact_fields")}

    # -- helpers -------------------------------------------------------------------------

    async def _read(self, sql: str, args: Iterable[Any] = ()) -> list[aiosqlite.Row]:
        assert self._r is not None, "storage is not open"
        return list(await self._r.execute_fetchall(sql, tuple(args)))


class _Tx:
    """`async with _Tx(storage) as db:` one write transaction on the write connection."""

    def __init__(self, storage: SQLiteStorage) -> None:
        self.storage = storage

    async def __aenter__(self) -> aiosqlite.Connection:
        storage = self.storage
        await storage._write_lock.acquire()
        db = storage._w
        assert db is not None and storage._lock_file is not None, "storage is not open"
        try:
            await _take_turn(storage._lock_file)
        except BaseException:
            storage._write_lock.release()
            raise
        try:
            await db.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._release()
            raise
        return db

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        db = self.storage._w
        assert db is not None
        try:
            if exc_type is None:
                try:
                    await db.execute("COMMIT")
                except BaseException:
                    await _rollback_quietly(db)  # never leave the connection in a transaction
                    raise
            else:
                await _rollback_quietly(db)
        finally:
            self._release()

    def _release(self) -> None:
        fcntl.flock(self.storage._lock_file, fcntl.LOCK_UN)  # type: ignore[arg-type]
        self.storage._write_lock.release()


async def _take_turn(lock: IO[Any]) -> None:
    """The lock file every write transaction of every process holds (see
    sqlite_write.in_transaction), taken without blocking the event loop: these writes are
    rare (settings, definitions, deliveries), so a short poll is cheap and cannot leave the
    lock held by a cancelled wait."""
    while True:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            await asyncio.sleep(0.002)


async def _rollback_quietly(db: aiosqlite.Connection) -> None:
    if db.in_transaction:
        await db.execute("ROLLBACK")


def _statements(script: str) -> list[str]:
    """Split a migration file into statements (they contain no semicolons in strings)."""
    lines = [line.split("--", 1)[0] for line in script.splitlines()]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def _definition(row: aiosqlite.Row) -> Definition:
    body = json.loads(row["body"])
    return Definition(
        name=row["name"],
        title=body["title"],
        category=body["category"],
        scope=body["scope"],
        fields=tuple(Field(**f) for f in body["fields"]),
        web_tracking=body["web_tracking"],
        retention_days=body["retention_days"],
        version=row["version"],
        hidden=bool(row["hidden"]),
    )


_EVENT_COLUMNS = """seq, id, event, ts, received_at, contact_id, session_id, params, context,
    version, source, api_inserted, api_verified, backfilled"""


def _event_json(row: aiosqlite.Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "event": row["event"],
        "timestamp": format_us(row["ts"]),
        "received_at": format_us(row["received_at"]),
        "contact_id": row["contact_id"],
        "session_id": row["session_id"],
        "params": json.loads(row["params"]),
        "context": json.loads(row["context"]),
        "version": row["version"],
        "source": row["source"],
        "api_inserted": bool(row["api_inserted"]),
        "api_verified": bool(row["api_verified"]),
        "backfilled": bool(row["backfilled"]),
        "_page": (row["ts"], row["seq"]),
    }


def _failed_json(row: aiosqlite.Row) -> dict[str, Any]:
    payload: Any = row["payload"]
    with contextlib.suppress(ValueError, RecursionError):  # else the raw text it came as
        payload = json.loads(payload)
    out = {
        "id": row["id"],
        "received_at": format_us(row["received_at"]),
        "event": row["event"],
        "source": json.loads(row["source"]),
        "reasons": json.loads(row["reasons"]),
        "payload": payload,
        "door": row["door"],
        "_page": (row["received_at"], row["seq"]),
    }
    if "replayed_at" in row.keys():  # noqa: SIM118 (sqlite3.Row has no __contains__)
        out["replayed_at"] = format_us(row["replayed_at"])
    return out


def _scenario(row: aiosqlite.Row) -> Scenario:
    return Scenario(
        id=row["id"],
        name=row["name"],
        enabled=bool(row["enabled"]),
        trigger=json.loads(row["trigger"]),
        actions=json.loads(row["actions"]),
    )


def _segment_json(row: aiosqlite.Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "rules": json.loads(row["rules"]),
        "created_at": format_us(row["created_at"]),
    }


def _contact_json(row: aiosqlite.Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "email": row["email"],
        "phone": row["phone"],
        "external_id": row["external_id"],
        "attributes": json.loads(row["attributes"]),
        "created_at": format_us(row["created_at"]),
    }
