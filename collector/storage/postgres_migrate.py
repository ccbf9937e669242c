"""Schema migrations for PostgreSQL: the numbered files of `migrations/postgres`.

Each pending file runs in its own transaction under an advisory lock and is recorded in
`schema_migrations`, so several collector processes can start at the same moment: the
second waits for the lock, then finds the version recorded and skips it.
"""

from __future__ import annotations

from importlib import resources

from asyncpg import Connection

from collector.timeutil import now_us

MIGRATION_LOCK = 7301  # advisory lock class held while migrating: (MIGRATION_LOCK, 0)


async def migrate(conn: Connection) -> None:
    """Apply the files not yet recorded, in order."""
    folder = resources.files("collector.storage").joinpath("migrations", "postgres")
    files = sorted(
        (int(item.name.split("_", 1)[0]), item)
        for item in folder.iterdir()
        if item.name.endswith(".sql")
    )
    done: set[int] = set()
    if await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL"):
        done = {row[0] for row in await conn.fetch("SELECT version FROM schema_migrations")}
    for version, item in files:
        if version in done:
            continue
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1, 0)", MIGRATION_LOCK)
            await conn.execute(
                """CREATE TABLE IF NOT EXISTS schema_migrations (
                       version INTEGER PRIMARY KEY, name TEXT NOT NULL,
                       applied_at BIGINT NOT NULL)"""
            )
            if await conn.fetchval("SELECT 1 FROM schema_migrations WHERE version = $1", version):
                continue
            await conn.execute(item.read_text())  # a whole file: the simple query protocol
            await conn.execute(
                """INSERT INTO schema_migrations (version, name, applied_at)
                   VALUES ($1, $2, $3)""",
                version,
                item.name,
                now_us(),
            )
