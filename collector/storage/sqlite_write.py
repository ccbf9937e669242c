"""The SQLite write path, run in the write connection's thread.

The group-commit writer hands a whole batch to `write_batch` in one call: the transaction,
with its lookups, inserts and fsync, is one hop to the database thread instead of one per
statement, which is most of what a commit costs the event loop. Everything here is
synchronous and runs inside the transaction `in_transaction` opens.
"""

from __future__ import annotations

import fcntl
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterable
from typing import IO, Any, TypeVar

from collector.jsonwire import compact as dumps
from collector.model import ContactRef, NewEvent, NewFailure, Outcome
from collector.timeutil import now_us

CHUNK = 500  # rows per IN (…) list, well under SQLite's variable limit
IDENTIFIER_COLUMNS = {"email": "email", "phone": "phone", "external_id": "external_id"}

T = TypeVar("T")


def in_transaction(db: sqlite3.Connection, lock: IO[Any], work: Callable[..., T], *args: Any) -> T:
    """`work(db, *args)` in one write transaction: committed, or rolled back if it raises.

    The transaction holds `lock` (a lock file beside the database), as every write
    transaction does, so the writers of several `serve --workers` processes take turns in
    a queue the kernel wakes the moment it is free, instead of in SQLite's own busy wait,
    which polls with sleeps of up to 100 ms.
    """
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
        db.execute("BEGIN IMMEDIATE")
        try:
            result = work(db, *args)
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:  # a failed COMMIT too: never leave the connection in one
                db.execute("ROLLBACK")
            raise
        return result
    finally:
        fcntl.flock(lock, fcntl.LOCK_UN)


def chunks(values: list[Any]) -> Iterable[list[Any]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def marks(values: list[Any]) -> str:
    return ",".join("?" * len(values))


def _fetchall(db: sqlite3.Connection, sql: str, args: Any = ()) -> list[Any]:
    return db.execute(sql, args).fetchall()


def write_batch(db: sqlite3.Connection, items: list[NewEvent | NewFailure]) -> list[Outcome]:
    """Write a batch (inside the caller's transaction); one outcome per item, in order."""
    outcomes: list[Outcome | None] = [None] * len(items)
    events = [(i, it) for i, it in enumerate(items) if isinstance(it, NewEvent)]
    failures = [(i, it) for i, it in enumerate(items) if isinstance(it, NewFailure)]
    contact_ids = _contact_ids(db, [e.contact for _, e in events if e.contact])
    # Resolved inside the transaction, so an identify committed just before this
    # batch sends the session's events straight to the contact.
    links = _session_links(db, [e.session_id for _, e in events if e.session_id and not e.contact])
    taken = _existing_event_ids(db, [e.id for _, e in events])
    # A replay claims its failure inside the transaction, so two concurrent
    # replays of one failure store one event.
    lost_claims: set[int] = set()
    for i, e in events:
        if e.failed_id:
            cursor = db.execute(
                """UPDATE failed_events SET replayed_at = ?, replayed_as = ?
                   WHERE id = ? AND replayed_at IS NULL""",
                (now_us(), e.id, e.failed_id),
            )
            if cursor.rowcount != 1:
                lost_claims.add(i)
    rows, outbox, now = [], [], now_us()
    for i, e in events:
        if e.id in taken or i in lost_claims:
            outcomes[i] = Outcome("duplicate", e.id)
            continue
        taken.add(e.id)
        if e.contact:
            contact_id, verified = contact_ids[e.contact], e.api_verified
        else:
            contact_id, verified = links.get(e.session_id, (None, e.api_verified))
        rows.append(_event_row(e, contact_id, verified))
        if e.outbox:
            outbox.extend(
                (o.scenario_id, o.action_index, o.kind, e.id, contact_id, now, now)
                for o in e.outbox
            )
        outcomes[i] = Outcome("accepted", e.id)
    if rows:
        db.executemany(
            """INSERT INTO events (id, event, ts, received_at, contact_id, session_id,
                   params, context, version, source, api_inserted, api_verified,
                   key_name)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            rows,
        )
    accepted = [e for i, e in events if outcomes[i].status == "accepted"]
    _record_traffic(db, accepted, [f for _, f in failures if not f.failed_id])
    attributes = [
        (dumps(e.attributes), contact_ids[e.contact])
        for e in accepted
        if e.attributes and e.contact
    ]
    if attributes:
        db.executemany(
            "UPDATE contacts SET attributes = json_patch(attributes, ?) WHERE id = ?",
            attributes,
        )
    if outbox:
        db.executemany(
            """INSERT INTO deliveries (scenario_id, action_index, kind, event_id,
                   contact_id, next_attempt_at, created_at)
               VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING""",
            outbox,
        )
    new_failures = [f for _, f in failures if not f.failed_id]
    if new_failures:
        db.executemany(
            """INSERT INTO failed_events (id, received_at, event, door, source, reasons,
                   payload) VALUES (?, ?, ?, ?, ?, ?, ?)""",
            [
                (
                    f.id,
                    f.received_at,
                    f.event,
                    f.door,
                    dumps(f.source),
                    dumps([r.as_json() for r in f.reasons]),
                    f.payload,
                )
                for f in new_failures
            ],
        )
    failed_again = [f for _, f in failures if f.failed_id]
    if failed_again:
        db.executemany(
            "UPDATE failed_events SET reasons = ? WHERE id = ? AND replayed_at IS NULL",
            [(dumps([r.as_json() for r in f.reasons]), f.failed_id) for f in failed_again],
        )
    for i, f in failures:
        outcomes[i] = Outcome("failed", f.failed_id or f.id, tuple(f.reasons))
    return outcomes  # type: ignore[return-value]


def _record_traffic(
    db: sqlite3.Connection, events: list[NewEvent], failures: list[NewFailure]
) -> None:
    """What a batch teaches: products for the catalog, property keys per event name,
    contact fields set by events."""
    # Events of one name mostly carry the same keys: count each distinct shape once.
    shapes = Counter((item.event, tuple(item.keys.items())) for item in [*events, *failures])
    seen: Counter[tuple[str, str, str]] = Counter()
    for (event, keys), times in shapes.items():
        if event:
            for key, type_ in keys:
                seen[(event, key, type_)] += times
    if seen:
        db.executemany(
            """INSERT INTO event_keys (event, key, type, count) VALUES (?, ?, ?, ?)
               ON CONFLICT (event, key, type) DO UPDATE SET count = count + excluded.count""",
            [(*k, n) for k, n in seen.items()],
        )
    products = [(p, e.ts) for e in events for p in e.products]
    if products:
        db.executemany(
            """INSERT INTO products (product_id, name, price, category, brand, url, image_url,
                   first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (product_id) DO UPDATE SET
                   name = coalesce(excluded.name, name),
                   price = coalesce(excluded.price, price),
                   category = coalesce(excluded.category, category),
                   brand = coalesce(excluded.brand, brand),
                   url = coalesce(excluded.url, url),
                   image_url = coalesce(excluded.image_url, image_url),
                   first_seen = min(first_seen, excluded.first_seen),
                   last_seen = max(last_seen, excluded.last_seen)""",
            [
                (
                    p["product_id"],
                    p.get("name"),
                    p.get("price"),
                    p.get("category"),
                    p.get("brand"),
                    p.get("url"),
                    p.get("image_url"),
                    ts,
                    ts,
                )
                for p, ts in products
            ],
        )
        variants = [
            (p["product_id"], v["variant_id"], v["variant"], v["sku"])
            for p, _ in products
            if (v := p.get("variant"))
        ]
        if variants:
            db.executemany(
                """INSERT INTO product_variants (product_id, variant_id, variant, sku)
                   VALUES (?, ?, ?, ?) ON CONFLICT (product_id, variant_id) DO UPDATE SET
                       variant = excluded.variant, sku = coalesce(excluded.sku, sku)""",
                variants,
            )


def _contact_ids(db: sqlite3.Connection, refs: list[ContactRef]) -> dict[ContactRef, int]:
    """Ids for the contacts the batch names; unknown emails, phones and external ids
    become new contacts (an id must exist: the pipeline checked it)."""
    found: dict[ContactRef, int] = {}
    now = now_us()
    for kind, column in IDENTIFIER_COLUMNS.items():
        values = sorted({str(r.value) for r in refs if r.kind == kind})
        if not values:
            continue
        ids = _ids_by(db, column, values)
        missing = [v for v in values if v not in ids]
        if missing:  # most batches name known contacts: insert only the new ones
            db.executemany(
                f"""INSERT INTO contacts ({column}, created_at) VALUES (?, ?)
                    ON CONFLICT ({column}) DO NOTHING""",
                [(v, now) for v in missing],
            )
            ids.update(_ids_by(db, column, missing))
        found.update((ContactRef(kind, v), i) for v, i in ids.items())
    for ref in refs:
        if ref.kind == "contact_id":
            found[ref] = int(ref.value)
    return found


def _ids_by(db: sqlite3.Connection, column: str, values: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for chunk in chunks(values):
        sql = f"SELECT {column}, id FROM contacts WHERE {column} IN ({marks(chunk)})"
        found.update(db.execute(sql, chunk).fetchall())
    return found


def _session_links(
    db: sqlite3.Connection, session_ids: list[str | None]
) -> dict[str | None, tuple[int, bool]]:
    links: dict[str | None, tuple[int, bool]] = {}
    for chunk in chunks(sorted({s for s in session_ids if s})):
        rows = _fetchall(
            db,
            f"SELECT id, contact_id, verified FROM sessions WHERE id IN ({marks(chunk)})",
            chunk,
        )
        links.update((row[0], (row[1], bool(row[2]))) for row in rows)
    return links


def identify(
    db: sqlite3.Connection, session_id: str, ref: ContactRef, verified: bool
) -> tuple[int, int] | None:
    """Link a session to a contact and backfill the session's anonymous events into the
    contact's history; (contact id, events backfilled), or None for an unknown id."""
    if ref.kind == "contact_id":
        rows = _fetchall(db, "SELECT id FROM contacts WHERE id = ?", (int(ref.value),))
        if not rows:
            return None
        contact_id = rows[0][0]
    else:
        contact_id = _contact_ids(db, [ref])[ref]
    db.execute(
        """INSERT INTO sessions (id, contact_id, verified, identified_at)
           VALUES (?, ?, ?, ?)
           ON CONFLICT (id) DO UPDATE SET contact_id = excluded.contact_id,
               verified = excluded.verified, identified_at = excluded.identified_at""",
        (session_id, contact_id, int(verified), now_us()),
    )
    # Only anonymous events move: those already attributed to a contact stay with
    # it, so a shared computer never merges two people's histories.
    cursor = db.execute(
        """UPDATE events SET contact_id = ?, backfilled = 1, api_verified = ?
           WHERE session_id = ? AND contact_id IS NULL""",
        (contact_id, int(verified), session_id),
    )
    return contact_id, cursor.rowcount


def _existing_event_ids(db: sqlite3.Connection, ids: list[str]) -> set[str]:
    taken: set[str] = set()
    for chunk in chunks(sorted(set(ids))):
        rows = _fetchall(db, f"SELECT id FROM events WHERE id IN ({marks(chunk)})", chunk)
        taken.update(row[0] for row in rows)
    return taken


def _event_row(e: NewEvent, contact_id: int | None, verified: bool) -> tuple[Any, ...]:
    return (
        e.id,
        e.event,
        e.ts,
        e.received_at,
        contact_id,
        e.session_id,
        dumps(e.params),
        dumps(e.context),
        e.version,
        e.source,
        int(e.api_inserted),
        int(verified),
        e.key_name,
    )
