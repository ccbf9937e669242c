"""HTTP for browsers: the tracker script, the collect endpoint, the install snippet, and
the server-side session and identify calls."""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from collector import jsonwire
from collector.appkeys import BROWSER, CONFIG, DEFINITIONS, IDENTITY, KEYRING, SESSIONS
from collector.browser import Visit, cors_headers
from collector.errors import BadRequest, NotFound
from collector.keys import origin_of
from collector.tracker import COLLECT_PATH, loader_stub, tracker_rules, tracker_script
from collector.web.bodies import BodyTooLarge, json_body, presented_key, read_limited

routes = web.RouteTableDef()

SESSION_COOKIE = "ek_sid"
SESSION_COOKIE_AGE = 400 * 24 * 3600  # the longest browsers keep a cookie
MAX_COLLECT_BYTES = 64 * 1024


def public_base(request: web.Request) -> str:
    configured = request.app[CONFIG].public_url
    return configured.rstrip("/") if configured else f"{request.scheme}://{request.host}"


@routes.get("/s/{site_key}.js", name="tracker")
async def tracker(request: web.Request) -> web.StreamResponse:
    token = request.match_info["site_key"]
    key = await request.app[KEYRING].lookup(token)
    if key is None or key.kind != "site":
        raise NotFound("no site key like that")
    rules = tracker_rules(request.app[DEFINITIONS].all_current())
    script = tracker_script(token, public_base(request) + COLLECT_PATH, rules)
    headers = {
        "ETag": script.etag,
        "Cache-Control": "public, max-age=300",  # short: rule changes reach browsers soon
        "Vary": "Accept-Encoding",
    }
    if script.etag in request.headers.get("If-None-Match", ""):
        return web.Response(status=304, headers=headers)
    body = script.body
    if "gzip" in request.headers.get("Accept-Encoding", ""):
        body, headers["Content-Encoding"] = script.gzipped, "gzip"
    return web.Response(
        body=body, headers=headers, content_type="application/javascript", charset="utf-8"
    )


@routes.post(COLLECT_PATH, name="collect")
async def collect(request: web.Request) -> web.Response:
    try:
        raw = await read_limited(request, MAX_COLLECT_BYTES)
    except BodyTooLarge:
        raise BadRequest(
            f"at most {MAX_COLLECT_BYTES} bytes per request", code="payload_too_large"
        ) from None
    visit = Visit(
        origin=request.headers.get("Origin") or origin_of(request.headers.get("Referer")),
        cookie=request.cookies.get(SESSION_COOKIE),
        user_agent=request.headers.get("User-Agent", ""),
        ip=request.remote,
        path=request.path,
    )
    collected = await request.app[BROWSER].collect(raw, visit)
    cross_site = f"{request.scheme}://{request.host}".lower() != collected.origin
    return web.Response(
        body=jsonwire.compact({"s": collected.session, "r": collected.results}).encode(),
        content_type="application/json",
        headers={
            **cors_headers(collected.origin),
            # Set by the server, not by script: Safari caps cookies written by JS at 7 days.
            "Set-Cookie": session_cookie(
                collected.session, request.secure, cross_site and request.secure
            ),
        },
    )


def session_cookie(token: str, secure: bool, cross_site: bool) -> str:
    """The Set-Cookie value for a session token (URL-safe characters only, so written
    directly: http.cookies' Morsel costs more than the rest of the response)."""
    return (
        f"{SESSION_COOKIE}={token}; HttpOnly; Max-Age={SESSION_COOKIE_AGE}; Path=/; "
        f"SameSite={'None' if cross_site else 'Lax'}{'; Secure' if secure else ''}"
    )


@routes.options(COLLECT_PATH, name="collect-preflight")
async def collect_preflight(request: web.Request) -> web.Response:
    """Our tracker sends simple requests; this answers anyone who sends a preflight."""
    response = web.Response(status=204)
    origin = request.headers.get("Origin")
    if origin:
        response.headers.update(cors_headers(origin))
        response.headers["Access-Control-Allow-Methods"] = "POST"
        response.headers["Access-Control-Allow-Headers"] = "Content-Type"
        response.headers["Access-Control-Max-Age"] = "86400"
    return response


@routes.get("/api/v1/snippet", name="api-snippet")
async def snippet(request: web.Request) -> web.Response:
    """The install HTML for a site key (public, like the key itself)."""
    token = request.query.get("site_key", "")
    key = await request.app[KEYRING].lookup(token)
    if key is None or key.kind != "site":
        raise NotFound("no site key like that")
    html = aiohttp_jinja2.render_string(
        "install_snippet.html",
        request,
        {
            "stub": loader_stub(),
            "script_url": f"{public_base(request)}/s/{token}.js",
            "auto_pageview": request.query.get("auto_pageview") not in ("0", "false"),
        },
    )
    return web.Response(text=html, content_type="text/html")


@routes.post("/api/v1/sessions", name="api-sessions")
async def new_session(request: web.Request) -> web.Response:
    await request.app[KEYRING].server_key(presented_key(request), "events:write")
    _, token = request.app[SESSIONS].new()
    return web.json_response({"session": token}, status=201)


@routes.post("/api/v1/identify", name="api-identify")
async def identify(request: web.Request) -> web.Response:
    key = await request.app[KEYRING].server_key(presented_key(request), "events:write")
    return web.json_response(
        await request.app[IDENTITY].identify_api(await json_body(request), key)
    )
