"""Real clients nobody here wrote — Segment's and RudderStack's Python SDKs and Segment's
Node SDK — pointed at a running collector; what they sent is read back from storage."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from serverproc import Server, ekevents


class Running:
    def __init__(self, tmp: Path) -> None:
        self.server = Server(tmp / "sdk.db").start()
        made = ekevents(
            "keys", "create", "--db", self.server.db_url, "--name", "sdk", "--kind", "server"
        )
        self.key = made.stdout.strip().splitlines()[-1]
        self.call(
            "POST",
            "/api/v1/event-definitions",
            {"name": "signed-up", "fields": [{"code": "plan", "type": "text"}]},
        )

    def call(self, method: str, path: str, body=None, **query):
        url = self.server.url + path + ("?" + urllib.parse.urlencode(query) if query else "")
        request = urllib.request.Request(
            url,
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def wait_for_contact(self, external_id: str, events: int) -> tuple[dict, list[dict]]:
        for _ in range(100):
            found = self.call("GET", "/api/v1/contacts", external_id=external_id)["contacts"]
            if found:
                timeline = self.call("GET", f"/api/v1/contacts/{found[0]['id']}/events")["events"]
                if len(timeline) >= events:
                    return found[0], timeline
            time.sleep(0.1)
        raise AssertionError(
            f"the SDK's messages for {external_id} did not all arrive:\n" + self.server.output()
        )


@pytest.fixture
def collector(tmp_path):
    running = Running(tmp_path)
    yield running
    running.server.stop()


def _check(collector: Running, user: str, email: str, plan: str) -> None:
    # anonymous history first, then identify (backfill) and alias, then known events
    contact, timeline = collector.wait_for_contact(user, 4)
    assert contact["email"] == email
    by_event = {}
    for event in timeline:
        by_event.setdefault(event["event"], []).append(event)
    signed_up = [(e["params"]["plan"], e["backfilled"]) for e in by_event["signed-up"]]
    # the anonymous one and the aliased one joined the contact; the last came as the user
    assert signed_up == [("trial", True), ("from-alias", True), (plan, False)]
    assert by_event["page-view"][0]["params"]["title"] == "Docs"


def _drive_python_sdk(client, user: str, email: str, plan: str) -> None:
    client.track(anonymous_id=f"{user}-anon", event="Signed Up", properties={"plan": "trial"})
    client.identify(user_id=user, anonymous_id=f"{user}-anon", traits={"email": email})
    client.track(anonymous_id=f"{user}-old", event="Signed Up", properties={"plan": "from-alias"})
    client.alias(previous_id=f"{user}-old", user_id=user)
    client.track(user_id=user, event="Signed Up", properties={"plan": plan})
    client.page(user_id=user, name="Docs", properties={"url": "https://docs.example/"})
    client.flush()


def test_segment_analytics_python(collector):
    from segment.analytics import Client

    client = Client(collector.key, host=collector.server.url, sync_mode=True, max_retries=1)
    _drive_python_sdk(client, "py-user", "py@example.com", "pro")
    _check(collector, "py-user", "py@example.com", "pro")


def test_rudder_sdk_python(collector):
    from rudderstack.analytics import Client

    client = Client(collector.key, host=collector.server.url, sync_mode=True, max_retries=1)
    _drive_python_sdk(client, "rudder-user", "rudder@example.com", "team")  # gzip bodies
    _check(collector, "rudder-user", "rudder@example.com", "team")


NODE_SCRIPT = """
const { Analytics } = require('@segment/analytics-node');
const a = new Analytics({ writeKey: process.env.KEY, host: process.env.HOST,
                          maxEventsInBatch: 1, flushInterval: 50 });
(async () => {
  const user = 'node-user';
  a.track({ anonymousId: user + '-anon', event: 'Signed Up', properties: { plan: 'trial' } });
  await new Promise((r) => setTimeout(r, 300));
  a.identify({ userId: user, anonymousId: user + '-anon', traits: { email: 'node@example.com' } });
  await new Promise((r) => setTimeout(r, 300));
  a.track({ anonymousId: user + '-old', event: 'Signed Up', properties: { plan: 'from-alias' } });
  await new Promise((r) => setTimeout(r, 300));
  a.alias({ previousId: user + '-old', userId: user });
  await new Promise((r) => setTimeout(r, 300));
  a.track({ userId: user, event: 'Signed Up', properties: { plan: 'enterprise' } });
  a.page({ userId: user, name: 'Docs', properties: { url: 'https://docs.example/' } });
  await a.closeAndFlush({ timeout: 10000 });
})();
"""


@pytest.fixture(scope="session")
def node_sdk(tmp_path_factory) -> Path:
    """@segment/analytics-node from the npm registry, installed once per test run."""
    node, npm = shutil.which("node"), shutil.which("npm")
    assert node and npm, "node and npm are needed (make test installs them)"
    folder = tmp_path_factory.mktemp("node-sdk")
    subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--silent", "@segment/analytics-node@2"],
        cwd=folder,
        check=True,
        timeout=300,
        capture_output=True,
    )
    return folder


def test_segment_analytics_node(collector, node_sdk):
    script = node_sdk / "drive.js"
    script.write_text(NODE_SCRIPT)
    run = subprocess.run(
        ["node", str(script)],
        cwd=node_sdk,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "KEY": collector.key, "HOST": collector.server.url},
    )
    assert run.returncode == 0, run.stdout + run.stderr
    _check(collector, "node-user", "node@example.com", "enterprise")
