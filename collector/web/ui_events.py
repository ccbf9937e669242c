"""UI: the event history, one event's detail, failed events and their replay.

Pages read through the same services as the API (History, Pipeline), acting as the UI
principal. Bad filter input comes back as the same page with the form kept and an inline
error (400), never as a JSON error or a 500. The parameter summary and the time helpers
here are shared with the contacts pages; the generic view helpers live in ui.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web
from yarl import URL

from collector.appkeys import CONTACTS, DEFINITIONS, HISTORY, PIPELINE, STORAGE
from collector.charts import bar_chart, volume
from collector.errors import DomainError
from collector.keys import UI_PRINCIPAL
from collector.timeutil import format_us, parse_time_us
from collector.web.ui import (
    FLASH_KEYS,
    contact_labels,
    not_found,
    page_url,
    pretty,
    redirect,
    render,
    show_value,
)
from collector.web.ui_auth import current_user
from collector.webcontext import parse_user_agent

routes = web.RouteTableDef()

PAGE_SIZE = 50
MAX_REPLAY = 500
SUMMARY_PARAMS = 4
SUMMARY_CHARS = 40
CONTACT_FILTERS = ("email", "phone", "contact_id", "external_id")
# Every reason code the pipeline and the doors record, for the failed-events filter.
REASONS = (
    "unknown_event",
    "hidden_event",
    "missing_required",
    "invalid_type",
    "invalid_param",
    "too_many_fields",
    "unknown_contact",
    "unknown_contact_field",
    "invalid_session",
    "identity_refused",
    "malformed",
    "payload_too_large",
    "definition_changed",
)


# -- view helpers (shared with ui_contacts) ----------------------------------------------


def summarize(params: Mapping[str, Any] | None) -> str:
    """The first few `k=v` of an event's parameters (its source has its own column)."""
    shown = [(k, v) for k, v in (params or {}).items() if k != "source"]
    parts = []
    for code, value in shown[:SUMMARY_PARAMS]:
        text = show_value(value)
        if len(text) > SUMMARY_CHARS:
            text = text[: SUMMARY_CHARS - 1] + "…"
        parts.append(f"{code}={text}")
    if len(shown) > SUMMARY_PARAMS:
        parts.append(f"+{len(shown) - SUMMARY_PARAMS} more")
    return ", ".join(parts)


def wire_time(text: str) -> str:
    """A form's time (datetime-local `2026-11-24T10:00`, or any contract format) as ISO
    with a Z; text that is no time passes through for the service to explain."""
    try:
        return format_us(parse_time_us(text)) or text
    except (ValueError, OverflowError):
        return text


def local_time(text: str) -> str:
    """What a datetime-local input shows for a wire time (UTC), or the text as typed."""
    try:
        return (format_us(parse_time_us(text)) or "")[:19]
    except (ValueError, OverflowError):
        return text


HELPERS = {"summarize": summarize, "show_value": show_value, "pretty": pretty}


def replay_counts(query: Mapping[str, str]) -> dict[str, int] | None:
    if query.get("done") != "replayed":
        return None
    counts = {}
    for name in ("accepted", "failing", "skipped"):
        text = query.get(name, "0")
        counts[name] = int(text) if text.isascii() and text.isdigit() and len(text) < 7 else 0
    return counts


# -- event history -------------------------------------------------------------------------


def history_query(form: Mapping[str, str]) -> dict[str, str]:
    """The History.search query for the filters form."""
    query: dict[str, str] = {"limit": form.get("limit") or str(PAGE_SIZE)}
    for name in ("event", *CONTACT_FILTERS, "cursor"):
        if form.get(name, "").strip():
            query[name] = form[name].strip()
    for name in ("since", "until"):
        if form.get(name, "").strip():
            query[name] = wire_time(form[name].strip())
    code = form.get("param", "").strip()
    if code:
        query[f"param.{code}"] = form.get("param_value", "")
    elif form.get("param_value"):
        raise _FilterError("Choose the parameter the value is for.")
    for name, value in form.items():  # `param.<code>=value` as the API takes it
        if name.startswith("param."):
            query.setdefault(name, value)
    return query


class _FilterError(DomainError):
    code = "invalid_query"


@routes.get("/events", name="ui-events")
async def event_history(request: web.Request) -> web.Response:
    form = request.query
    definitions = sorted(request.app[DEFINITIONS].all_current(), key=lambda d: d.name)
    chosen = form.get("event", "").strip()
    codes = sorted(
        {f.code for d in definitions if not chosen or d.name == chosen for f in d.fields}
    )
    storage = request.app[STORAGE]
    day = await volume(storage, chosen or None, "24h")
    month = await volume(storage, chosen or None, "30d")
    values: dict[str, Any] = {
        "title": "Event history",
        "form": {
            **{k: form.get(k, "") for k in ("event", *CONTACT_FILTERS, "param", "param_value")},
            "since": local_time(form.get("since", "").strip()),
            "until": local_time(form.get("until", "").strip()),
        },
        "definitions": definitions,
        "param_codes": codes[:300],
        "chart_24h": bar_chart(day),
        "chart_30d": bar_chart(month),
        "volume_24h": day,
        "volume_30d": month,
        "events": [],
        "contacts": {},
        "error": None,
        "older_url": None,
        "newest_url": page_url(request.rel_url) if form.get("cursor") else None,
        **HELPERS,
    }
    try:
        page = await request.app[HISTORY].search(history_query(form), UI_PRINCIPAL)
    except DomainError as exc:
        return await render(request, "events/list.html", {**values, "error": exc.message}, 400)
    values["events"] = page["events"]
    values["contacts"] = await contact_labels(request, page["events"])
    if page["next"]:
        values["older_url"] = page_url(request.rel_url, cursor=page["next"])
    return await render(request, "events/list.html", values)


@routes.get("/events/{id:.+}", name="ui-event")
async def event_detail(request: web.Request) -> web.Response:
    event = await request.app[STORAGE].get_event(request.match_info["id"])
    if event is None:
        return await not_found(request, "event")
    event.pop("_page", None)
    context = dict(event["context"]) if isinstance(event["context"], dict) else {}
    agent = context.pop("user_agent", None)
    if isinstance(agent, str):  # a backend may send the raw header
        agent = parse_user_agent(agent[:512])
    known = {
        k: context.pop(k, None)
        for k in ("page", "utm", "locale", "timezone", "screen", "ip", "client_time")
    }
    context.pop("server_time", None)
    contact = None
    if event["contact_id"] is not None:
        contact = await request.app[CONTACTS].find("contact_id", event["contact_id"])
    return await render(
        request,
        "events/detail.html",
        {
            "title": f"Event {event['event']}",
            "event": event,
            "agent": agent if isinstance(agent, dict) else None,
            "ctx": {k: (v if v not in ({}, "") else None) for k, v in known.items()},
            "extra_context": context,
            "contact": contact,
            **HELPERS,
        },
    )


# -- failed events -------------------------------------------------------------------------


def failed_query(form: Mapping[str, str]) -> dict[str, str]:
    query: dict[str, str] = {"limit": form.get("limit") or str(PAGE_SIZE)}
    for name in ("reason", "event", "cursor"):
        if form.get(name, "").strip():
            query[name] = form[name].strip()
    for name in ("since", "until"):
        if form.get(name, "").strip():
            query[name] = wire_time(form[name].strip())
    return query


async def _failed_page(
    request: web.Request, url: URL, error: str | None = None, status: int = 200
) -> web.Response:
    """The failed list for `url` (this request's, or the page a replay came from)."""
    form = url.query
    reason = form.get("reason", "").strip()
    values: dict[str, Any] = {
        "title": "Failed events",
        "form": {
            "reason": reason,
            "event": form.get("event", ""),
            "since": local_time(form.get("since", "").strip()),
            "until": local_time(form.get("until", "").strip()),
        },
        "reasons": REASONS if not reason or reason in REASONS else (*REASONS, reason),
        "event_names": sorted(d.name for d in request.app[DEFINITIONS].all_current()),
        "failed": [],
        "error": error,
        "counts": replay_counts(form),
        "back": page_url(url),
        "older_url": None,
        "newest_url": page_url(url) if form.get("cursor") else None,
        **HELPERS,
    }
    try:
        page = await request.app[HISTORY].failed(failed_query(form))
    except DomainError as exc:
        return await render(request, "failed/list.html", {**values, "error": exc.message}, 400)
    values["failed"] = page["failed_events"]
    if page["next"]:
        values["older_url"] = page_url(url, cursor=page["next"])
    return await render(request, "failed/list.html", values, status)


@routes.get("/failed", name="ui-failed")
async def failed_list(request: web.Request) -> web.Response:
    return await _failed_page(request, request.rel_url)


@routes.get("/failed/{id}", name="ui-failed-event")
async def failed_detail(request: web.Request) -> web.Response:
    rows = await request.app[STORAGE].failed_by_ids([request.match_info["id"]])
    if not rows:
        return await not_found(request, "failed event")
    failed = rows[0]
    payload = failed["payload"]
    return await render(
        request,
        "failed/detail.html",
        {
            "title": "Failed event",
            "failed": failed,
            "payload_text": payload if isinstance(payload, str) else pretty(payload),
            "payload_is_json": not isinstance(payload, str),
            "counts": replay_counts(request.query),
            "replayed_event": request.query.get("event_id"),
            **HELPERS,
        },
    )


def _back(form: Mapping[str, Any]) -> URL:
    """Where a replay returns to: the failed list with its filters, or one failed event."""
    try:
        url = URL(str(form.get("back") or "/failed"))
    except ValueError:
        url = URL("/failed")
    if url.is_absolute() or not (url.path == "/failed" or url.path.startswith("/failed/")):
        url = URL("/failed")
    if url.path == "/failed/replay":
        url = URL("/failed")
    return url.with_query([(k, v) for k, v in url.query.items() if k not in FLASH_KEYS])


@routes.post("/failed/replay", name="ui-failed-replay")
async def replay(request: web.Request) -> web.Response:
    form = await request.post()
    field = "page_ids" if form.get("scope") == "page" else "ids"
    ids = list(dict.fromkeys(i for i in form.getall(field, []) if isinstance(i, str) and i))
    back = _back(form)
    if not ids or len(ids) > MAX_REPLAY:
        message = (
            f"Replay at most {MAX_REPLAY} at a time."
            if ids
            else "Select at least one failed event to replay."
        )
        return await _failed_page(request, URL("/failed").with_query(back.query), message, 400)
    user = await current_user(request)
    source = {
        "endpoint": request.path,
        "key": UI_PRINCIPAL.name,
        "user": user["email"] if user else None,
    }
    results = await request.app[PIPELINE].replay(ids, UI_PRINCIPAL, source)
    statuses = [r["status"] for r in results]
    accepted = sum(s in ("accepted", "duplicate") for s in statuses)
    failing = statuses.count("failed")
    counts = {
        "accepted": accepted,
        "failing": failing,
        "skipped": len(statuses) - accepted - failing,
    }
    query = [*back.query.items(), *((k, str(v)) for k, v in counts.items())]
    if len(results) == 1 and results[0].get("event_id") and back.path != "/failed":
        query.append(("event_id", results[0]["event_id"]))
    raise redirect(str(back.with_query(query)), done="replayed")
