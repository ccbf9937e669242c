"""The command line, run as a user runs it, against a real server process."""

from __future__ import annotations

import asyncio
import signal
import sqlite3

import aiohttp
from serverproc import Server, ekevents


def _last_line(text: str) -> str:
    return text.strip().splitlines()[-1]


async def test_a_key_made_while_the_server_runs_works_at_once(tmp_path):
    with Server(tmp_path / "ek.db") as server:
        made = ekevents("keys", "create", "--db", server.db_url, "--name", "ci", "--kind", "server")
        assert made.returncode == 0, made.stderr
        key = _last_line(made.stdout)
        assert key.startswith("ek_sk_") and " " not in key
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {key}"}) as http:
            response = await http.post(
                f"{server.url}/api/v1/event-definitions", json={"name": "hello"}
            )
            assert response.status == 201, await response.text()


def test_keys_are_stored_hashed_and_site_keys_get_origins(tmp_path):
    db = tmp_path / "ek.db"
    made = ekevents(
        "keys",
        "create",
        "--db",
        f"sqlite:///{db}",
        "--name",
        "shop",
        "--kind",
        "site",
        "--origin",
        "https://shop.example/",
    )
    key = _last_line(made.stdout)
    assert key.startswith("ek_pk_")
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT key_hash, origins, kind FROM api_keys").fetchall()
    assert rows[0][0] != key and key not in rows[0][0]
    assert rows[0][1] == '["https://shop.example"]' and rows[0][2] == "site"


def test_bad_cli_input_is_a_clear_error(tmp_path):
    db = f"sqlite:///{tmp_path / 'ek.db'}"
    bad_scope = ekevents(
        "keys",
        "create",
        "--db",
        db,
        "--name",
        "x",
        "--kind",
        "server",
        "--scopes",
        "events:write,everything",
    )
    assert bad_scope.returncode == 2 and "unknown scopes: everything" in bad_scope.stderr
    bad_db = ekevents("keys", "create", "--db", "mysql://x", "--name", "x", "--kind", "server")
    assert bad_db.returncode == 2 and "unsupported database URL" in bad_db.stderr
    assert "Traceback" not in bad_scope.stderr + bad_db.stderr


def test_users_get_scrypt_password_hashes(tmp_path):
    db = tmp_path / "ek.db"
    made = ekevents(
        "users",
        "create",
        "--db",
        f"sqlite:///{db}",
        "--email",
        "Ops@Example.com",
        "--password",
        "correct horse battery",
    )
    assert made.returncode == 0, made.stderr
    with sqlite3.connect(db) as conn:
        email, stored = conn.execute("SELECT email, password_hash FROM users").fetchone()
    assert email == "ops@example.com"
    assert stored.startswith("scrypt$") and "correct horse" not in stored
    from collector.users import verify_password

    assert verify_password("correct horse battery", stored)
    assert not verify_password("correct horse battery!", stored)
    short = ekevents(
        "users", "create", "--db", f"sqlite:///{db}", "--email", "a@b.c", "--password", "short"
    )
    assert short.returncode == 2


def test_the_signing_secret_is_made_once_and_kept_in_the_database(tmp_path):
    db = tmp_path / "ek.db"
    with Server(db):
        pass
    with sqlite3.connect(db) as conn:
        [(first,)] = conn.execute("SELECT value FROM settings WHERE key = 'signing_secret'")
    with Server(db):
        pass
    with sqlite3.connect(db) as conn:
        [(second,)] = conn.execute("SELECT value FROM settings WHERE key = 'signing_secret'")
    assert first == second and len(first) >= 40


async def test_sigterm_drains_and_every_acknowledged_event_is_stored(tmp_path):
    db = tmp_path / "ek.db"
    server = Server(db).start()
    try:
        key = _last_line(
            ekevents(
                "keys", "create", "--db", server.db_url, "--name", "k", "--kind", "server"
            ).stdout
        )
        acknowledged: list[str] = []
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {key}"}) as http:
            await http.post(
                f"{server.url}/api/v1/event-definitions", json={"name": "tick", "scope": "system"}
            )

            async def client(n: int) -> None:
                for i in range(400):
                    body = {"batch": [{"event": "tick", "id": f"c{n}-{i}-{j}"} for j in range(5)]}
                    try:
                        async with http.post(f"{server.url}/api/v1/events", json=body) as r:
                            if r.status == 200:
                                acknowledged.extend(x["id"] for x in (await r.json())["results"])
                    except aiohttp.ClientError:
                        return  # the server has stopped taking requests

            clients = [asyncio.create_task(client(n)) for n in range(8)]
            while len(acknowledged) < 200:
                await asyncio.sleep(0.01)
            server.signal(signal.SIGTERM)
            await asyncio.gather(*clients)
        assert await asyncio.to_thread(server.wait) == 0, server.output()
    finally:
        server.stop()
    with sqlite3.connect(db) as conn:
        stored = [row[0] for row in conn.execute("SELECT id FROM events")]
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert len(acknowledged) >= 200
    assert set(acknowledged) <= set(stored)
    assert len(stored) == len(set(stored))
