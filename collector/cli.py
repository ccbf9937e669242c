"""The `ekevents` command: serve, users create, keys create (more commands join later)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from collector import demo
from collector.app import create_app
from collector.config import Config, default_db_url
from collector.errors import BadRequest, DomainError
from collector.keys import KeyRing, create_key
from collector.storage import Storage, open_storage
from collector.users import create_user


def _parser() -> argparse.ArgumentParser:
    db_help = "database URL: sqlite:///ekevents.db (default, env EKEVENTS_DB) or postgresql://…"
    parser = argparse.ArgumentParser(prog="ekevents", description=__doc__)
    parser.add_argument("--db", default=default_db_url(), help=db_help)
    # --db is also taken after the command; there it only overrides when given
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", default=argparse.SUPPRESS, help=db_help)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", parents=[common], help="run the collector, UI and API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--public-url", help="where browsers reach the collector (behind a proxy)")
    serve.add_argument(
        "--rate-limit",
        type=float,
        default=100,
        help="collect requests a second per client IP and per site key, "
        "bursts of twice that (0: no limit)",
    )
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes sharing the port (SO_REUSEPORT); they share only the database",
    )
    serve.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)

    demo = commands.add_parser(
        "demo", parents=[common], help="the collector plus a demo shop with sample data"
    )
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8000, help="collector; the shop takes port+1")

    bench = commands.add_parser(
        "bench", parents=[common], help="the load benchmark (wrk against a fresh collector)"
    )
    bench.add_argument(
        "--scenario", default="all", choices=("beacon", "batch", "identify", "segment", "all")
    )
    bench.add_argument("--duration", type=float, default=10, help="seconds per load run")
    bench.add_argument("--connections", type=int, default=32, help="wrk connections")
    bench.add_argument(
        "--workers",
        type=int,
        default=1,
        help="collector processes (serve --workers), and as many baseline processes",
    )
    bench.add_argument("--json", help="write the results to this file")

    backup = commands.add_parser(
        "backup", parents=[common], help="a consistent copy of a SQLite database, while it runs"
    )
    backup.add_argument("path", help="the file to write the copy to")

    users = commands.add_parser("users", help="UI logins").add_subparsers(
        dest="action", required=True
    )
    user_create = users.add_parser("create", parents=[common], help="create a UI login")
    user_create.add_argument("--email", required=True)
    user_create.add_argument("--password", required=True)

    keys = commands.add_parser("keys", help="API and site keys").add_subparsers(
        dest="action", required=True
    )
    key_create = keys.add_parser("create", parents=[common], help="create a key; printed once")
    key_create.add_argument("--name", required=True)
    key_create.add_argument("--kind", choices=("server", "site"), required=True)
    key_create.add_argument(
        "--origin", action="append", default=[], help="site keys: allowed origin"
    )
    key_create.add_argument("--scopes", help="server keys: comma list (default: all)")
    key_create.add_argument("--allow-read", help="identifiers this key may read by (default: all)")
    key_create.add_argument(
        "--allow-write", help="identifiers this key may write by (default: all)"
    )
    key_create.add_argument("--require-identity-hash", action="store_true")
    secret = keys.add_parser(
        "identity-secret", parents=[common], help="print a site key's identity-hash secret"
    )
    secret.add_argument("site_key")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        if args.command == "serve":
            return _serve(args)
        if args.command == "bench":
            from collector import bench

            args.db = args.db if args.db != default_db_url() else None
            args.rate_limit_flag = True
            return bench.run(args)
        if args.command == "backup":
            return _backup(args.db, args.path)
        if args.command == "demo":
            asyncio.run(_demo(args))
            return 0
        if args.command == "users":
            return _with_storage(args.db, lambda s: _create_user(s, args))
        if args.command == "keys" and args.action == "identity-secret":
            return _with_storage(args.db, lambda s: _identity_secret(s, args.site_key))
        if args.command == "keys":
            return _with_storage(args.db, lambda s: _create_key(s, args))
    except (DomainError, ValueError, NotImplementedError, OSError) as exc:
        print(f"ekevents: {getattr(exc, 'message', exc)}", file=sys.stderr)
        return 2
    return 1


def _serve(args: argparse.Namespace) -> int:
    config = Config(
        db_url=args.db,
        host=args.host,
        port=args.port,
        public_url=args.public_url,
        rate_limit=args.rate_limit,
    )
    if args.workers > 1:
        return _serve_workers(args)
    # aiohttp's runner turns SIGTERM/SIGINT into a graceful stop: in-flight requests finish,
    # then the cleanup context drains the writer, so nothing acknowledged is lost.
    web.run_app(
        create_app(config),
        host=config.host,
        port=config.port,
        access_log=None,
        reuse_port=args.reuse_port,
        loop=_fast_loop(),
    )
    return 0


def _fast_loop() -> asyncio.AbstractEventLoop:
    """uvloop where it is installed (a faster event loop), else asyncio's own."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def _serve_workers(args: argparse.Namespace) -> int:
    """N processes on one port (SO_REUSEPORT: the kernel spreads connections). They share
    nothing but the database. On SQLite each has its own writer; WAL with a busy timeout
    queues their transactions on the file lock, so none corrupts or loses another's."""
    import subprocess

    # Migrate once, here, before the workers race to (SQLite's journal-mode switch and
    # the first migration cannot be shared by processes opening a fresh file together).
    _with_storage(args.db, lambda _storage: asyncio.sleep(0))
    command = [
        sys.executable,
        "-m",
        "collector",
        "--db",
        args.db,
        "serve",
        "--host",
        args.host,
        "--port",
        str(args.port),
        "--rate-limit",
        str(args.rate_limit),
        "--reuse-port",
    ]
    if args.public_url:
        command += ["--public-url", args.public_url]
    children = [subprocess.Popen(command) for _ in range(args.workers)]

    def forward(sig: int, _frame: object) -> None:
        for child in children:
            child.send_signal(sig)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, forward)
    return max(child.wait() for child in children)


async def _demo(args: argparse.Namespace) -> None:
    collector_url = f"http://{args.host}:{args.port}"
    shop_port = args.port + 1
    shop_origins = (f"http://{args.host}:{shop_port}", f"http://localhost:{shop_port}")
    app = await create_app(Config(db_url=args.db, host=args.host, port=args.port))
    runners = [web.AppRunner(app, access_log=None)]
    await runners[0].setup()  # opens the database and starts the writer
    try:
        await web.TCPSite(runners[0], args.host, args.port).start()
        prepared = await demo.prepare(app, shop_origins)
        runners.append(web.AppRunner(demo.shop_app(collector_url, prepared.site_key)))
        await runners[1].setup()
        await web.TCPSite(runners[1], args.host, shop_port).start()
        print(f"ekEvents demo\n  collector  {collector_url}\n  shop       {shop_origins[0]}/")
        print(f"  login      {demo.DEMO_LOGIN} / {prepared.password}")
        print(f"  server key {prepared.server_key}")
        print(f"  site key   {prepared.site_key}", flush=True)
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        await stop.wait()
    finally:
        for runner in reversed(runners):
            await runner.cleanup()


def _with_storage(db_url: str, action: Callable[[Storage], Awaitable[Any]]) -> int:
    async def run() -> None:
        storage = open_storage(db_url)
        await storage.open()
        try:
            await action(storage)
        finally:
            await storage.close()

    asyncio.run(run())
    return 0


async def _create_user(storage: Storage, args: argparse.Namespace) -> None:
    user_id = await create_user(storage, args.email, args.password)
    print(f"user {args.email} ready (id {user_id})")


async def _create_key(storage: Storage, args: argparse.Namespace) -> None:
    token = await create_key(
        storage,
        name=args.name,
        kind=args.kind,
        origins=tuple(args.origin),
        scopes=args.scopes,
        allow_read=args.allow_read,
        allow_write=args.allow_write,
        require_identity_hash=args.require_identity_hash,
    )
    print(f"created {args.kind} key {args.name!r}; it is shown only this once:")
    print(token)


async def _identity_secret(storage: Storage, site_key: str) -> None:
    key = await KeyRing(storage).lookup(site_key)
    if key is None or key.kind != "site":
        raise BadRequest("no site key like that")
    print(f"identity secret of site key {key.name!r} (HMAC-SHA256 key for identity hashes):")
    print(key.identity_secret)


def _backup(db_url: str, path: str) -> int:
    """SQLite's online backup API: a consistent snapshot even while the collector writes
    (it copies pages and restarts if a writer changes them midway)."""
    import sqlite3
    from pathlib import Path

    if not db_url.startswith("sqlite:///"):
        raise ValueError("ekevents backup copies SQLite databases; for PostgreSQL use pg_dump")
    source_path = db_url.removeprefix("sqlite:///")
    if not Path(source_path).exists():
        raise ValueError(f"no database at {source_path}")
    target = Path(path)
    if target.exists():
        raise ValueError(f"{target} exists; back up to a new file")
    source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True, timeout=30)
    copy = sqlite3.connect(target)
    try:
        source.backup(copy, pages=1024)
        ok = copy.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        copy.close()
        source.close()
    print(f"backed up {source_path} to {target} (integrity: {ok})")
    return 0 if ok == "ok" else 1
