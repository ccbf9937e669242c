"""The PostgreSQL backend (asyncpg), for several collector processes on one database.

Method for method the same behaviour and return shapes as `SQLiteStorage`; what differs
is how concurrency is made safe, since here other processes write too: unique keys and
`ON CONFLICT` instead of read-then-write, `FOR UPDATE SKIP LOCKED` to lease deliveries,
advisory locks for migrations, a session's identify and the live feed (see
`postgres_write.py`, `postgres_events.py`), and a whole transaction retried when
PostgreSQL breaks a deadlock between two of them.
Times are BIGINT microseconds; documents are JSON kept as written (see the first
migration for why not JSONB), encoded and decoded by a codec on every connection.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import asyncpg
from asyncpg import Connection, Record

from collector.model import ApiKey, ContactRef, Definition, NewEvent, NewFailure, Outcome
from collector.segments import Group
from collector.storage import Page, postgres_contacts, postgres_write
from collector.storage.postgres_events import EventReads
from collector.storage.postgres_migrate import migrate
from collector.storage.postgres_outbox import OutboxQueries
from collector.storage.postgres_rows import (
    CONTACT_COLUMNS,
    affected,
    contact_json,
    definition,
    dumps,
    int64,
    loads,
    pg_text,
    segment_json,
)
from collector.storage.postgres_segments import Args, group_sql
from collector.storage.postgres_write import IDENTIFIER_COLUMNS
from collector.timeutil import format_us, now_us

T = TypeVar("T")
_ATTEMPTS = 5  # a transaction PostgreSQL chose as a deadlock victim is run again
_RETRY = (asyncpg.DeadlockDetectedError, asyncpg.SerializationError)
# Dates without a zone are midnight UTC, as in SQLite and the Python evaluator.
_SERVER_SETTINGS = {"timezone": "UTC", "application_name": "ekevents"}


async def _init_connection(conn: Connection) -> None:
    for type_ in ("json", "jsonb"):
        await conn.set_type_codec(
            type_, encoder=dumps, decoder=loads, schema="pg_catalog", format="text"
        )


class PostgresStorage(EventReads, OutboxQueries):
    def __init__(self, url: str, *, min_size: int = 1, max_size: int = 10) -> None:
        self.url = url
        self.min_size, self.max_size = min_size, max_size
        self._pool: asyncpg.Pool | None = None

    # -- lifecycle -----------------------------------------------------------------------

    async def open(self) -> None:
        # Migrate on a connection of its own, before the pool caches any statement plan.
        conn = await asyncpg.connect(self.url, server_settings=_SERVER_SETTINGS)
        try:
            await migrate(conn)
        finally:
            await conn.close()
        self._pool = await asyncpg.create_pool(
            self.url,
            min_size=self.min_size,
            max_size=self.max_size,
            init=_init_connection,
            server_settings=_SERVER_SETTINGS,
        )

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
        self._pool = None

    # -- settings ------------------------------------------------------------------------

    async def get_setting(self, key: str) -> str | None:
        return await self._pool_().fetchval(
            "SELECT value FROM settings WHERE key = $1", pg_text(key)
        )

    async def put_setting_if_absent(self, key: str, value: str) -> str:
        async with self._tx() as db:
            await db.execute(
                """INSERT INTO settings (key, value) VALUES ($1, $2)
                   ON CONFLICT (key) DO NOTHING""",
                pg_text(key),
                pg_text(value),
            )
            return await db.fetchval("SELECT value FROM settings WHERE key = $1", pg_text(key))

    # -- users and keys ------------------------------------------------------------------

    async def create_user(self, email: str, password_hash: str) -> int:
        return await self._pool_().fetchval(
            """INSERT INTO users (email, password_hash, created_at) VALUES ($1, $2, $3)
               ON CONFLICT (email) DO UPDATE SET password_hash = excluded.password_hash
               RETURNING id""",
            pg_text(email),
            password_hash,
            now_us(),
        )

    async def user_by_email(self, email: str) -> dict[str, Any] | None:
        row = await self._pool_().fetchrow(
            "SELECT id, email, password_hash FROM users WHERE email = $1", pg_text(email)
        )
        return dict(row) if row else None

    async def create_key(self, key: ApiKey, key_hash: str, prefix: str) -> int:
        return await self._pool_().fetchval(
            """INSERT INTO api_keys (name, kind, key_hash, key_prefix, scopes, allow_read,
                   allow_write, origins, require_identity_hash, identity_secret, created_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id""",
            pg_text(key.name),
            key.kind,
            key_hash,
            prefix,
            sorted(key.scopes),
            sorted(key.allow_read),
            sorted(key.allow_write),
            list(key.origins),
            key.require_identity_hash,
            key.identity_secret,
            now_us(),
        )

    async def key_by_hash(self, key_hash: str) -> ApiKey | None:
        row = await self._pool_().fetchrow(
            """SELECT id, name, kind, scopes, allow_read, allow_write, origins,
                      require_identity_hash, identity_secret
               FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL""",
            pg_text(key_hash),
        )
        if row is None:
            return None
        return ApiKey(
            id=row["id"],
            name=row["name"],
            kind=row["kind"],
            scopes=frozenset(row["scopes"]),
            allow_read=frozenset(row["allow_read"]),
            allow_write=frozenset(row["allow_write"]),
            origins=tuple(row["origins"]),
            require_identity_hash=row["require_identity_hash"],
            identity_secret=row["identity_secret"],
        )

    async def list_keys(self) -> list[dict[str, Any]]:
        rows = await self._pool_().fetch(
            """SELECT id, name, kind, key_prefix, scopes, allow_read, allow_write, origins,
                      require_identity_hash, created_at, revoked_at
               FROM api_keys ORDER BY revoked_at IS NOT NULL, created_at DESC"""
        )
        return [
            {
                **dict(row),
                "created_at": format_us(row["created_at"]),
                "revoked_at": format_us(row["revoked_at"]),
            }
            for row in rows
        ]

    async def revoke_key(self, key_id: int) -> bool:
        status = await self._pool_().execute(
            "UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
            now_us(),
            int64(key_id),
        )
        return affected(status) == 1

    async def user_by_id(self, user_id: int) -> dict[str, Any] | None:
        row = await self._pool_().fetchrow(
            "SELECT id, email FROM users WHERE id = $1", int64(user_id)
        )
        return dict(row) if row else None

    # -- definitions ---------------------------------------------------------------------

    _DEFINITION_SELECT = """
        SELECT d.name, d.hidden, v.version, v.body
        FROM definitions d JOIN definition_versions v ON v.name = d.name"""

    async def list_definitions(self, include_hidden: bool) -> list[Definition]:
        rows = await self._pool_().fetch(
            self._DEFINITION_SELECT
            + """ WHERE v.version = d.current_version AND ($1 OR NOT d.hidden)
                  ORDER BY d.name""",
            include_hidden,
        )
        return [definition(row) for row in rows]

    async def get_definition(self, name: str, version: int | None = None) -> Definition | None:
        if version is not None and int64(version) is None:
            return None
        row = await self._pool_().fetchrow(
            self._DEFINITION_SELECT
            + " WHERE d.name = $1 AND v.version = COALESCE($2::bigint, d.current_version)",
            pg_text(name),
            version,
        )
        return definition(row) if row else None

    async def save_definition(self, definition: Definition, expected_version: int) -> bool:
        """Store a new version; False when someone else (any process) saved version
        `expected_version + 1` first (or, for a new name, when it exists already)."""
        now = now_us()
        async with self._tx() as db:
            if expected_version == 0:
                status = await db.execute(
                    """INSERT INTO definitions (name, current_version, created_at, updated_at)
                       VALUES ($1, 1, $2, $3) ON CONFLICT (name) DO NOTHING""",
                    definition.name,
                    now,
                    now,
                )
            else:
                # A concurrent save of the same version waits on the row, then finds
                # current_version moved on and updates nothing.
                status = await db.execute(
                    """UPDATE definitions SET current_version = $1, updated_at = $2
                       WHERE name = $3 AND current_version = $4 AND NOT hidden""",
                    definition.version,
                    now,
                    definition.name,
                    expected_version,
                )
            if affected(status) != 1:
                return False
            await db.execute(
                """INSERT INTO definition_versions (name, version, body, created_at)
                   VALUES ($1, $2, $3, $4)""",
                definition.name,
                definition.version,
                definition.body(),
                now,
            )
        return True

    async def definitions_stamp(self) -> tuple[int, int]:
        row = await self._pool_().fetchrow(
            "SELECT count(*), coalesce(max(updated_at), 0) FROM definitions"
        )
        return row[0], row[1]

    async def hide_definition(self, name: str) -> bool:
        status = await self._pool_().execute(
            "UPDATE definitions SET hidden = TRUE, updated_at = $1 WHERE name = $2",
            now_us(),
            pg_text(name),
        )
        return affected(status) == 1

    async def definition_versions(self, name: str) -> list[tuple[int, int]]:
        rows = await self._pool_().fetch(
            """SELECT version, created_at FROM definition_versions WHERE name = $1
               ORDER BY version""",
            pg_text(name),
        )
        return [(row[0], row[1]) for row in rows]

    # -- the write path ------------------------------------------------------------------

    async def write_batch(self, items: list[NewEvent | NewFailure]) -> list[Outcome]:
        """Write a batch in one transaction; one outcome per item, in order."""
        return await self._retrying(lambda db: postgres_write.write_batch(db, items))

    async def identify(
        self, session_id: str, ref: ContactRef, verified: bool
    ) -> tuple[int, int] | None:
        """Link a session to a contact and backfill the session's anonymous events into the
        contact's history; (contact id, events backfilled), or None for an unknown id."""
        return await self._retrying(
            lambda db: postgres_write.identify(db, session_id, ref, verified)
        )

    # -- contacts ------------------------------------------------------------------------

    async def search_contacts(
        self, text: str | None, limit: int, after: Page | None
    ) -> list[dict[str, Any]]:
        """Contacts whose email, phone or external id starts with `text`, newest first."""
        args = Args()
        where = []
        if text:
            prefix = (
                pg_text(text).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            )
            # SQLite's LIKE ignores ASCII case (only): lower() under "C" folds A-Z only.
            where.append(
                "(" + " OR ".join(
                    f"""lower({column} COLLATE "C") LIKE lower({args.add(value, 'text')}"""
                    """ COLLATE "C") ESCAPE '\\'"""
                    for column, value in (
                        ("email", prefix.lower()), ("phone", prefix), ("external_id", prefix)
                    )
                ) + ")"
            )  # fmt: skip
        if after is not None:
            where.append(f"id < {args.add(after.seq, 'bigint')}")
        rows = await self._pool_().fetch(
            f"""SELECT {CONTACT_COLUMNS} FROM contacts
                {"WHERE " + " AND ".join(where) if where else ""}
                ORDER BY id DESC LIMIT {args.add(limit, "bigint")}""",
            *args.values,
        )
        return [_paged(row) for row in rows]

    async def existing_contact_ids(self, ids: list[int]) -> set[int]:
        wanted = sorted({i for i in map(int64, ids) if i is not None})
        rows = await self._pool_().fetch(
            "SELECT id FROM contacts WHERE id = ANY($1::bigint[])", wanted
        )
        return {row[0] for row in rows}

    async def find_contact(self, kind: str, value: str | int) -> dict[str, Any] | None:
        if kind == "contact_id":
            column, value = "id", int64(value)
            if value is None:
                return None
        else:
            column, value = IDENTIFIER_COLUMNS[kind], pg_text(str(value))
        row = await self._pool_().fetchrow(
            f"SELECT {CONTACT_COLUMNS} FROM contacts WHERE {column} = $1", value
        )
        return contact_json(row) if row else None

    async def upsert_contact(
        self, identifiers: dict[str, str], attributes: dict[str, Any]
    ) -> dict[str, Any]:
        # Two processes creating one new contact: the loser's INSERT hits the unique key,
        # and the retry finds the winner's row and updates it.
        return await self._retrying(
            lambda db: postgres_contacts.upsert_contact(db, identifiers, attributes),
            also=(asyncpg.UniqueViolationError,),
        )

    async def erase_contact(self, contact_id: int, actor: str) -> dict[str, int] | None:
        contact_id = int64(contact_id)
        if contact_id is None:
            return None
        return await self._retrying(
            lambda db: postgres_contacts.erase_contact(db, contact_id, actor)
        )

    async def audit_log(self, limit: int = 100) -> list[dict[str, Any]]:
        rows = await self._pool_().fetch(
            """SELECT at, action, subject, actor, counts FROM audit_log
               ORDER BY id DESC LIMIT $1""",
            limit,
        )
        return [{**dict(row), "at": format_us(row["at"])} for row in rows]

    async def delete_events_before(self, event: str, before_us: int) -> int:
        status = await self._pool_().execute(
            "DELETE FROM events WHERE event = $1 AND ts < $2", pg_text(event), before_us
        )
        return affected(status)

    async def contact_ids_by(self, kind: str, values: list[Any]) -> dict[Any, int]:
        """Existing contacts by one identifier: {value: contact id}."""
        if kind == "contact_id":
            ids = sorted({i for i in map(int64, values) if i is not None})
            rows = await self._pool_().fetch(
                "SELECT id FROM contacts WHERE id = ANY($1::bigint[])", ids
            )
            return {row[0]: row[0] for row in rows}
        column = IDENTIFIER_COLUMNS[kind]
        asked = {pg_text(str(v)): str(v) for v in values}  # keyed by the value as asked
        rows = await self._pool_().fetch(
            f"SELECT {column}, id FROM contacts WHERE {column} = ANY($1::text[])", sorted(asked)
        )
        return {asked[row[0]]: row[1] for row in rows}

    async def contact_fields(self) -> set[str]:
        return {row[0] for row in await self._pool_().fetch("SELECT name FROM contact_fields")}

    # -- segments ------------------------------------------------------------------------

    async def segment_contacts(
        self, tree: Group, limit: int, after_id: int | None
    ) -> tuple[int, list[dict[str, Any]]]:
        """How many contacts match `tree`, and a page of them by id.

        The page is cut from the segment's ids before joining contacts: PostgreSQL cannot
        estimate how many rows INTERSECT / UNION leave (it guesses 200), and with
        `contacts WHERE id IN (seg) ORDER BY id LIMIT n` it walked contacts in id order,
        scanning the whole segment for each one (minutes on a million events)."""
        args = Args()
        sql = group_sql(tree, args)
        contacts = ", ".join(f"c.{column.strip()}" for column in CONTACT_COLUMNS.split(","))
        if after_id is None:
            # One evaluation of the segment gives the first page and, by a window over the
            # rows before LIMIT, the total; only a page past the end needs a second count.
            rows = await self._pool_().fetch(
                f"""WITH seg(id) AS ({sql})
                    SELECT {contacts}, p.total
                    FROM (SELECT id, count(*) OVER () AS total FROM seg
                          ORDER BY id LIMIT {args.add(limit, "bigint")}) AS p
                    JOIN contacts AS c ON c.id = p.id ORDER BY c.id""",
                *args.values,
            )
            if rows:
                return rows[0]["total"], [_paged(row) for row in rows]
            args.values.pop()
        count = await self._pool_().fetchval(
            f"WITH seg(id) AS ({sql}) SELECT count(*) FROM seg", *args.values
        )
        if not count:
            return 0, []
        after, page = args.add(after_id or 0, "bigint"), args.add(limit, "bigint")
        rows = await self._pool_().fetch(
            f"""WITH seg(id) AS ({sql})
                SELECT {contacts}
                FROM (SELECT id FROM seg WHERE id > {after} ORDER BY id LIMIT {page}) AS p
                JOIN contacts AS c ON c.id = p.id ORDER BY c.id""",
            *args.values,
        )
        return count, [_paged(row) for row in rows]

    async def explain_backfill(self) -> list[str]:
        rows = await self._pool_().fetch(
            """EXPLAIN UPDATE events SET contact_id = 1, backfilled = TRUE
               WHERE session_id = 'x' AND contact_id IS NULL"""
        )
        return [row[0] for row in rows]

    async def explain_segment(self, tree: Group) -> list[str]:
        args = Args()
        sql = group_sql(tree, args)
        rows = await self._pool_().fetch(
            f"EXPLAIN WITH seg(id) AS ({sql}) SELECT count(*) FROM seg", *args.values
        )
        return [row[0] for row in rows]

    async def distinct_param_values(self, event: str, code: str, limit: int = 10_000) -> list[Any]:
        # json has no equality: values are told apart by their JSON text, and handed back
        # as SQLite's json_extract does (scalars as values, objects and lists as text).
        rows = await self._pool_().fetch(
            """SELECT DISTINCT (params -> $2::text)::text FROM events
               WHERE event = $1 AND json_typeof(params -> $2::text) <> 'null' LIMIT $3""",
            event,
            code,
            limit,
        )
        values = [(row[0], loads(row[0])) for row in rows]
        return [text if isinstance(v, (dict, list)) else v for text, v in values]

    async def save_segment(self, name: str, rules: Any) -> dict[str, Any]:
        segment_id = await self._pool_().fetchval(
            "INSERT INTO segments (name, rules, created_at) VALUES ($1, $2, $3) RETURNING id",
            pg_text(name),
            rules,
            now_us(),
        )
        found = await self.get_segment(segment_id)
        assert found is not None
        return found

    async def get_segment(self, segment_id: int) -> dict[str, Any] | None:
        row = await self._pool_().fetchrow(
            "SELECT id, name, rules, created_at FROM segments WHERE id = $1", int64(segment_id)
        )
        return segment_json(row) if row else None

    async def list_segments(self) -> list[dict[str, Any]]:
        rows = await self._pool_().fetch(
            "SELECT id, name, rules, created_at FROM segments ORDER BY id DESC"
        )
        return [segment_json(row) for row in rows]

    # -- catalog -------------------------------------------------------------------------

    async def list_products(self, limit: int, after: str | None) -> list[dict[str, Any]]:
        rows = await self._pool_().fetch(
            """SELECT product_id, name, price, category, brand, url, image_url, first_seen,
                      last_seen FROM products WHERE product_id > $1
               ORDER BY product_id LIMIT $2""",
            pg_text(after or ""),
            limit,
        )
        products = [dict(row) for row in rows]
        by_id = {p["product_id"]: p for p in products}
        for p in products:
            p["variants"] = []
            p["first_seen"], p["last_seen"] = format_us(p["first_seen"]), format_us(p["last_seen"])
        variants = await self._pool_().fetch(
            """SELECT product_id, variant_id, variant, sku FROM product_variants
               WHERE product_id = ANY($1::text[]) ORDER BY variant_id""",
            list(by_id),
        )
        for row in variants:
            by_id[row["product_id"]]["variants"].append(
                {"variant_id": row["variant_id"], "variant": row["variant"], "sku": row["sku"]}
            )
        return products

    async def event_types(self) -> list[dict[str, Any]]:
        rows = await self._pool_().fetch(
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

    # -- helpers -------------------------------------------------------------------------

    def _pool_(self) -> asyncpg.Pool:
        assert self._pool is not None, "storage is not open"
        return self._pool

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[Connection]:
        async with self._pool_().acquire() as conn, conn.transaction():
            yield conn

    async def _retrying(
        self, work: Callable[[Connection], Awaitable[T]], also: tuple[type[Exception], ...] = ()
    ) -> T:
        """Run `work` in a transaction, again (from the start) when it lost a deadlock or
        a race for a unique key to another process."""
        for attempt in range(_ATTEMPTS):
            try:
                async with self._tx() as db:
                    return await work(db)
            except (*_RETRY, *also):
                if attempt == _ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")


def _paged(row: Record) -> dict[str, Any]:
    return {**contact_json(row), "_page": (0, row["id"])}
