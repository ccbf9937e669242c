"""Schemathesis, driven by our own OpenAPI document, against a running collector: no
generated request may get a server error."""

from __future__ import annotations

import json
import urllib.request

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from serverproc import Server, ekevents

from collector.openapi import document

schema = schemathesis.openapi.from_dict(document())


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    server = Server(tmp_path_factory.mktemp("schemathesis") / "st.db").start()
    key = (
        ekevents("keys", "create", "--db", server.db_url, "--name", "st", "--kind", "server")
        .stdout.strip()
        .splitlines()[-1]
    )
    request = urllib.request.Request(
        server.url + "/api/v1/event-definitions",
        method="POST",
        data=json.dumps({"name": "ping", "fields": [{"code": "n", "type": "integer"}]}).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    urllib.request.urlopen(request, timeout=10).close()
    yield server, key
    server.stop()


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_generated_request_gets_a_server_error(case, live):
    server, key = live
    response = case.call(base_url=server.url, headers={"Authorization": f"Bearer {key}"})
    assert response.status_code < 500, (
        case.method,
        case.path,
        response.text,
        server.output()[-2000:],
    )
