"""`ekevents bench` runs end to end (briefly) and checks its own acknowledged events."""

from __future__ import annotations

import json

from serverproc import ekevents


def test_a_short_beacon_bench_reports_the_contract_json(tmp_path):
    out = tmp_path / "bench.json"
    run = ekevents("bench", "--scenario", "beacon", "--duration", "1", "--connections", "4",
                   "--json", str(out), timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads(out.read_text())
    assert result["baseline"]["rps"] > 0 and result["machine"]["cores"]
    assert result["settings"] == {"duration_s": 1, "connections": 4, "workers": 1, "db": "sqlite"}
    beacon = result["scenarios"]["beacon"]
    for field in ("events_per_s", "p50_ms", "p95_ms", "p99_ms", "ratio_to_baseline",
                  "acknowledged", "stored_once"):
        assert field in beacon, field
    assert beacon["acknowledged"] > 0 and beacon["stored_once"] is True
    assert "ratio" in run.stdout and "stored once" in run.stdout


def test_a_short_batch_bench_on_two_workers_stores_every_acknowledged_event_once(tmp_path):
    out = tmp_path / "bench.json"
    run = ekevents("bench", "--scenario", "batch", "--duration", "1", "--connections", "4",
                   "--workers", "2", "--json", str(out), timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    batch = json.loads(out.read_text())["scenarios"]["batch"]
    assert batch["acknowledged"] > 0 and batch["stored_once"] is True
    assert batch["server_cpu"] > 0  # the workers' CPU, not the idle parent's
