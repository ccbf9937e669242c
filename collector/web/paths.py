"""Which requests are UI pages (HTML, signed-in users) and which are machine doors."""

from __future__ import annotations

# APIs with their own keys, the browser door, the tracker script, assets.
_NOT_UI = ("/api/", "/v1/", "/s/", "/healthz", "/static/", "/favicon.ico")


def is_ui_path(path: str) -> bool:
    return not (path.startswith(_NOT_UI) or path == "/e")
