"""Scenarios and the webhook outbox on PostgreSQL (mixed into `PostgresStorage`).

Several processes run delivery workers on one database: `lease_due` takes rows with
`SELECT … FOR UPDATE SKIP LOCKED` inside its UPDATE, so a row another worker is leasing
is skipped rather than waited for, and once that lease commits it lies in the future.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import asyncpg
from asyncpg import Connection

from collector.scenarios import Scenario
from collector.storage.postgres_rows import int64, pg_text, scenario
from collector.timeutil import format_us, now_us


class OutboxQueries:
    _pool_: Callable[[], asyncpg.Pool]
    _tx: Callable[[], AbstractAsyncContextManager[Connection]]

    async def save_scenario(
        self, name: str, enabled: bool, trigger: dict[str, Any], actions: list[dict[str, Any]]
    ) -> Scenario:
        now = now_us()
        scenario_id = await self._pool_().fetchval(
            """INSERT INTO scenarios (name, enabled, trigger, actions, created_at, updated_at)
               VALUES ($1, $2, $3, $4, $5, $6) RETURNING id""",
            pg_text(name),
            enabled,
            trigger,
            actions,
            now,
            now,
        )
        found = await self.get_scenario(scenario_id)
        assert found is not None
        return found

    async def get_scenario(self, scenario_id: int) -> Scenario | None:
        row = await self._pool_().fetchrow(
            "SELECT id, name, enabled, trigger, actions FROM scenarios WHERE id = $1",
            int64(scenario_id),
        )
        return scenario(row) if row else None

    async def list_scenarios(self) -> list[Scenario]:
        rows = await self._pool_().fetch(
            "SELECT id, name, enabled, trigger, actions FROM scenarios ORDER BY id"
        )
        return [scenario(row) for row in rows]

    async def set_scenario_enabled(self, scenario_id: int, enabled: bool) -> None:
        await self._pool_().execute(
            "UPDATE scenarios SET enabled = $1, updated_at = $2 WHERE id = $3",
            enabled,
            now_us(),
            int64(scenario_id),
        )

    async def scenarios_stamp(self) -> tuple[int, int]:
        row = await self._pool_().fetchrow(
            "SELECT count(*), coalesce(max(updated_at), 0) FROM scenarios"
        )
        return row[0], row[1]

    async def lease_due(self, now: int, limit: int, lease_us: int) -> list[dict[str, Any]]:
        """Take up to `limit` due outbox rows for `lease_us`; nobody else takes them
        meanwhile, in this process or another."""
        rows = await self._pool_().fetch(
            """UPDATE deliveries SET leased_until = $1
               WHERE id IN (SELECT id FROM deliveries
                            WHERE status = 'pending' AND next_attempt_at <= $2
                              AND leased_until <= $2
                            ORDER BY next_attempt_at LIMIT $3
                            FOR UPDATE SKIP LOCKED)
               RETURNING id, scenario_id, action_index, kind, event_id, contact_id, attempts""",
            now + lease_us,
            now,
            limit,
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
        async with self._tx() as db:
            await db.execute(
                """INSERT INTO delivery_attempts (delivery_id, at, status_code, error)
                   VALUES ($1, $2, $3, $4)""",
                delivery_id,
                now_us(),
                status_code,
                pg_text(error),
            )
            await db.execute(
                """UPDATE deliveries SET status = $1, attempts = attempts + 1,
                       next_attempt_at = $2, leased_until = 0, message = $3 WHERE id = $4""",
                status,
                next_attempt_at,
                pg_text(message),
                delivery_id,
            )

    async def expand_fanout(
        self, fanout_id: int, scenario_id: int, actions: int, event_id: str, contact_ids: list[int]
    ) -> None:
        """Turn a fan-out row into one delivery per audience contact and action, at once."""
        now = now_us()
        async with self._tx() as db:
            await db.executemany(
                """INSERT INTO deliveries (scenario_id, action_index, kind, event_id,
                       contact_id, next_attempt_at, created_at)
                   VALUES ($1, $2, 'delivery', $3, $4, $5, $6) ON CONFLICT DO NOTHING""",
                [
                    (scenario_id, a, pg_text(event_id), contact_id, now, now)
                    for contact_id in contact_ids
                    for a in range(actions)
                ],
            )
            await db.execute(
                "UPDATE deliveries SET status = 'done', leased_until = 0 WHERE id = $1",
                fanout_id,
            )

    async def list_deliveries(self, scenario_id: int, limit: int) -> list[dict[str, Any]]:
        rows = await self._pool_().fetch(
            """SELECT id, event_id, contact_id, status, message FROM deliveries
               WHERE scenario_id = $1 AND kind = 'delivery' ORDER BY id DESC LIMIT $2""",
            int64(scenario_id),
            limit,
        )
        found = [{**dict(row), "attempts": []} for row in rows]
        by_id = {d["id"]: d for d in found}
        attempts = await self._pool_().fetch(
            """SELECT delivery_id, at, status_code, error FROM delivery_attempts
               WHERE delivery_id = ANY($1::bigint[]) ORDER BY id""",
            list(by_id),
        )
        for a in attempts:
            by_id[a["delivery_id"]]["attempts"].append(
                {"at": format_us(a["at"]), "status_code": a["status_code"], "error": a["error"]}
            )
        return found
