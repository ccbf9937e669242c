"""Contact writes on PostgreSQL that take several statements: upsert and erasure.

Each runs inside one transaction the caller opened; `upsert_contact` is retried by the
caller when another process created the same contact a moment earlier (unique key).
"""

from __future__ import annotations

from typing import Any

from asyncpg import Connection

from collector.errors import Conflict
from collector.storage.postgres_rows import CONTACT_COLUMNS, affected, contact_json, pg_text
from collector.storage.postgres_write import IDENTIFIER_COLUMNS
from collector.timeutil import now_us


async def upsert_contact(
    db: Connection, identifiers: dict[str, str], attributes: dict[str, Any]
) -> dict[str, Any]:
    identifiers = {kind: pg_text(value) for kind, value in identifiers.items()}
    matches: set[int] = set()
    for kind, value in identifiers.items():
        column = IDENTIFIER_COLUMNS[kind]
        # FOR UPDATE: a concurrent upsert of this contact waits, so attributes merge.
        rows = await db.fetch(f"SELECT id FROM contacts WHERE {column} = $1 FOR UPDATE", value)
        matches.update(row[0] for row in rows)
    if len(matches) > 1:
        raise Conflict(
            "these identifiers belong to different contacts",
            details={"contact_ids": sorted(matches)},
            code="identifier_conflict",
        )
    if matches:
        contact_id = matches.pop()
        old = await db.fetchval("SELECT attributes FROM contacts WHERE id = $1", contact_id)
        columns = [IDENTIFIER_COLUMNS[k] for k in identifiers]
        sets = "".join(f"{column} = ${n}, " for n, column in enumerate(columns, start=3))
        await db.execute(
            f"UPDATE contacts SET {sets}attributes = $1 WHERE id = $2",
            {**old, **attributes},
            contact_id,
            *identifiers.values(),
        )
    else:
        columns = [IDENTIFIER_COLUMNS[k] for k in identifiers]
        marks = ", ".join(f"${n}" for n in range(3, len(columns) + 3))
        contact_id = await db.fetchval(
            f"""INSERT INTO contacts ({", ".join(["attributes", "created_at", *columns])})
                VALUES ($1, $2, {marks}) RETURNING id""",
            attributes,
            now_us(),
            *identifiers.values(),
        )
    if attributes:
        await db.executemany(
            """INSERT INTO contact_fields (name, created_at) VALUES ($1, $2)
               ON CONFLICT (name) DO NOTHING""",
            [(pg_text(name), now_us()) for name in sorted(attributes)],
        )
    row = await db.fetchrow(f"SELECT {CONTACT_COLUMNS} FROM contacts WHERE id = $1", contact_id)
    return contact_json(row)


async def erase_contact(db: Connection, contact_id: int, actor: str) -> dict[str, int] | None:
    """Delete a contact, its identifiers, events, sessions and deliveries, and the failed
    events that carry one of its identifiers; keep an audit row with counts only."""
    row = await db.fetchrow(
        "SELECT email, phone, external_id FROM contacts WHERE id = $1 FOR UPDATE", contact_id
    )
    if row is None:
        return None
    identifiers = [v for v in row.values() if v]
    counts: dict[str, int] = {}
    status = await db.execute(
        """DELETE FROM delivery_attempts WHERE delivery_id IN
               (SELECT id FROM deliveries WHERE contact_id = $1)""",
        contact_id,
    )
    counts["delivery_attempts"] = affected(status)
    for table in ("deliveries", "events", "sessions"):
        status = await db.execute(f"DELETE FROM {table} WHERE contact_id = $1", contact_id)
        counts[table] = affected(status)
    failed = 0
    for value in identifiers:
        # payload holds the bytes received, so look for the identifier's bytes
        status = await db.execute(
            "DELETE FROM failed_events WHERE position($1::bytea in payload) > 0",
            value.encode("utf-8"),
        )
        failed += affected(status)
    counts["failed_events"] = failed
    await db.execute("DELETE FROM contacts WHERE id = $1", contact_id)
    await db.execute(
        """INSERT INTO audit_log (at, action, subject, actor, counts)
           VALUES ($1, 'erase_contact', $2, $3, $4)""",
        now_us(),
        f"contact {contact_id}",
        pg_text(actor),
        counts,
    )
    return counts
