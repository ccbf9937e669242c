"""UI sign-in: the login form, the signed UI session cookie, CSRF on every form, and the
guard that sends anyone not signed in to /login.

The UI session is its own itsdangerous-signed cookie (`ek_ui`: user id and the CSRF
token), separate from visitors' `ek_sid`. Every POST to a UI page must carry the session's
CSRF token in a `csrf` field; the login form, which comes before any session, uses a
double-submit token (`ek_csrf` cookie = form field).
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from itsdangerous import BadSignature, URLSafeTimedSerializer

from collector.appkeys import LOGIN_THROTTLE, STORAGE, UI_SIGNER
from collector.users import verify_password
from collector.web.errors import Handler
from collector.web.paths import is_ui_path

routes = web.RouteTableDef()

UI_COOKIE = "ek_ui"
LOGIN_CSRF_COOKIE = "ek_csrf"
SESSION_SECONDS = 12 * 3600
_PUBLIC_UI = ("/login",)

USER = web.RequestKey("ek_user", object)

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def ui_signer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt="ekevents.ui")


async def current_user(request: web.Request) -> dict[str, Any] | None:
    """The signed-in user (with the session's CSRF token), or None."""
    if USER in request:
        return request[USER]
    user = None
    token = request.cookies.get(UI_COOKIE)
    if token:
        try:
            data = request.app[UI_SIGNER].loads(token, max_age=SESSION_SECONDS)
        except BadSignature:
            data = None
        if isinstance(data, dict) and isinstance(data.get("u"), int):
            found = await request.app[STORAGE].user_by_id(data["u"])
            if found:
                user = {**found, "csrf": data.get("c", "")}
    request[USER] = user
    return user


def csrf_ok(expected: str | None, given: Any) -> bool:
    return bool(expected) and isinstance(given, str) and hmac.compare_digest(expected, given)


@web.middleware
async def ui_guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every UI page needs a user; every UI form post needs its CSRF token; every UI
    response gets the security headers."""
    if not is_ui_path(request.path):
        return await handler(request)
    if not request.path.startswith(_PUBLIC_UI):
        user = await current_user(request)
        if user is None:
            raise web.HTTPFound(
                f"/login?next={request.path_qs}" if request.method == "GET" else "/login"
            )
        if request.method == "POST":
            form = await request.post()
            if not csrf_ok(user["csrf"], form.get("csrf")):
                return _forbidden(request)
    response = await handler(request)
    response.headers.update(SECURITY_HEADERS)
    return response


def _forbidden(request: web.Request) -> web.Response:
    response = aiohttp_jinja2.render_template(
        "error.html",
        request,
        {
            "title": "Form expired",
            "message": "This form was missing its security token or "
            "it expired. Go back, reload the page and try again.",
        },
        status=403,
    )
    response.headers.update(SECURITY_HEADERS)
    return response


def _safe_next(target: Any) -> str:
    """Only local paths: a login must not bounce to another site."""
    if isinstance(target, str) and target.startswith("/") and not target.startswith("//"):
        return target
    return "/"


@routes.get("/login", name="login")
async def login_form(request: web.Request) -> web.Response:
    if await current_user(request):
        raise web.HTTPFound("/")
    # Reuse a token already issued: a second GET (another tab, a browser's own request
    # for /favicon.ico) must not invalidate the form already on screen.
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24)
    response = aiohttp_jinja2.render_template(
        "login.html",
        request,
        {"login_csrf": token, "next": _safe_next(request.query.get("next")), "error": None},
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="Strict",
        secure=request.secure,
        path="/login",
    )
    return response


@routes.post("/login", name="login-post")
async def login(request: web.Request) -> web.Response:
    form = await request.post()
    if not csrf_ok(request.cookies.get(LOGIN_CSRF_COOKIE), form.get("csrf")):
        return _forbidden(request)
    email = str(form.get("email", "")).strip().lower()
    password = str(form.get("password", ""))
    throttle, ip = request.app[LOGIN_THROTTLE], request.remote or ""
    wait = throttle.wait(email, ip)
    if wait:
        response = aiohttp_jinja2.render_template(
            "error.html",
            request,
            {
                "title": "Too many attempts",
                "message": "Too many failed sign-ins for this account "
                "or address. Wait a few minutes and try again.",
            },
            status=429,
        )
        response.headers["Retry-After"] = str(int(wait) + 1)
        response.headers.update(SECURITY_HEADERS)
        return response
    user = await request.app[STORAGE].user_by_email(email)
    if user is None or not verify_password(password, user["password_hash"]):
        throttle.failed(email, ip)
        token = secrets.token_urlsafe(24)
        response = aiohttp_jinja2.render_template(
            "login.html",
            request,
            {
                "login_csrf": token,
                "next": _safe_next(form.get("next")),
                "email": email,
                "error": "That email and password do not match a user.",
            },
            status=401,
        )
        response.set_cookie(
            LOGIN_CSRF_COOKIE,
            token,
            httponly=True,
            samesite="Strict",
            secure=request.secure,
            path="/login",
        )
        return response
    throttle.succeeded(email)
    session = request.app[UI_SIGNER].dumps({"u": user["id"], "c": secrets.token_urlsafe(24)})
    response = web.HTTPFound(_safe_next(form.get("next")))
    response.set_cookie(
        UI_COOKIE,
        session,
        max_age=SESSION_SECONDS,
        httponly=True,
        samesite="Lax",
        secure=request.secure,
        path="/",
    )
    response.del_cookie(LOGIN_CSRF_COOKIE, path="/login")
    raise response


@routes.post("/logout", name="logout")
async def logout(request: web.Request) -> web.Response:
    response = web.HTTPFound("/login")
    response.del_cookie(UI_COOKIE, path="/")
    raise response
