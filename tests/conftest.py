"""Shared fixtures: a collector app on a fresh database per test (SQLite and PostgreSQL),
and keys for it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pg import pg_server  # noqa: F401 (the session's PostgreSQL, for db_url)

from collector.app import create_app
from collector.appkeys import STORAGE
from collector.config import Config
from collector.keys import create_key
from collector.users import create_user


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database per test, on each backend: a SQLite file, or a database of the
    PostgreSQL the session started (tests/pg.py)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ekevents.db'}"
        return
    server = request.getfixturevalue("pg_server")
    url = server.create_database()
    yield url
    server.drop_database(url)


class Api:
    """A test client that speaks the HTTP API with one key."""

    def __init__(self, client: Any, key: str) -> None:
        self.client = client
        self.key = key
        self.app = client.server.app

    def headers(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.key}"}

    async def post(self, path: str, body: Any = None, *, key: str | None = None, **kw: Any):
        if body is not None:
            kw["json"] = body
        return await self.client.post(path, headers=self.headers(key), **kw)

    async def put(self, path: str, body: Any, *, key: str | None = None):
        return await self.client.put(path, json=body, headers=self.headers(key))

    async def get(self, path: str, *, key: str | None = None, **kw: Any):
        return await self.client.get(path, headers=self.headers(key), **kw)

    async def new_key(self, **kw: Any) -> str:
        kw.setdefault("name", "extra")
        kw.setdefault("kind", "server")
        return await create_key(self.app[STORAGE], **kw)

    async def define(self, name: str, fields: list[dict[str, Any]] | None = None, **kw: Any):
        """Define `name` with exactly these fields: created, or (for the pre-registered
        default events) edited into this shape."""
        body = {"name": name, "fields": fields or [], **kw}
        response = await self.post("/api/v1/event-definitions", body)
        if response.status == 409:
            response = await self.put(f"/api/v1/event-definitions/{name}", body)
            assert response.status == 200, await response.text()
            return await response.json()
        assert response.status == 201, await response.text()
        return await response.json()

    async def send(self, body: Any, *, expect: int | None = None) -> dict[str, Any]:
        response = await self.post("/api/v1/events", body)
        data = await response.json()
        if expect is not None:
            assert response.status == expect, data
        return data

    async def events(self, **query: Any) -> list[dict[str, Any]]:
        response = await self.get("/api/v1/events", params=query)
        assert response.status == 200, await response.text()
        return (await response.json())["events"]

    async def failed(self, **query: Any) -> list[dict[str, Any]]:
        response = await self.get("/api/v1/failed-events", params=query)
        assert response.status == 200, await response.text()
        return (await response.json())["failed_events"]


@pytest.fixture
async def api(aiohttp_client: Any, db_url: str) -> Api:
    client = await aiohttp_client(await create_app(Config(db_url=db_url)))
    key = await create_key(client.server.app[STORAGE], name="test server", kind="server")
    return Api(client, key)


CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')


class Ui:
    """A signed-in UI user driving the server-rendered pages over HTTP."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.csrf = ""

    async def login(self, email: str, password: str) -> Any:
        page = await (await self.client.get("/login")).text()
        token = CSRF_FIELD.search(page).group(1)
        response = await self.client.post(
            "/login",
            data={"email": email, "password": password, "csrf": token, "next": "/"},
            allow_redirects=False,
        )
        return response

    async def get(self, path: str, **kw: Any) -> Any:
        response = await self.client.get(path, **kw)
        found = CSRF_FIELD.search(await response.text())
        if found:
            self.csrf = found.group(1)
        return response

    async def post(self, path: str, data: Any, **kw: Any) -> Any:
        if isinstance(data, dict):
            data = {"csrf": self.csrf, **data}
        else:
            data = [("csrf", self.csrf), *data]
        return await self.client.post(path, data=data, **kw)


@pytest.fixture
async def ui(api: Api) -> Ui:
    """Signed in as ops@example.com, sharing the database with `api`."""
    await create_user(api.app[STORAGE], "ops@example.com", "correct horse")
    ui = Ui(api.client)
    response = await ui.login("ops@example.com", "correct horse")
    assert response.status == 302, await response.text()
    await ui.get("/")
    return ui


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Webhook retries after 0.05 s, 0.1 s … instead of 1 s, 2 s …"""
    monkeypatch.setenv("EKEVENTS_WEBHOOK_RETRY_BASE", "0.05")


@pytest.fixture
async def receiver() -> Any:
    """A real webhook receiver on loopback that answers 200."""
    from webhooks import Receiver

    started = await Receiver().start()
    yield started
    await started.stop()
