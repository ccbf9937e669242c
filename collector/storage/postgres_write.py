"""The PostgreSQL write path: batches of events and failures, and identify's backfill.

Each function runs inside one transaction the caller opened (and retries whole on a
deadlock). Several collector processes may write at once, so what SQLite gets from its
single writer is spelled out here: a duplicate event id is refused by the UNIQUE key
(`ON CONFLICT (id) DO NOTHING RETURNING id` tells which rows went in), a replay claims its
failure with a conditional UPDATE, and a batch holding a session's anonymous events takes
a shared advisory lock on that session, which `identify` takes exclusively, so a batch
either commits before the backfill (which then moves its events) or sees the new link.
"""

from __future__ import annotations

import math
from typing import Any

from asyncpg import Connection

from collector.model import ContactRef, NewEvent, NewFailure, Outcome
from collector.storage.postgres_rows import affected, int64, pg_text
from collector.timeutil import now_us

SESSION_LOCKS = 7302  # advisory lock class of sessions: (SESSION_LOCKS, hashtext(id))
LIVE_LOCK = (7303, 0)  # shared by writers until commit; the live feed takes it exclusively
IDENTIFIER_COLUMNS = {"email": "email", "phone": "phone", "external_id": "external_id"}


async def write_batch(conn: Connection, items: list[NewEvent | NewFailure]) -> list[Outcome]:
    """Write a batch; one outcome per item, in order (see SQLiteStorage.write_batch)."""
    outcomes: list[Outcome | None] = [None] * len(items)
    events = [(i, it) for i, it in enumerate(items) if isinstance(it, NewEvent)]
    failures = [(i, it) for i, it in enumerate(items) if isinstance(it, NewFailure)]
    anonymous = sorted({e.session_id for _, e in events if e.session_id and not e.contact})
    text_ids = {e.id: pg_text(e.id) for _, e in events}  # as stored (see pg_text)
    # Sequence numbers are handed out at INSERT but become visible at COMMIT, so two
    # processes may commit seq 11 before seq 10. Writers hold this lock (shared: they do
    # not wait for each other) until they commit; the live feed takes it exclusively to
    # read at a moment when no number below the newest one is still in flight.
    await conn.execute("SELECT pg_advisory_xact_lock_shared($1, $2)", *LIVE_LOCK)
    if anonymous:
        # Before this transaction holds any row an identify might wait for.
        await conn.execute(
            """SELECT pg_advisory_xact_lock_shared($1, hashtext(s))
               FROM unnest($2::text[]) AS s""",
            SESSION_LOCKS,
            [pg_text(s) for s in anonymous],
        )
    contact_ids = await contact_ids_for(conn, [e.contact for _, e in events if e.contact])
    links = await _session_links(conn, anonymous)
    # A replay claims its failure inside the transaction, so two concurrent replays of
    # one failure (in any processes) store one event.
    lost_claims: set[int] = set()
    for i, e in events:
        if e.failed_id:
            status = await conn.execute(
                """UPDATE failed_events SET replayed_at = $1, replayed_as = $2
                   WHERE id = $3 AND replayed_at IS NULL""",
                now_us(),
                text_ids[e.id],
                pg_text(e.failed_id),
            )
            if affected(status) != 1:
                lost_claims.add(i)
    candidates: list[tuple[int, NewEvent, int | None, bool]] = []
    in_batch: set[str] = set()
    for i, e in events:
        if text_ids[e.id] in in_batch or i in lost_claims:
            outcomes[i] = Outcome("duplicate", e.id)
            continue
        in_batch.add(text_ids[e.id])
        if e.contact:
            contact_id, verified = contact_ids[e.contact], e.api_verified
        else:
            contact_id, verified = links.get(e.session_id, (None, e.api_verified))
        candidates.append((i, e, contact_id, verified))
    stored = await _insert_events(conn, candidates)
    accepted, outbox, now = [], [], now_us()
    for i, e, contact_id, _ in candidates:
        if text_ids[e.id] not in stored:  # stored before, by this process or another
            outcomes[i] = Outcome("duplicate", e.id)
            continue
        outcomes[i] = Outcome("accepted", e.id)
        accepted.append(e)
        outbox.extend(
            (o.scenario_id, o.action_index, o.kind, text_ids[e.id], contact_id, now, now)
            for o in e.outbox
        )
    await _record_traffic(conn, accepted, [f for _, f in failures if not f.failed_id])
    attributes = [
        (e.attributes, contact_ids[e.contact]) for e in accepted if e.attributes and e.contact
    ]
    if attributes:
        await conn.executemany(
            "UPDATE contacts SET attributes = ek_json_patch(attributes, $1) WHERE id = $2",
            attributes,
        )
    if outbox:
        await conn.executemany(
            """INSERT INTO deliveries (scenario_id, action_index, kind, event_id, contact_id,
                   next_attempt_at, created_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING""",
            outbox,
        )
    await _write_failures(conn, [f for _, f in failures])
    for i, f in failures:
        outcomes[i] = Outcome("failed", f.failed_id or f.id, tuple(f.reasons))
    return outcomes  # type: ignore[return-value]


async def _insert_events(
    conn: Connection, rows: list[tuple[int, NewEvent, int | None, bool]]
) -> set[str]:
    """Insert in one statement; the ids that went in (the others exist already, perhaps
    committed a moment ago by another process: the unique key decides, not a pre-check)."""
    if not rows:
        return set()
    columns: list[list[Any]] = [[] for _ in range(13)]
    for _, e, contact_id, verified in rows:
        values = (
            pg_text(e.id),
            pg_text(e.event),
            e.ts,
            e.received_at,
            contact_id,
            pg_text(e.session_id),
            e.params,
            e.context,
            e.version,
            pg_text(e.source),
            e.api_inserted,
            verified,
            pg_text(e.key_name),
        )
        for column, value in zip(columns, values, strict=True):
            column.append(value)
    # unnest yields the rows in batch order, so `seq` follows the batch as in SQLite.
    inserted = await conn.fetch(
        """INSERT INTO events (id, event, ts, received_at, contact_id, session_id, params,
               context, version, source, api_inserted, api_verified, key_name)
           SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[],
               $5::bigint[], $6::text[], $7::json[], $8::json[], $9::integer[], $10::text[],
               $11::boolean[], $12::boolean[], $13::text[])
           ON CONFLICT (id) DO NOTHING RETURNING id""",
        *columns,
    )
    return {row["id"] for row in inserted}


async def _write_failures(conn: Connection, failures: list[NewFailure]) -> None:
    new = [f for f in failures if not f.failed_id]
    if new:
        await conn.executemany(
            """INSERT INTO failed_events (id, received_at, event, door, source, reasons,
                   payload) VALUES ($1, $2, $3, $4, $5, $6, $7)""",
            [
                (
                    pg_text(f.id),
                    f.received_at,
                    pg_text(f.event),
                    f.door,
                    f.source,
                    [r.as_json() for r in f.reasons],
                    f.payload.encode("utf-8"),
                )
                for f in new
            ],
        )
    again = [f for f in failures if f.failed_id]
    if again:
        await conn.executemany(
            "UPDATE failed_events SET reasons = $1 WHERE id = $2 AND replayed_at IS NULL",
            [([r.as_json() for r in f.reasons], pg_text(f.failed_id)) for f in again],
        )


async def _record_traffic(
    conn: Connection, events: list[NewEvent], failures: list[NewFailure]
) -> None:
    """What a batch teaches: products for the catalog, property keys per event name.
    Rows go in key order, so two processes upserting the same keys lock them in the
    same order; `executemany` runs one statement per row, so a product twice in a batch
    is upserted twice, as in SQLite."""
    seen: dict[tuple[str, str, str], int] = {}
    for item in [*events, *failures]:
        if item.event:
            for key, type_ in item.keys.items():
                seen[(item.event, key, type_)] = seen.get((item.event, key, type_), 0) + 1
    if seen:
        await conn.executemany(
            """INSERT INTO event_keys (event, key, type, count) VALUES ($1, $2, $3, $4)
               ON CONFLICT (event, key, type)
               DO UPDATE SET count = event_keys.count + excluded.count""",
            sorted(
                (pg_text(event), pg_text(key), type_, n) for (event, key, type_), n in seen.items()
            ),
        )
    products = sorted(
        ((p, e.ts) for e in events for p in e.products), key=lambda r: r[0]["product_id"]
    )
    if not products:
        return
    await conn.executemany(
        """INSERT INTO products (product_id, name, price, category, brand, url, image_url,
               first_seen, last_seen) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
           ON CONFLICT (product_id) DO UPDATE SET
               name = coalesce(excluded.name, products.name),
               price = coalesce(excluded.price, products.price),
               category = coalesce(excluded.category, products.category),
               brand = coalesce(excluded.brand, products.brand),
               url = coalesce(excluded.url, products.url),
               image_url = coalesce(excluded.image_url, products.image_url),
               first_seen = least(products.first_seen, excluded.first_seen),
               last_seen = greatest(products.last_seen, excluded.last_seen)""",
        [
            (
                pg_text(p["product_id"]),
                pg_text(p.get("name")),
                _price(p.get("price")),
                pg_text(p.get("category")),
                pg_text(p.get("brand")),
                pg_text(p.get("url")),
                pg_text(p.get("image_url")),
                ts,
                ts,
            )
            for p, ts in products
        ],
    )
    variants = sorted(
        (
            tuple(map(pg_text, (p["product_id"], v["variant_id"], v["variant"], v["sku"])))
            for p, _ in products
            if (v := p.get("variant"))
        ),
        key=lambda r: (r[0], r[1]),
    )
    if variants:
        await conn.executemany(
            """INSERT INTO product_variants (product_id, variant_id, variant, sku)
               VALUES ($1, $2, $3, $4) ON CONFLICT (product_id, variant_id) DO UPDATE SET
                   variant = excluded.variant,
                   sku = coalesce(excluded.sku, product_variants.sku)""",
            variants,
        )


def _price(value: Any) -> float | None:
    # SQLite stores a NaN REAL as NULL; PostgreSQL would keep the NaN.
    return None if isinstance(value, float) and math.isnan(value) else value


async def contact_ids_for(conn: Connection, refs: list[ContactRef]) -> dict[ContactRef, int]:
    """Ids for the contacts the batch names; unknown emails, phones and external ids
    become new contacts (an id must exist: the pipeline checked it). Values go in sorted
    order so concurrent batches creating the same contacts cannot deadlock."""
    found: dict[ContactRef, int] = {}
    now = now_us()
    for kind, column in IDENTIFIER_COLUMNS.items():
        asked = {pg_text(str(r.value)): str(r.value) for r in refs if r.kind == kind}
        values = sorted(asked)
        if not values:
            continue
        await conn.execute(
            f"""INSERT INTO contacts ({column}, created_at)
                SELECT v, $2 FROM unnest($1::text[]) AS v
                ON CONFLICT ({column}) DO NOTHING""",
            values,
            now,
        )
        rows = await conn.fetch(
            f"SELECT id, {column} FROM contacts WHERE {column} = ANY($1::text[])", values
        )
        for row in rows:
            found[ContactRef(kind, asked[row[1]])] = row[0]
    for ref in refs:
        if ref.kind == "contact_id":
            found[ref] = int(ref.value)
    return found


async def _session_links(
    conn: Connection, session_ids: list[str]
) -> dict[str | None, tuple[int, bool]]:
    if not session_ids:
        return {}
    asked = {pg_text(s): s for s in session_ids}
    rows = await conn.fetch(
        "SELECT id, contact_id, verified FROM sessions WHERE id = ANY($1::text[])", list(asked)
    )
    return {asked[row["id"]]: (row["contact_id"], row["verified"]) for row in rows}


async def identify(
    conn: Connection, session_id: str, ref: ContactRef, verified: bool
) -> tuple[int, int] | None:
    """Link a session to a contact and backfill the session's anonymous events into the
    contact's history; (contact id, events backfilled), or None for an unknown id."""
    # Exclusive: waits for batches holding this session's anonymous events to commit, so
    # the UPDATE below sees them; later batches wait and then read the link.
    session_id = pg_text(session_id)
    await conn.execute(
        "SELECT pg_advisory_xact_lock($1, hashtext($2::text))", SESSION_LOCKS, session_id
    )
    if ref.kind == "contact_id":
        contact_id = await conn.fetchval("SELECT id FROM contacts WHERE id = $1", int64(ref.value))
        if contact_id is None:
            return None
    else:
        contact_id = (await contact_ids_for(conn, [ref]))[ref]
    await conn.execute(
        """INSERT INTO sessions (id, contact_id, verified, identified_at)
           VALUES ($1, $2, $3, $4)
           ON CONFLICT (id) DO UPDATE SET contact_id = excluded.contact_id,
               verified = excluded.verified, identified_at = excluded.identified_at""",
        session_id,
        contact_id,
        verified,
        now_us(),
    )
    # Only anonymous events move: those already attributed to a contact stay with it, so
    # a shared computer never merges two people's histories.
    status = await conn.execute(
        """UPDATE events SET contact_id = $1, backfilled = TRUE, api_verified = $2
           WHERE session_id = $3 AND contact_id IS NULL""",
        contact_id,
        verified,
        session_id,
    )
    return contact_id, affected(status)
