"""Reading events and failed events on PostgreSQL, the live feed included (mixed into
`PostgresStorage`).

The live feed reads what every process committed by `seq`. PostgreSQL hands out a `seq`
at INSERT and shows the row at COMMIT, so two processes may make seq 11 visible before
seq 10; a reader that moved on past 11 would never see 10. Writers therefore hold an
advisory lock (shared among them) from the start of a batch to its commit, and the live
feed reads under the same lock taken exclusively: at that moment nothing is in flight.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import asyncpg
from asyncpg import Connection

from collector.storage import EventQuery, FailedQuery
from collector.storage.postgres_rows import (
    EVENT_COLUMNS,
    event_json,
    failed_json,
    int64,
    live_event,
    live_failure,
    pg_text,
)
from collector.storage.postgres_segments import Args, number_param
from collector.storage.postgres_write import LIVE_LOCK


class EventReads:
    _pool_: Callable[[], asyncpg.Pool]
    _tx: Callable[[], AbstractAsyncContextManager[Connection]]

    async def search_events(self, query: EventQuery) -> list[dict[str, Any]]:
        args = Args()
        where = []
        if query.event is not None:
            where.append(f"event = {args.add(query.event, 'text')}")
        if query.contact_id is not None:
            where.append(f"contact_id = {args.add(int64(query.contact_id), 'bigint')}")
        if query.since_us is not None:
            where.append(f"ts >= {args.add(query.since_us, 'bigint')}")
        if query.until_us is not None:
            where.append(f"ts <= {args.add(query.until_us, 'bigint')}")
        for code, value in query.params:
            where.append(_param_equals(code, value, args))
        order = "ASC" if query.oldest_first else "DESC"
        if query.after is not None:
            cmp = ">" if query.oldest_first else "<"
            key = args.add(query.after.key, "bigint")
            seq = args.add(query.after.seq, "bigint")
            where.append(f"(ts {cmp} {key} OR (ts = {key} AND seq {cmp} {seq}))")
        sql = f"""SELECT {EVENT_COLUMNS}
                  FROM events {"WHERE " + " AND ".join(where) if where else ""}
                  ORDER BY ts {order}, seq {order} LIMIT {args.add(query.limit, "bigint")}"""
        rows = await self._pool_().fetch(sql, *args.values)
        return [event_json(row) for row in rows]

    async def search_failed(self, query: FailedQuery) -> list[dict[str, Any]]:
        args = Args()
        where = ["replayed_at IS NULL"]
        if query.event is not None:
            where.append(f"event = {args.add(query.event, 'text')}")
        if query.reason is not None:
            where.append(
                "EXISTS (SELECT 1 FROM json_array_elements(reasons) AS r"
                f" WHERE r ->> 'code' = {args.add(query.reason, 'text')})"
            )
        if query.since_us is not None:
            where.append(f"received_at >= {args.add(query.since_us, 'bigint')}")
        if query.until_us is not None:
            where.append(f"received_at <= {args.add(query.until_us, 'bigint')}")
        if query.after is not None:
            key = args.add(query.after.key, "bigint")
            seq = args.add(query.after.seq, "bigint")
            where.append(f"(received_at < {key} OR (received_at = {key} AND seq < {seq}))")
        rows = await self._pool_().fetch(
            f"""SELECT seq, id, received_at, event, door, source, reasons, payload
                FROM failed_events WHERE {" AND ".join(where)}
                ORDER BY received_at DESC, seq DESC LIMIT {args.add(query.limit, "bigint")}""",
            *args.values,
        )
        return [failed_json(row) for row in rows]

    async def live_position(self) -> tuple[int, int]:
        async with self._live() as db:
            row = await db.fetchrow(
                """SELECT (SELECT coalesce(max(seq), 0) FROM events),
                          (SELECT coalesce(max(seq), 0) FROM failed_events)"""
            )
        return (row[0], row[1]) if row else (0, 0)

    async def live_since(
        self, event_seq: int, failed_seq: int, limit: int = 500
    ) -> tuple[list[dict[str, Any]], int, int]:
        """What any process committed after the given positions, for the live debugger."""
        async with self._live() as db:
            events = await db.fetch(
                """SELECT seq, id, event, received_at, key_name, contact_id, session_id, params
                   FROM events WHERE seq > $1 ORDER BY seq LIMIT $2""",
                event_seq,
                limit,
            )
            failed = await db.fetch(
                """SELECT seq, id, event, received_at, source, reasons FROM failed_events
                   WHERE seq > $1 ORDER BY seq LIMIT $2""",
                failed_seq,
                limit,
            )
        entries = [live_event(r) for r in events] + [live_failure(r) for r in failed]
        entries.sort(key=lambda e: e.pop("_at"))
        return (
            entries,
            events[-1]["seq"] if events else event_seq,
            failed[-1]["seq"] if failed else failed_seq,
        )

    async def stored_ids(self, ids: list[str]) -> set[str]:
        asked = {pg_text(i): i for i in ids}  # answered with the ids as asked
        rows = await self._pool_().fetch(
            "SELECT id FROM events WHERE id = ANY($1::text[])", list(asked)
        )
        return {asked[row[0]] for row in rows}

    async def get_event(self, event_id: str) -> dict[str, Any] | None:
        row = await self._pool_().fetchrow(
            f"SELECT {EVENT_COLUMNS} FROM events WHERE id = $1", pg_text(event_id)
        )
        return event_json(row) if row else None

    async def event_counts(self) -> dict[str, int]:
        rows = await self._pool_().fetch("SELECT event, count(*) FROM events GROUP BY event")
        return {row[0]: row[1] for row in rows}

    async def event_volume(
        self, event: str | None, since_us: int, bucket_us: int
    ) -> list[tuple[int, str, int]]:
        """Events per time bucket since `since_us`: (bucket index, event name, count)."""
        rows = await self._pool_().fetch(
            """SELECT (ts - $1) / $2 AS bucket, event, count(*) FROM events
               WHERE ts >= $1 AND ($3::text IS NULL OR event = $3)
               GROUP BY bucket, event ORDER BY bucket""",
            since_us,
            bucket_us,
            pg_text(event),
        )
        return [(row[0], row[1], row[2]) for row in rows]

    async def failed_by_ids(self, ids: list[str]) -> list[dict[str, Any]]:
        rows = await self._pool_().fetch(
            """SELECT seq, id, received_at, event, door, source, reasons, payload, replayed_at
               FROM failed_events WHERE id = ANY($1::text[])""",
            [pg_text(i) for i in ids],
        )
        return [failed_json(row) for row in rows]

    @asynccontextmanager
    async def _live(self) -> AsyncIterator[Connection]:
        """A transaction that waits until no writer is between INSERT and COMMIT, so no
        seq below the newest visible one can still appear (see postgres_write.LIVE_LOCK).
        Writers arriving meanwhile wait for this short read, a few times a second while
        someone watches the live debugger, and never otherwise."""
        async with self._tx() as db:
            await db.execute("SET LOCAL lock_timeout = '2s'")
            await db.execute("SELECT pg_advisory_xact_lock($1, $2)", *LIVE_LOCK)
            yield db


def _param_equals(code: str, value: Any, args: Args) -> str:
    """`param.<code>=value` in event search, as SQLite compares json_extract's result:
    text with the value's text, numbers as numbers, booleans as booleans."""
    path = args.add(code, "text")
    if isinstance(value, str):
        return f"params ->> {path} = {args.in_json(value)}"
    kind = "boolean" if isinstance(value, bool) else "number"
    cast, bound = ("boolean", value) if kind == "boolean" else ("numeric", number_param(value))
    return (
        f"CASE WHEN json_typeof(params -> {path}) = '{kind}' THEN (params ->> {path})::{cast}"
        f" END = {args.add(bound, cast)}"
    )
