"""`ekevents demo`: the collector plus a small shop that uses it, with sample data.

The shop (demo_site/) has the install snippet pasted into every page as a customer
would; the only thing filled in when serving is the collector's URL and the site key.
"""

from __future__ import annotations

import contextlib
import random
import secrets
from dataclasses import dataclass
from datetime import timedelta
from importlib import resources
from typing import Any

from aiohttp import web

from collector.appkeys import DEFINITIONS, KEYRING, PIPELINE, STORAGE
from collector.errors import Conflict
from collector.keys import create_key
from collector.model import ContactRef, IncomingEvent
from collector.storage import EventQuery
from collector.timeutil import now_us
from collector.users import create_user

DEMO_LOGIN = "demo@ekevents.test"

# The shop's page views, product views, carts and orders are the default e-commerce
# events (pre-registered); the demo adds one custom event, sent by a no-code rule.
DEFINITIONS_ = [
    {
        "name": "newsletter-signup",
        "title": "Newsletter sign-up",
        "category": "conversion",
        "fields": [{"code": "topic", "label": "Topic", "type": "text"}],
        # a no-code rule: nothing in the shop's own code sends this event
        "web_tracking": {
            "enabled": True,
            "rules": [
                {
                    "trigger": {"on": "submit", "selector": "#newsletter"},
                    "params": {"topic": {"from": "field", "name": "topic"}},
                }
            ],
        },
    },
]
PRODUCTS = [
    ("tee-red", "Red shirt", 19.9, "Shirts"),
    ("tee-blue", "Blue shirt", 19.9, "Shirts"),
    ("cap-black", "Black cap", 14.5, "Hats"),
    ("mug-white", "White mug", 9.0, "Home"),
]


@dataclass(frozen=True, slots=True)
class Demo:
    site_key: str
    server_key: str
    password: str


async def prepare(app: web.Application, shop_origins: tuple[str, ...]) -> Demo:
    """Definitions (once), fresh keys and login password, and sample data (once)."""
    storage, definitions = app[STORAGE], app[DEFINITIONS]
    for body in DEFINITIONS_:
        with contextlib.suppress(Conflict):  # an earlier demo run on this database made it
            await definitions.create(body)
    site_key = await create_key(storage, name="demo shop", kind="site", origins=shop_origins)
    server_key = await create_key(storage, name="demo backend", kind="server")
    password = secrets.token_urlsafe(9)
    await create_user(storage, DEMO_LOGIN, password)
    if not await storage.search_events(EventQuery(limit=1)):
        await _sample_data(app, server_key)
    return Demo(site_key, server_key, password)


async def _sample_data(app: web.Application, server_key: str) -> None:
    """Two weeks of a dozen customers browsing and buying, through the real pipeline."""
    rng = random.Random(7)
    key = await app[KEYRING].lookup(server_key)
    assert key is not None
    day = int(timedelta(days=1).total_seconds() * 1_000_000)
    events: list[IncomingEvent] = []
    for n in range(12):
        email = f"customer{n + 1}@example.com"
        for _ in range(rng.randint(2, 6)):
            at = now_us() - rng.randint(0, 14 * day)
            product_id, name, price, category = rng.choice(PRODUCTS)
            product = {"product_id": product_id, "name": name, "price": price}
            steps: list[tuple[str, dict[str, Any]]] = [
                ("page-view", {"title": "Demo Shop", "url": "/index.html"}),
                ("product-viewed", {**product, "category": category}),
            ]
            if rng.random() < 0.6:
                steps.append(("add-to-cart", {**product, "cart_id": f"cart-{n}", "quantity": 1}))
                if rng.random() < 0.5:
                    steps.append(
                        (
                            "order-completed",
                            {"order_id": f"order-{n}-{at}", "total": price, "products": [product]},
                        )
                    )
            for offset, (name_, params) in enumerate(steps):
                events.append(
                    IncomingEvent(
                        door="api",
                        raw="{}",
                        name=name_,
                        timestamp_us=at + offset * 30_000_000,
                        contact=ContactRef("email", email),
                        params=params,
                        api_inserted=True,
                        api_verified=True,
                    )
                )
    source = {"endpoint": "ekevents demo", "key": key.name}
    for start in range(0, len(events), 500):
        await app[PIPELINE].run(events[start : start + 500], key, source)


def shop_app(collector_url: str, site_key: str) -> web.Application:
    """The demo shop: static pages with the snippet's two blanks filled in."""
    folder = resources.files("collector.demo_site")

    async def page(request: web.Request) -> web.Response:
        name = request.match_info.get("name") or "index.html"
        if (
            "/" in name
            or name.startswith(("_", "."))
            or not name.endswith((".html", ".css", ".js"))
        ):
            raise web.HTTPNotFound()
        file = folder.joinpath(name)
        if not file.is_file():
            raise web.HTTPNotFound()
        text = file.read_text()
        if name.endswith(".html"):
            text = text.replace("{{COLLECTOR}}", collector_url).replace("{{SITE_KEY}}", site_key)
        types = {".html": "text/html", ".css": "text/css", ".js": "application/javascript"}
        return web.Response(text=text, content_type=types[name[name.rindex(".") :]])

    app = web.Application()
    app.router.add_get("/", page)
    app.router.add_get("/{name}", page)
    return app
