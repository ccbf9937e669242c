"""Helpers for browser tests: Debian's Chromium through Playwright, a real collector
process, and a small site of test pages with the real install snippet pasted in."""

from __future__ import annotations

import asyncio
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from playwright.async_api import async_playwright
from serverproc import Server, ekevents, free_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@asynccontextmanager
async def chromium():
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            await browser.close()


class Collector:
    """`ekevents serve` in a subprocess, with a server key to look at what it stored."""

    def __init__(self, tmp: Path) -> None:
        self.server = Server(tmp / "collector.db")
        self.http: aiohttp.ClientSession | None = None

    async def start(self) -> Collector:
        await asyncio.to_thread(self.server.start)
        made = ekevents(
            "keys", "create", "--db", self.server.db_url, "--name", "tests", "--kind", "server"
        )
        self.key = made.stdout.strip().splitlines()[-1]
        self.http = aiohttp.ClientSession(
            self.server.url, headers={"Authorization": f"Bearer {self.key}"}
        )
        return self

    @property
    def url(self) -> str:
        return self.server.url

    def site_key(self, origin: str, *extra: str) -> str:
        made = ekevents(
            "keys",
            "create",
            "--db",
            self.server.db_url,
            "--name",
            "site",
            "--kind",
            "site",
            "--origin",
            origin,
            *extra,
        )
        assert made.returncode == 0, made.stderr
        return made.stdout.strip().splitlines()[-1]

    async def define(self, name: str, fields: list[dict[str, Any]] | None = None, **kw: Any):
        assert self.http
        body = {"name": name, "fields": fields or [], **kw}
        async with self.http.post("/api/v1/event-definitions", json=body) as r:
            created = r.status
        if created == 409:  # a pre-registered default event: give it this shape
            async with self.http.put(f"/api/v1/event-definitions/{name}", json=body) as r:
                assert r.status == 200, await r.text()
        else:
            assert created == 201

    async def events(self, **query: str) -> list[dict[str, Any]]:
        """Stored events matching `query`, oldest first."""
        assert self.http
        async with self.http.get("/api/v1/events", params={"limit": "1000", **query}) as r:
            assert r.status == 200, await r.text()
            return list(reversed((await r.json())["events"]))

    async def wait_for(self, count: int, timeout: float = 10, **query: str) -> list[dict]:
        """Poll until at least `count` events match; on timeout show what did arrive."""
        deadline = time.monotonic() + timeout
        while True:
            found = await self.events(**query)
            if len(found) >= count or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)
        if len(found) < count:
            everything = await self.events()
            raise AssertionError(
                f"wanted {count} events {query}, got {len(found)}; the collector has: "
                + repr([(e["event"], e["params"]) for e in everything])
                + "\n"
                + self.server.output()
            )
        return found

    async def stop(self) -> None:
        if self.http:
            await self.http.close()
        self.server.stop()


class Site:
    """Test pages on their own origin, each with the install snippet from the collector."""

    def __init__(self) -> None:
        self.port = free_port()
        self.origin = f"http://127.0.0.1:{self.port}"
        self.pages: dict[str, str] = {}
        self.snippet = ""

    def page(
        self,
        path: str,
        body: str,
        *,
        title: str = "Test page",
        head: str = "",
        snippet: bool = True,
    ) -> None:
        self.pages[path] = (
            f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title>"
            f"{self.snippet if snippet else ''}{head}</head><body>{body}</body></html>"
        )

    async def start(self, collector: Collector, *key_options: str) -> Site:
        self.site_key = collector.site_key(self.origin, *key_options)
        assert collector.http
        async with collector.http.get("/api/v1/snippet", params={"site_key": self.site_key}) as r:
            self.snippet = await r.text()

        async def serve(request: web.Request) -> web.Response:
            path = request.path
            html = self.pages.get(path) or next(
                (v for k, v in self.pages.items() if k.endswith("*") and path.startswith(k[:-1])),
                None,
            )
            if html is None:
                raise web.HTTPNotFound()
            return web.Response(text=html, content_type="text/html")

        app = web.Application()
        app.router.add_get("/{tail:.*}", serve)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()
        return self

    async def stop(self) -> None:
        await self.runner.cleanup()
