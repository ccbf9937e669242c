"""The application factory: every test and the CLI build the collector through it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from importlib import resources

import aiohttp_jinja2
import jinja2
from aiohttp import web

from collector.appkeys import (
    BROWSER,
    CONFIG,
    CONTACTS,
    DEFINITIONS,
    HISTORY,
    IDENTITY,
    KEYRING,
    LIVE,
    LOGIN_THROTTLE,
    PIPELINE,
    SCENARIOS,
    SEGMENTS,
    SESSIONS,
    STORAGE,
    UI_SIGNER,
    WRITER,
)
from collector.browser import Browser
from collector.config import Config
from collector.contacts import Contacts
from collector.definitions import Definitions
from collector.delivery import DeliveryWorker
from collector.ecommerce import DEFAULT_EVENTS
from collector.history import History
from collector.identity import Identity
from collector.keys import KeyRing
from collector.live import LiveFeed
from collector.login_throttle import LoginThrottle
from collector.pipeline import Pipeline
from collector.ratelimit import Buckets
from collector.retention import retention_loop
from collector.scenarios import Scenarios
from collector.secret import signing_secret
from collector.segments import Segments
from collector.sessions import SessionSigner
from collector.storage import open_storage
from collector.web import (
    api_catalog,
    api_compat,
    api_contacts,
    api_definitions,
    api_events,
    api_scenarios,
    api_segment,
    api_segments,
    browser,
    errors,
    ui_auth,
    ui_catalog,
    ui_contacts,
    ui_definitions,
    ui_events,
    ui_keys,
    ui_live,
    ui_overview,
    ui_scenarios,
    ui_segments,
)
from collector.writer import Writer


async def _services(app: web.Application) -> AsyncIterator[None]:
    """Open the database, start the writer; on the way out drain the writer, then close."""
    config = app[CONFIG]
    storage = open_storage(config.db_url)
    await storage.open()
    definitions = Definitions(storage)
    await definitions.load()
    await definitions.ensure(DEFAULT_EVENTS)
    live = LiveFeed(storage)
    scenarios = Scenarios(storage, definitions)
    await scenarios.load()

    def committed(items: list, outcomes: list) -> None:
        if any(getattr(item, "outbox", None) for item in items):
            scenarios.wake.set()  # new deliveries: the worker need not wait for its poll

    writer = Writer(storage, max_batch=config.writer_max_batch, on_commit=committed)
    app[LIVE] = live
    writer.start()
    secret = await signing_secret(storage)
    sessions = SessionSigner(secret)
    app[UI_SIGNER] = ui_auth.ui_signer(secret)
    contacts = Contacts(storage)
    app[STORAGE] = storage
    app[DEFINITIONS] = definitions
    app[WRITER] = writer
    app[SESSIONS] = sessions
    app[CONTACTS] = contacts
    app[KEYRING] = KeyRing(storage)
    app[HISTORY] = History(storage, definitions, contacts)
    app[PIPELINE] = Pipeline(storage, definitions, writer, sessions, scenarios)
    app[SCENARIOS] = scenarios
    app[IDENTITY] = Identity(storage, sessions)
    app[SEGMENTS] = Segments(storage, definitions)
    app[BROWSER] = Browser(
        app[KEYRING], sessions, app[PIPELINE], app[IDENTITY], Buckets(config.rate_limit)
    )
    app[LOGIN_THROTTLE] = LoginThrottle()
    background = [
        asyncio.create_task(definitions.watch(), name="ekevents-definitions"),
        asyncio.create_task(scenarios.watch(), name="ekevents-scenarios"),
        asyncio.create_task(DeliveryWorker(storage, scenarios).run(), name="ekevents-delivery"),
        asyncio.create_task(retention_loop(storage, definitions), name="ekevents-retention"),
    ]
    try:
        yield
    finally:
        await live.close()
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        await writer.stop()
        await storage.close()


async def create_app(config: Config) -> web.Application:
    app = web.Application(
        middlewares=[errors.json_errors, ui_auth.ui_guard],
        client_max_size=config.max_request_bytes + 1024,
    )
    app[CONFIG] = config
    app.cleanup_ctx.append(_services)
    templates = resources.files("collector.templates")
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(str(templates)),
        autoescape=True,
    )
    app.router.add_static("/static", str(templates / "static"), name="static")
    for module in (
        api_catalog,
        api_compat,
        api_definitions,
        api_events,
        api_contacts,
        api_scenarios,
        api_segment,
        api_segments,
        browser,
        ui_auth,
        ui_overview,
        ui_definitions,
        ui_events,
        ui_contacts,
        ui_live,
        ui_keys,
        ui_catalog,
        ui_segments,
        ui_scenarios,
    ):
        app.router.add_routes(module.routes)
    app.router.add_get("/healthz", _health, name="health")
    app.router.add_get("/favicon.ico", _favicon, name="favicon")
    return app


async def _favicon(request: web.Request) -> web.Response:
    """Browsers ask for it on every site; answer it rather than send them to /login."""
    raise web.HTTPMovedPermanently("/static/favicon.svg")


async def _health(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})
