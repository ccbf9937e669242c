"""A real PostgreSQL for the test run, started in a temp directory with Debian's binaries.

`initdb` + `pg_ctl start` on a free port (socket in the temp directory too), durability
switched off because a test cluster is thrown away; stopped and deleted at the end of
the session. PostgreSQL refuses to run as root, so as root the binaries run as the
`postgres` user the Debian package creates. Each test gets its own database, cloned from
a template that already holds the schema (cloning is faster than migrating every time).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest

T = TypeVar("T")
TEMPLATE = "ek_template"


def pg_bin_dir() -> Path:
    """The bin directory of the highest PostgreSQL version installed; fails loudly."""
    found = sorted(
        (p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "initdb").exists()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if not found:
        pytest.fail(
            "PostgreSQL binaries not found under /usr/lib/postgresql/*/bin: the test suite "
            "runs on SQLite and on a real PostgreSQL. `make test` installs Debian's "
            "`postgresql` package (or: apt-get install -y postgresql).",
            pytrace=False,
        )
    return found[-1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Loop:
    """An event loop on its own thread, so sync fixtures can use asyncpg without touching
    the loop pytest-asyncio gives each test."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=120)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()


class PgServer:
    def __init__(self) -> None:
        self.bin = pg_bin_dir()
        self.root = Path(tempfile.mkdtemp(prefix="ekpg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.port = _free_port()
        self.as_root = os.geteuid() == 0
        self._names = itertools.count(1)
        self._loop: _Loop | None = None
        self._admin: asyncpg.Connection | None = None

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, cwd=self.root, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}{log}")

    def start(self) -> PgServer:
        if self.as_root:
            postgres = pwd.getpwnam("postgres")
            os.chown(self.root, postgres.pw_uid, postgres.pw_gid)
        self.root.chmod(0o700)
        self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
            "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync",
        )  # fmt: skip
        options = " ".join(
            f"-c {setting}"
            for setting in (
                f"port={self.port}",
                "listen_addresses=127.0.0.1",
                f"unix_socket_directories={self.root}",
                "fsync=off",
                "synchronous_commit=off",
                "full_page_writes=off",
                "max_connections=300",
            )
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")
        self._loop = _Loop()
        self._admin = self._loop.run(asyncpg.connect(self.url("postgres")))
        self._loop.run(self._make_template())
        return self

    async def _make_template(self) -> None:
        from collector.storage.postgres import PostgresStorage

        assert self._admin is not None
        await self._admin.execute(f"CREATE DATABASE {TEMPLATE}")
        storage = PostgresStorage(self.url(TEMPLATE))
        await storage.open()  # applies the migrations
        await storage.close()

    def create_database(self, migrated: bool = True) -> str:
        """A fresh database's URL: with the schema, or empty (for migration tests)."""
        name = f"t{next(self._names)}"
        template = TEMPLATE if migrated else "template0"
        assert self._loop is not None and self._admin is not None
        self._loop.run(self._admin.execute(f"CREATE DATABASE {name} TEMPLATE {template}"))
        return self.url(name)

    def drop_database(self, url: str) -> None:
        """Drop a test's database, ending any connection a failed test left open."""
        name = url.rsplit("/", 1)[1]
        assert self._loop is not None and self._admin is not None
        self._loop.run(self._admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))

    def stop(self) -> None:
        if self._loop is not None:
            if self._admin is not None:
                self._loop.run(self._admin.close())
            self._loop.close()
        try:
            if (self.data / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """One PostgreSQL for the whole session; each test takes a database from it."""
    server = PgServer()
    try:
        server.start()
        yield server
    finally:
        server.stop()
