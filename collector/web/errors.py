"""One middleware turns every error into `{error: {code, message}}`: domain errors with
their own status, aiohttp's HTTP errors by theirs, and anything unexpected into a 500
that logs the trace and shows none."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from collector.errors import DomainError
from collector.web.paths import is_ui_path

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    429: "rate_limited",
}


def error_response(status: int, code: str, message: str, details: Any = None) -> web.Response:
    error: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    return web.json_response({"error": error}, status=status)


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except DomainError as exc:
        if is_ui_path(request.path):
            return await _html_error(request, exc.status, "That did not work", exc.message)
        return web.json_response(exc.body(), status=exc.status, headers=exc.headers)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        if is_ui_path(request.path):
            return await _html_error(request, exc.status, exc.reason or "Error")
        response = error_response(
            exc.status, _CODES.get(exc.status, "http_error"), exc.reason or "error"
        )
        for header in ("Allow", "Retry-After"):
            if header in exc.headers:
                response.headers[header] = exc.headers[header]
        return response
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        if is_ui_path(request.path):
            return await _html_error(request, 500, "Something went wrong on our side")
        return error_response(500, "internal_error", "something went wrong on our side")


_UI_MESSAGES = {
    404: "There is nothing at this address. It may have been hidden or never existed.",
    405: "This page cannot be used that way.",
}


async def _html_error(
    request: web.Request, status: int, title: str, message: str | None = None
) -> web.Response:
    """The error as a UI page: the layout (nav for a signed-in user) and the security
    headers, which this middleware, running outside the UI guard, must add itself."""
    from collector.web.ui import render  # the UI modules import this one
    from collector.web.ui_auth import SECURITY_HEADERS

    message = message or _UI_MESSAGES.get(status, "Please go back and try again.")
    try:
        response = await render(
            request, "error.html", {"title": title, "message": message}, status=status
        )
    except Exception:  # the error may be the database itself: no user, no nav then
        response = aiohttp_jinja2.render_template(
            "error.html", request, {"title": title, "message": message}, status=status
        )
    response.headers.update(SECURITY_HEADERS)
    return response
