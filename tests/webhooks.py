"""A real local webhook receiver for the scenario tests (an aiohttp server on loopback)."""

from __future__ import annotations

import asyncio
import json

from aiohttp import web
from serverproc import free_port


class Receiver:
    """A webhook endpoint that answers with the statuses it is told to, in turn."""

    def __init__(self, statuses=(200,), port: int | None = None) -> None:
        self.statuses = list(statuses)
        self.calls: list[tuple[dict, bytes, dict]] = []
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook"

    async def handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        self.calls.append((json.loads(raw), raw, dict(request.headers)))
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        return web.Response(status=status)

    async def start(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()
        return self

    async def stop(self) -> None:
        await self.runner.cleanup()

    async def wait(self, n: int, timeout: float = 10) -> None:
        for _ in range(int(timeout / 0.05)):
            if len(self.calls) >= n:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"wanted {n} webhook calls, got {len(self.calls)}")
