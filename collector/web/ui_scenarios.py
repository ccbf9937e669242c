"""UI: scenarios — the list with enable/disable, the form that makes one (a trigger and a
webhook action), and a scenario's page with its delivery log.

The form works without JavaScript the way the segment builder does: `add-param` and
`remove-param:N` post it back with the change applied and nothing saved; `create` creates.
Parameter restrictions use the segment builder's rows (rules_form) or JSON; a system
trigger's audience is segment rules as JSON. The Scenarios service checks everything; a
refusal comes back as the same form with the message inline (422). A new scenario's
webhook secrets are shown once, on the page that answers the form, never again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from collector.appkeys import DEFINITIONS, SCENARIOS
from collector.definitions import Definitions
from collector.errors import DomainError, NotFound
from collector.scenarios import Scenario, ScenarioError
from collector.web.rules_form import (
    MAX_ROWS,
    Form,
    ParamRow,
    form_helpers,
    new_param_row,
    param_rule,
    parse_json,
    read_params,
    text,
    visible_events,
)
from collector.web.ui import contact_labels, not_found, pretty, redirect, render, show_value

routes = web.RouteTableDef()

DELIVERY_LOG = 100
MIN_SECRET = 16  # shorter secrets are replaced by the service; the form says so instead
MAX_JSON = 100_000
_ROW_ERROR = re.compile(r"rules\.conditions\[0\]\.where\[(\d+)\]")
# A refusal's path → the form input to mark.
_INPUTS = (
    ("name", "name"),
    ("trigger.type", "trigger_type"),
    ("trigger.event", "event"),
    ("trigger.audience", "audience_json"),
    ("audience", "audience_json"),
    ("restrictions", "where_json"),
    ("actions[0].url", "url"),
    ("actions[0].template", "template"),
    ("secret", "secret"),
)


@dataclass(slots=True)
class ScenarioForm:
    name: str = ""
    trigger_type: str = "event"  # event | system_event
    event: str = ""
    system_event: str = ""
    params: list[ParamRow] = field(default_factory=list)
    where_json: str = ""  # when filled, used instead of the parameter rows
    audience_json: str = ""
    url: str = ""
    template: str = ""
    secret: str = ""
    enabled: bool = True


def _long(form: Form, key: str) -> str:
    value = form.get(key)
    return value[:MAX_JSON] if isinstance(value, str) else ""


def read_form(form: Form) -> ScenarioForm:
    return ScenarioForm(
        name=text(form, "name"),
        trigger_type="system_event" if form.get("trigger_type") == "system_event" else "event",
        event=text(form, "event"),
        system_event=text(form, "system_event"),
        params=read_params(form, "param"),
        where_json=_long(form, "where_json"),
        audience_json=_long(form, "audience_json"),
        url=text(form, "url"),
        template=_long(form, "template"),
        secret=text(form, "secret"),
        enabled=form.get("enabled") == "on",
    )


def scenario_body(state: ScenarioForm, definitions: Definitions) -> dict[str, Any]:
    """What the form says, as the body `POST /api/v1/scenarios` takes."""
    trigger: dict[str, Any]
    if state.trigger_type == "system_event":
        if not state.audience_json.strip():
            raise ScenarioError(
                "audience: a system event trigger needs its audience, as segment rules JSON",
                details=[{"path": "trigger.audience"}],
            )
        audience = parse_json(state.audience_json, "audience")
        trigger = {"type": "system_event", "event": state.system_event, "audience": audience}
    else:
        if state.where_json.strip():
            where = parse_json(state.where_json, "restrictions")
        else:
            definition = definitions.current(state.event)
            where = [param_rule(row, definition) for row in state.params]
        trigger = {"type": "event", "event": state.event, "where": where}
    secret = state.secret.strip()
    if secret and len(secret) < MIN_SECRET:
        raise ScenarioError(
            f"secret: at least {MIN_SECRET} characters, or leave it empty to have one made",
            details=[{"path": "secret"}],
        )
    action = {"type": "webhook", "url": state.url.strip(), "template": state.template}
    if secret:
        action["secret"] = secret
    return {"name": state.name, "enabled": state.enabled, "trigger": trigger, "actions": [action]}


def error_marks(exc: DomainError, state: ScenarioForm) -> dict[str, Any]:
    """Which input (or parameter row) a refusal points at."""
    details = exc.details if isinstance(exc.details, list) else []
    path = str(details[0].get("path", "")) if details and isinstance(details[0], dict) else ""
    row = _ROW_ERROR.match(path)
    if row and state.trigger_type == "event":
        if state.where_json.strip():
            return {"input": "where_json", "row": None}
        return {"input": None, "row": int(row.group(1))}
    if path.startswith("rules") and state.trigger_type == "system_event":
        return {"input": "audience_json", "row": None}
    for prefix, name in _INPUTS:
        if path == prefix or path.startswith(prefix + "."):
            if name == "event" and state.trigger_type == "system_event":
                name = "system_event"
            return {"input": name, "row": None}
    return {"input": None, "row": None}


def trigger_summary(trigger: dict[str, Any]) -> str:
    event = trigger.get("event", "?")
    if trigger.get("type") == "system_event":
        return f"system event {event}, for each contact of its audience"
    where = trigger.get("where") or []
    summary = f"event {event}"
    if isinstance(where, list) and where:
        summary += " where " + " and ".join(
            f"{w.get('param')} {w.get('op')} {show_value(w.get('value'))}"
            for w in where
            if isinstance(w, dict)
        )
    return summary


def _toggle_next(request: web.Request, scenario_id: str, wanted: Any) -> str:
    """Back where the toggle was pressed: the list or the scenario's page, nowhere else."""
    listing = str(request.app.router["ui-scenarios"].url_for())
    page = str(request.app.router["ui-scenario"].url_for(id=scenario_id))
    return listing if wanted == listing else page


# -- pages ---------------------------------------------------------------------------------


async def _form_page(
    request: web.Request, state: ScenarioForm, status: int = 200, **values: Any
) -> web.Response:
    definitions = request.app[DEFINITIONS]
    return await render(
        request,
        "scenarios/new.html",
        {
            "title": "New scenario",
            "form": state,
            "error": None,
            "marks": {"input": None, "row": None},
            **form_helpers(definitions),
            "customer_events": visible_events(definitions, "customer"),
            "system_events": visible_events(definitions, "system"),
            **values,
        },
        status=status,
    )


async def _scenario_page(
    request: web.Request, scenario: Scenario, secrets: list[dict[str, str]] | None = None
) -> web.Response:
    deliveries = await request.app[SCENARIOS].deliveries(scenario.id, DELIVERY_LOG)
    return await render(
        request,
        "scenarios/detail.html",
        {
            "title": scenario.name,
            "scenario": scenario.as_json(),
            "summary": trigger_summary(scenario.trigger),
            "trigger_json": pretty(scenario.trigger),
            "secrets": secrets,
            "deliveries": deliveries,
            "labels": await contact_labels(request, deliveries),
            "limit": DELIVERY_LOG,
        },
    )


@routes.get("/scenarios", name="ui-scenarios")
async def scenario_list(request: web.Request) -> web.Response:
    scenarios = [
        {**s.as_json(), "summary": trigger_summary(s.trigger)}
        for s in await request.app[SCENARIOS].list()
    ]
    return await render(
        request, "scenarios/list.html", {"title": "Scenarios", "scenarios": scenarios}
    )


@routes.get("/scenarios/new", name="ui-scenario-new")
async def new_form(request: web.Request) -> web.Response:
    definitions = request.app[DEFINITIONS]
    customer = visible_events(definitions, "customer")
    system = visible_events(definitions, "system")
    state = ScenarioForm(
        event=customer[0].name if customer else "",
        system_event=system[0].name if system else "",
    )
    return await _form_page(request, state)


@routes.post("/scenarios/new", name="ui-scenario-create")
async def create(request: web.Request) -> web.Response:
    definitions = request.app[DEFINITIONS]
    form = await request.post()
    state = read_form(form)
    action = text(form, "action", "create")
    if action == "add-param":
        if len(state.params) < MAX_ROWS:
            state.params.append(new_param_row(definitions.current(state.event)))
        return await _form_page(request, state)
    if action.startswith("remove-param:"):
        index = action.removeprefix("remove-param:")
        if index.isascii() and index.isdigit() and int(index[:4]) < len(state.params):
            del state.params[int(index)]
        return await _form_page(request, state)
    try:
        scenario = await request.app[SCENARIOS].create(scenario_body(state, definitions))
    except DomainError as exc:
        return await _form_page(
            request, state, 422, error=exc.message, marks=error_marks(exc, state)
        )
    # the secrets, this once: the page that answers the form is the only one to show them
    secrets = [
        {"url": a["url"], "secret": a["secret"]}
        for a in scenario.as_json(with_secrets=True)["actions"]
    ]
    return await _scenario_page(request, scenario, secrets)


@routes.get(r"/scenarios/{id:\d{1,17}}", name="ui-scenario")
async def scenario_page(request: web.Request) -> web.Response:
    try:
        scenario = await request.app[SCENARIOS].get(request.match_info["id"])
    except NotFound:
        return await not_found(request, "scenario")
    return await _scenario_page(request, scenario)


@routes.post(r"/scenarios/{id:\d{1,17}}/{action:enable|disable}", name="ui-scenario-toggle")
async def toggle(request: web.Request) -> web.Response:
    scenario_id = request.match_info["id"]
    enabled = request.match_info["action"] == "enable"
    try:
        await request.app[SCENARIOS].set_enabled(scenario_id, enabled)
    except NotFound:
        return await not_found(request, "scenario")
    form = await request.post()
    raise redirect(_toggle_next(request, scenario_id, form.get("next")), done="saved")
