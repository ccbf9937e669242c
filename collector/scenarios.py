"""Scenarios: when an event arrives, do something — call a webhook with a rendered message.

Triggers: `{"type": "event", "event": name, "where": [param conditions]}` for customer
events, or `{"type": "system_event", "event": name, "audience": <segment rules>}` where a
string `"$event.<code>"` in the audience stands for that parameter of the system event.
Matching happens in the pipeline, before the write, so the outbox rows are committed in
the same transaction as the event (see storage `write_batch`); the delivery worker
(`delivery.py`) sends them.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from dataclasses import dataclass
from typing import Any

from collector.definitions import Definitions
from collector.errors import NotFound, Unprocessable
from collector.model import NewEvent, OutboxItem
from collector.segments import ParamCondition, compile_rules, param_matches

_TEMPLATE_FIELD = re.compile(r"\{\{\s*([A-Za-z_][\w.]*)\s*\}\}")
MAX_TEMPLATE = 10_000


class ScenarioError(Unprocessable):
    code = "invalid_scenario"


@dataclass(frozen=True, slots=True)
class Scenario:
    id: int
    name: str
    enabled: bool
    trigger: dict[str, Any]
    actions: list[dict[str, Any]]

    def as_json(self, with_secrets: bool = False) -> dict[str, Any]:
        actions = [
            a if with_secrets else {k: v for k, v in a.items() if k != "secret"}
            for a in self.actions
        ]
        return {
            "id": self.id,
            "name": self.name,
            "enabled": self.enabled,
            "trigger": self.trigger,
            "actions": actions,
        }


def render(template: str, event: dict[str, Any], contact: dict[str, Any] | None) -> str:
    """`{{client.eventContext.code}}` is the event's parameter, `{{client.email}}` (phone,
    external_id, id, attributes.x) the contact's, `{{event.name}}` the event's name. Not a
    template language: paths only, so an operator's template can run no code."""
    client = {**(contact or {}), "eventContext": event.get("params", {})}
    scope = {"client": client, "event": {"name": event.get("event"), "id": event.get("id")}}

    def lookup(match: re.Match[str]) -> str:
        value: Any = scope
        for part in match.group(1).split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return "" if value is None or isinstance(value, (dict, list)) else str(value)

    return _TEMPLATE_FIELD.sub(lookup, template)


class Scenarios:
    def __init__(self, storage: Any, definitions: Definitions) -> None:
        self.storage = storage
        self.definitions = definitions
        self._enabled: list[Scenario] = []
        self._compiled: dict[tuple[int, int], tuple[ParamCondition, ...]] = {}
        self.wake = asyncio.Event()  # set when new deliveries may be due

    async def load(self) -> None:
        self._enabled = [s for s in await self.storage.list_scenarios() if s.enabled]

    async def watch(self, interval: float = 1.0) -> None:
        """Reload when another process changed a scenario."""
        stamp = await self.storage.scenarios_stamp()
        while True:
            await asyncio.sleep(interval)
            fresh = await self.storage.scenarios_stamp()
            if fresh != stamp:
                stamp = fresh
                await self.load()

    # -- API -------------------------------------------------------------------------

    async def create(self, body: Any) -> Scenario:
        if not isinstance(body, dict):
            raise ScenarioError("a scenario is {name, enabled, trigger, actions}")
        name = body.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > 200:
            raise ScenarioError("name: 1 to 200 characters", details=[{"path": "name"}])
        trigger = self._check_trigger(body.get("trigger"))
        actions = self._check_actions(body.get("actions"))
        enabled = body.get("enabled", True) is not False
        scenario = await self.storage.save_scenario(name.strip(), enabled, trigger, actions)
        await self.load()
        return scenario

    async def set_enabled(self, scenario_id: Any, enabled: bool) -> Scenario:
        scenario = await self.get(scenario_id)
        await self.storage.set_scenario_enabled(scenario.id, enabled)
        await self.load()
        return await self.get(scenario.id)

    async def get(self, scenario_id: Any) -> Scenario:
        found = None
        text = str(scenario_id)
        if text.isascii() and text.isdigit() and len(text) < 18:
            found = await self.storage.get_scenario(int(text))
        if found is None:
            raise NotFound(f"no scenario with id {scenario_id}")
        return found

    async def list(self) -> list[Scenario]:
        return await self.storage.list_scenarios()

    async def deliveries(self, scenario_id: Any, limit: int) -> list[dict[str, Any]]:
        scenario = await self.get(scenario_id)
        return await self.storage.list_deliveries(scenario.id, limit)

    def _check_trigger(self, raw: Any) -> dict[str, Any]:
        def bad(path: str, message: str) -> ScenarioError:
            return ScenarioError(f"{path}: {message}", details=[{"path": path, "message": message}])

        if not isinstance(raw, dict) or raw.get("type") not in ("event", "system_event"):
            raise bad("trigger.type", "event or system_event")
        definition = (
            self.definitions.current(raw.get("event"))
            if isinstance(raw.get("event"), str)
            else None
        )
        if definition is None or definition.hidden:
            raise bad("trigger.event", f"no event definition named {raw.get('event')!r}")
        wanted = "customer" if raw["type"] == "event" else "system"
        if definition.scope != wanted:
            raise bad("trigger.event", f"{definition.name} is a {definition.scope} event")
        if raw["type"] == "event":
            where = raw.get("where", [])
            # checked by compiling the same condition language segments use
            compile_rules(
                {"conditions": [{"event": definition.name, "where": where}]}, self.definitions
            )
            return {"type": "event", "event": definition.name, "where": where}
        audience = raw.get("audience")
        examples = {f.code: _EXAMPLES.get(f.type) for f in definition.fields}
        compile_rules(_substitute(audience, examples), self.definitions)  # a dry run
        return {"type": "system_event", "event": definition.name, "audience": audience}

    def _check_actions(self, raw: Any) -> list[dict[str, Any]]:
        if not isinstance(raw, list) or not raw or len(raw) > 10:
            raise ScenarioError("actions: a list of 1 to 10 actions", details=[{"path": "actions"}])
        actions = []
        for i, action in enumerate(raw):
            path = f"actions[{i}]"
            if not isinstance(action, dict) or action.get("type") != "webhook":
                raise ScenarioError(f"{path}.type: webhook", details=[{"path": f"{path}.type"}])
            url = action.get("url")
            if not isinstance(url, str) or not url.startswith(("http://", "https://")):
                raise ScenarioError(
                    f"{path}.url: an http(s) URL", details=[{"path": f"{path}.url"}]
                )
            template = action.get("template", "")
            if not isinstance(template, str) or len(template) > MAX_TEMPLATE:
                raise ScenarioError(
                    f"{path}.template: text up to {MAX_TEMPLATE} characters",
                    details=[{"path": f"{path}.template"}],
                )
            secret = action.get("secret")
            if not isinstance(secret, str) or len(secret) < 16:
                secret = secrets.token_urlsafe(32)
            actions.append({"type": "webhook", "url": url, "template": template, "secret": secret})
        return actions

    # -- the pipeline's side ---------------------------------------------------------

    def outbox_for(self, event: NewEvent, scope: str) -> list[OutboxItem]:
        """The outbox rows an accepted event starts (no I/O: the hot path)."""
        items = []
        for scenario in self._enabled:
            trigger = scenario.trigger
            if trigger["event"] != event.event:
                continue
            if trigger["type"] == "event" and scope == "customer":
                if self._params_match(scenario, event.params):
                    items.extend(
                        OutboxItem(scenario.id, i, "delivery") for i in range(len(scenario.actions))
                    )
            elif trigger["type"] == "system_event" and scope == "system":
                items.append(OutboxItem(scenario.id, 0, "fanout"))
        return items

    def _params_match(self, scenario: Scenario, params: dict[str, Any]) -> bool:
        return all(param_matches(p, params) for p in self._where(scenario))

    def _where(self, scenario: Scenario) -> tuple[ParamCondition, ...]:
        """The trigger's parameter conditions, compiled once per definition version."""
        trigger = scenario.trigger
        definition = self.definitions.current(trigger["event"])
        key = (scenario.id, definition.version if definition else 0)
        if key not in self._compiled:
            rules = {"conditions": [{"event": trigger["event"], "where": trigger.get("where", [])}]}
            condition = compile_rules(rules, self.definitions).children[0]
            self._compiled[key] = condition.where  # type: ignore[union-attr]
        return self._compiled[key]

    def audience_for(self, scenario: Scenario, event: dict[str, Any]) -> Any:
        """The audience rules of a system trigger with the event's parameters filled in."""
        return compile_rules(
            _substitute(scenario.trigger["audience"], event.get("params", {})), self.definitions
        )


_EXAMPLES = {
    "text": "x",
    "integer": 0,
    "decimal": 0,
    "boolean": True,
    "date": "2000-01-01",
    "timestamp": "2000-01-01T00:00:00Z",
}


def _substitute(rules: Any, params: dict[str, Any]) -> Any:
    """Replace `"$event.<code>"` strings by the system event's parameter values."""
    if isinstance(rules, dict):
        return {k: _substitute(v, params) for k, v in rules.items()}
    if isinstance(rules, list):
        return [_substitute(v, params) for v in rules]
    if isinstance(rules, str) and rules.startswith("$event."):
        return params.get(rules.removeprefix("$event."))
    return rules
