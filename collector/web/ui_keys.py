"""UI: site and server keys. A new key's secret is shown once, on the page that made it."""

from __future__ import annotations

from aiohttp import web

from collector.appkeys import KEYRING, STORAGE
from collector.errors import DomainError
from collector.keys import create_key
from collector.model import IDENTIFIERS, SCOPES_OF_KEYS
from collector.web.browser import public_base
from collector.web.ui import redirect, render

routes = web.RouteTableDef()


async def _page(request: web.Request, **values: object) -> web.Response:
    status = int(values.pop("status", 200))  # type: ignore[call-overload]
    return await render(
        request,
        "keys.html",
        {
            "title": "Keys",
            "keys": await request.app[STORAGE].list_keys(),
            "scopes": SCOPES_OF_KEYS,
            "identifiers": IDENTIFIERS,
            "form": {},
            "error": None,
            "created": None,
            **values,
        },
        status=status,
    )


@routes.get("/keys", name="keys")
async def keys(request: web.Request) -> web.Response:
    return await _page(request)


@routes.post("/keys", name="keys-create")
async def create(request: web.Request) -> web.Response:
    form = await request.post()
    kind = str(form.get("kind", "server"))
    origins = tuple(
        line.strip() for line in str(form.get("origins", "")).splitlines() if line.strip()
    )
    try:
        token = await create_key(
            request.app[STORAGE],
            name=str(form.get("name", "")).strip() or "unnamed",
            kind=kind,
            origins=origins,
            scopes=",".join(form.getall("scopes", [])) if kind == "server" else None,
            allow_read=",".join(form.getall("allow_read", [])) if kind == "server" else None,
            allow_write=",".join(form.getall("allow_write", [])) if kind == "server" else None,
            require_identity_hash=form.get("require_identity_hash") == "on",
        )
    except DomainError as exc:
        return await _page(request, form=form, error=exc.message, status=422)
    snippet_url = (
        f"{public_base(request)}/api/v1/snippet?site_key={token}" if kind == "site" else None
    )
    return await _page(request, created={"kind": kind, "token": token, "snippet_url": snippet_url})


@routes.post("/keys/{id}/revoke", name="keys-revoke")
async def revoke(request: web.Request) -> web.Response:
    key_id = request.match_info["id"]
    if key_id.isascii() and key_id.isdigit():
        await request.app[STORAGE].revoke_key(int(key_id))
        request.app[KEYRING].forget()
    raise redirect("/keys", done="revoked")
