"""`ekevents bench`: load the collector from a separate process and report honestly.

The load comes from wrk (Debian's package, installed when missing): a C load generator
that outruns a Python server, so the numbers are the server's, not the client's. Each run
starts a collector on a fresh database and, in the same run, a baseline: a bare aiohttp
app that only parses the JSON body of the beacon scenario's own requests and answers 204.
Every scenario reports events/s, latency percentiles and its ratio to the baseline, and
afterwards checks that every acknowledged event is stored exactly once (the run fails
loudly otherwise).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from importlib import resources
from pathlib import Path
from typing import Any

BENCH_FIELDS = [
    {"code": "sku", "type": "text", "required": True},
    {"code": "price", "type": "decimal"},
    {"code": "qty", "type": "integer"},
    {"code": "gift", "type": "boolean"},
    {"code": "day", "type": "date"},
    {"code": "seen_at", "type": "timestamp"},
]
ORIGIN = "https://shop.test"

BASELINE_APP = r"""
import json, os, sys
from aiohttp import web

async def handle(request):
    json.loads(await request.read())
    return web.Response(status=204)

port, processes = int(sys.argv[1]), int(sys.argv[2])
for _ in range(processes - 1):  # as many processes as the collector has, on one port
    if os.fork() == 0:
        break
app = web.Application()
app.router.add_post("/e", handle)
app.router.add_get("/healthz", lambda r: web.Response(text="ok"))
web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None, reuse_port=True)
"""


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    print("installing Debian's wrk (the load generator)…", flush=True)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "wrk"], check=False, stdout=subprocess.DEVNULL
    )
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk is needed: apt-get install wrk")
    return found


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": model or platform.processor(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "system": f"{platform.system()} {platform.release()}",
    }


class Process:
    """A server subprocess that must answer /healthz before use."""

    def __init__(self, args: list[str], port: int, log: Path) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log = open(log, "w")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            args, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )
        for _ in range(200):
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise SystemExit(f"{args} did not start; see {log}")

    def pids(self) -> list[int]:
        """The server and its worker processes (serve --workers starts children)."""
        me = self.proc.pid
        children = Path(f"/proc/{me}/task/{me}/children").read_text().split()
        return [me, *map(int, children)]

    def rss_mb(self) -> float:
        """The largest peak resident set of any one process."""
        peaks = [0.0]
        for pid in self.pids():
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):  # the peak, not just the current one
                    peaks.append(round(int(line.split()[1]) / 1024, 1))
        return max(peaks)

    def cpu_seconds(self) -> float:
        total = 0
        for pid in self.pids():
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        return total / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.proc.terminate()  # serve --workers passes it on to its workers and waits
        self.proc.wait(30)
        with contextlib.suppress(ProcessLookupError):  # the baseline's forks are left
            os.killpg(self.proc.pid, signal.SIGTERM)
        self.log.close()


def _http(
    url: str,
    method: str,
    path: str,
    key: str | None,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any, dict[str, str]]:
    request = urllib.request.Request(
        url + path,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={
            **({"Authorization": f"Bearer {key}"} if key else {}),
            "Content-Type": "application/json",
            **(headers or {}),
        },
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        raw = response.read()
        return response.status, json.loads(raw) if raw else None, dict(response.headers)


def _cli(db: str, *args: str) -> str:
    run = subprocess.run(
        [sys.executable, "-m", "collector", *args, "--db", db],
        capture_output=True,
        text=True,
        check=True,
    )
    return run.stdout.strip().splitlines()[-1]


class Bench:
    def __init__(self, args: Any, work: Path) -> None:
        self.args = args
        self.work = work
        self.wrk = ensure_wrk()

    # -- load ------------------------------------------------------------------------

    def wrk_run(
        self, script: str, url: str, env: dict[str, str], connections: int, duration: float
    ) -> dict[str, Any]:
        lua = self.work / f"{script}.lua"
        folder = resources.files("collector.bench_lua")
        lua.write_text(
            folder.joinpath("common.lua").read_text() + folder.joinpath(f"{script}.lua").read_text()
        )
        acks = self.work / f"acks-{script}-{time.monotonic_ns()}"
        acks.mkdir()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        run = subprocess.run(
            [
                self.wrk,
                "-t1",
                f"-c{connections}",
                f"-d{max(1, round(duration))}s",
                "--timeout",
                "10s",
                "-s",
                str(lua),
                url,
            ],
            capture_output=True,
            text=True,
            env={**os.environ, **env, "EK_ACK_DIR": str(acks)},
        )
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        line = next((x for x in run.stdout.splitlines() if x.startswith("EKBENCH ")), None)
        if line is None:
            raise SystemExit(f"wrk failed:\n{run.stdout}\n{run.stderr}")
        result = json.loads(line.removeprefix("EKBENCH "))
        seconds = result["duration_us"] / 1e6
        result["rps"] = result["requests"] / seconds
        result["wrk_cpu"] = (
            (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        ) / seconds
        result["acked_ids"] = [i for f in acks.iterdir() for i in f.read_text().split()]
        return result

    def baseline(self) -> dict[str, Any]:
        port = _free_port()
        app = self.work / "baseline.py"
        app.write_text(BASELINE_APP)
        server = Process(
            [sys.executable, str(app), str(port), str(self.args.workers)],
            port,
            self.work / "baseline.log",
        )
        try:
            cpu0 = server.cpu_seconds()
            # The very requests of the beacon scenario (a token in place of the keys), so
            # the server parses the same bodies and wrk spends the same effort making them.
            placeholders = {"EK_SITE_KEY": "ek_pk_baseline", "EK_SESSION": "baseline"}
            r = self.wrk_run(
                "beacon",
                server.url,
                {**placeholders, "EK_ORIGIN": ORIGIN},
                self.args.connections,
                self.args.duration,
            )
            r["server_cpu"] = (server.cpu_seconds() - cpu0) / (r["duration_us"] / 1e6)
        finally:
            server.stop()
        return {
            "rps": round(r["rps"]),
            "p99_ms": r["p99_us"] / 1000,
            "wrk_cpu": round(r["wrk_cpu"], 2),
            "server_cpu": round(r["server_cpu"], 2),
        }

    # -- the collector -----------------------------------------------------------------

    def collector(self, name: str) -> tuple[Process, str, str]:
        db = self.args.db or f"sqlite:///{self.work / (name + '.db')}"
        if db.startswith("postgres"):
            pass  # a given PostgreSQL database is used as is (bench on an empty one)
        server_key = _cli(db, "keys", "create", "--name", "bench", "--kind", "server")
        port = _free_port()
        server = Process(
            [
                sys.executable,
                "-m",
                "collector",
                "serve",
                "--db",
                db,
                "--port",
                str(port),
                *self.serve_args(),
            ],
            port,
            self.work / f"{name}.log",
        )
        _http(
            server.url,
            "POST",
            "/api/v1/event-definitions",
            server_key,
            {"name": "bench-view", "fields": BENCH_FIELDS, "category": "signal"},
        )
        if self.args.workers > 1:
            time.sleep(2)  # the other workers learn of the definition within a second
        return server, db, server_key

    def serve_args(self) -> list[str]:
        limit = ["--rate-limit", "0"] if self.args.rate_limit_flag else []
        return [*limit, "--workers", str(self.args.workers)]

    def stored_once(self, db: str, acked: list[str]) -> bool:
        """Every acknowledged id is stored, and exactly once: an id acknowledged twice as
        accepted would be a double write; the store's unique key makes a second row of one
        id impossible, so found == acknowledged is the whole check."""
        if len(set(acked)) != len(acked):
            return False
        return len(asyncio.run(_stored(db, acked))) == len(acked)

    def run_load(
        self,
        name: str,
        script: str,
        env: dict[str, str],
        per_request: float,
        baseline: dict[str, Any],
    ) -> dict[str, Any]:
        server, db, key = self.collector(name)
        try:
            env = {**env, **self.extra_env(server, db, key)}
            cpu0 = server.cpu_seconds()
            r = self.wrk_run(script, server.url, env, self.args.connections, self.args.duration)
            r["server_cpu"] = (server.cpu_seconds() - cpu0) / (r["duration_us"] / 1e6)
            result = self.summarise(r, baseline, per_request)
            result["server_peak_rss_mb"] = server.rss_mb()
            result["stored_once"] = self.stored_once(db, r["acked_ids"])
            if script == "beacon":  # latency at half the load just measured
                delay = max(1, int(1000 * self.args.connections / (r["rps"] / 2)))
                half = self.wrk_run(
                    script,
                    server.url,
                    {**env, "EK_DELAY_MS": str(delay)},
                    self.args.connections,
                    self.args.duration,
                )
                result["half_load"] = {
                    "rps": round(half["rps"]),
                    "p99_ms": round(half["p99_us"] / 1000, 2),
                }
                result["stored_once"] = result["stored_once"] and self.stored_once(
                    db, r["acked_ids"] + half["acked_ids"]
                )
        finally:
            server.stop()
        return result

    def extra_env(self, server: Process, db: str, key: str) -> dict[str, str]:
        site_key = _cli(
            db, "keys", "create", "--name", "bench-site", "--kind", "site", "--origin", ORIGIN
        )
        _, body, _ = _http(server.url, "POST", "/api/v1/sessions", key)
        return {
            "EK_SITE_KEY": site_key,
            "EK_SESSION": body["session"],
            "EK_ORIGIN": ORIGIN,
            "EK_SERVER_KEY": key,
        }

    def summarise(
        self, r: dict[str, Any], baseline: dict[str, Any], per_request: float
    ) -> dict[str, Any]:
        return {
            "requests_per_s": round(r["rps"]),
            "events_per_s": round(r["acked"] / (r["duration_us"] / 1e6)),
            "p50_ms": round(r["p50_us"] / 1000, 2),
            "p95_ms": round(r["p95_us"] / 1000, 2),
            "p99_ms": round(r["p99_us"] / 1000, 2),
            "ratio_to_baseline": round(r["rps"] / baseline["rps"], 3) if baseline else None,
            "acknowledged": r["acked"],
            "errors": r["errors"] + r["status_errors"],
            "wrk_cpu": round(r["wrk_cpu"], 2),
            "server_cpu": round(r["server_cpu"], 2),
        }


async def _stored(db: str, ids: list[str]) -> set[str]:
    from collector.storage import open_storage

    storage = open_storage(db)
    await storage.open()
    try:
        found: set[str] = set()
        for start in range(0, len(ids), 5000):
            found |= await storage.stored_ids(ids[start : start + 5000])
        return found
    finally:
        await storage.close()


# -- identify and segment: timed single operations on prepared data ----------------------


def bench_identify(bench: Bench) -> dict[str, Any]:
    server, db, key = bench.collector("identify")
    try:
        timings, backfilled = [], []
        for round_ in range(3):
            _, body, _ = _http(server.url, "POST", "/api/v1/sessions", key)
            session = body["session"]
            for start in range(0, 10_000, 500):
                batch = [
                    {
                        "event": "bench-view",
                        "id": f"i{round_}-{start + n}",
                        "session": session,
                        "timestamp": "2026-11-24T10:00:00Z",
                        "params": {"sku": f"s{n}"},
                    }
                    for n in range(500)
                ]
                _http(server.url, "POST", "/api/v1/events", key, {"batch": batch})
            began = time.perf_counter()
            _, linked, _ = _http(
                server.url,
                "POST",
                "/api/v1/identify",
                key,
                {"session": session, "external_id": f"person-{round_}"},
            )
            timings.append((time.perf_counter() - began) * 1000)
            backfilled.append(linked["backfilled"])
        plan = asyncio.run(_plan(db, "backfill"))
    finally:
        server.stop()
    timings.sort()
    return {
        "events_per_identify": 10_000,
        "backfilled": backfilled,
        "p50_ms": round(timings[1], 1),
        "max_ms": round(timings[-1], 1),
        "events_per_s": round(10_000 / (timings[1] / 1000)),
        "stored_once": backfilled == [10_000] * 3,
        "acknowledged": sum(backfilled),
        "query_plan": plan,
    }


def bench_segment(bench: Bench, events: int = 1_000_000, contacts: int = 100_000) -> dict[str, Any]:
    db = bench.args.db or f"sqlite:///{bench.work / 'segment.db'}"
    began = time.perf_counter()
    asyncio.run(_fill(db, events, contacts))
    filled = time.perf_counter() - began
    server_key = _cli(db, "keys", "create", "--name", "bench", "--kind", "server")
    port = _free_port()
    server = Process(
        [sys.executable, "-m", "collector", "serve", "--db", db, "--port", str(port)],
        port,
        bench.work / "segment.log",
    )
    rules = {
        "match": "all",
        "conditions": [
            {"event": "bench-view", "count": {"op": ">=", "value": 3}, "period": {"last_days": 30}},
            {"event": "bench-buy", "where": [{"param": "$price", "op": ">", "value": 50}]},
            {"event": "bench-view", "last_seen": {"op": "within_days", "value": 7}},
        ],
    }
    try:
        timings, count = [], 0
        for _ in range(5):
            began = time.perf_counter()
            _, body, _ = _http(
                server.url, "POST", "/api/v1/segments/preview", server_key, {"rules": rules}
            )
            timings.append((time.perf_counter() - began) * 1000)
            count = body["count"]
        plan = asyncio.run(_plan(db, "segment", rules))
    finally:
        server.stop()
    timings.sort()
    return {
        "events": events,
        "contacts": contacts,
        "matched": count,
        "p50_ms": round(timings[2], 1),
        "max_ms": round(timings[-1], 1),
        "fill_seconds": round(filled, 1),
        "query_plan": plan,
        "rules": rules,
        "stored_once": True,
        "acknowledged": events,
    }


async def _fill(db: str, events: int, contacts: int) -> None:
    """Bulk data through the storage's own write path (not HTTP: this is set-up)."""
    import random

    from collector.definitions import Definitions
    from collector.ids import new_id
    from collector.model import ContactRef, NewEvent
    from collector.storage import open_storage
    from collector.timeutil import now_us

    rng = random.Random(1)
    storage = open_storage(db)
    await storage.open()
    definitions = Definitions(storage)
    await definitions.load()
    for name in ("bench-view", "bench-buy"):
        if definitions.current(name) is None:
            await definitions.create({"name": name, "fields": BENCH_FIELDS})
    now, day = now_us(), 86_400_000_000
    try:
        for start in range(0, events, 10_000):
            batch = []
            for n in range(start, min(events, start + 10_000)):
                name = "bench-buy" if rng.random() < 0.2 else "bench-view"
                batch.append(
                    NewEvent(
                        id=new_id(),
                        event=name,
                        ts=now - rng.randrange(60 * day),
                        received_at=now,
                        contact=ContactRef("external_id", f"c{rng.randrange(contacts)}"),
                        session_id=None,
                        params={"sku": f"s{n % 100}", "price": rng.randrange(100)},
                        context={},
                        version=1,
                        source="api",
                        api_inserted=True,
                        api_verified=True,
                    )
                )
            await storage.write_batch(batch)
    finally:
        await storage.close()


async def _plan(db: str, what: str, rules: Any = None) -> list[str]:
    from collector.definitions import Definitions
    from collector.segments import compile_rules
    from collector.storage import open_storage

    storage = open_storage(db)
    await storage.open()
    try:
        if what == "backfill":
            return await storage.explain_backfill()
        definitions = Definitions(storage)
        await definitions.load()
        return await storage.explain_segment(compile_rules(rules, definitions))
    finally:
        await storage.close()


def run(args: Any) -> int:
    chosen = (
        ["beacon", "batch", "identify", "segment"] if args.scenario == "all" else [args.scenario]
    )
    with tempfile.TemporaryDirectory(prefix="ekbench-") as folder:
        bench = Bench(args, Path(folder))
        results: dict[str, Any] = {
            "machine": machine(),
            "settings": {  # what a comparison between commits must hold equal
                "duration_s": args.duration,
                "connections": args.connections,
                "workers": args.workers,
                "db": "postgresql" if (args.db or "").startswith("postgres") else "sqlite",
            },
            "baseline": {},
            "scenarios": {},
        }
        if {"beacon", "batch"} & set(chosen):
            print("baseline: bare aiohttp, parse the JSON body, answer 204 …", flush=True)
            results["baseline"] = bench.baseline()
        for name in chosen:
            print(f"{name} …", flush=True)
            if name == "beacon":
                results["scenarios"][name] = bench.run_load(
                    "beacon", "beacon", {}, 2, results["baseline"]
                )
            elif name == "batch":
                results["scenarios"][name] = bench.run_load(
                    "batch", "batch", {}, 100, results["baseline"]
                )
            elif name == "identify":
                results["scenarios"][name] = bench_identify(bench)
            else:
                results["scenarios"][name] = bench_segment(bench)
    _report(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    broken = [n for n, r in results["scenarios"].items() if not r.get("stored_once")]
    if broken:
        print(f"FAILED: acknowledged events not stored exactly once in {broken}", file=sys.stderr)
        return 1
    return 0


def _report(results: dict[str, Any]) -> None:
    m, b = results["machine"], results["baseline"]
    print(f"\nmachine: {m['cpu']}, {m['cores']} cores, Python {m['python']}, SQLite {m['sqlite']}")
    if b:
        print(
            f"baseline (bare aiohttp): {b['rps']} req/s, p99 {b['p99_ms']:.2f} ms, "
            f"wrk CPU {b['wrk_cpu']:.0%}, server CPU {b['server_cpu']:.0%}"
        )
    print(
        f"\n{'scenario':<10}{'events/s':>10}{'req/s':>9}{'p50 ms':>8}{'p95 ms':>8}"
        f"{'p99 ms':>8}{'ratio':>7}{'acked':>9}  stored once"
    )
    for name, r in results["scenarios"].items():
        print(
            f"{name:<10}{r.get('events_per_s', ''):>10}{r.get('requests_per_s', ''):>9}"
            f"{r.get('p50_ms', ''):>8}{r.get('p95_ms', ''):>8}"
            f"{r.get('p99_ms', r.get('max_ms', '')):>8}"
            f"{r.get('ratio_to_baseline') or '':>7}{r.get('acknowledged', ''):>9}  "
            f"{'yes' if r.get('stored_once') else 'NO'}"
        )
        if "half_load" in r:
            print(
                f"{'':<10}at half load ({r['half_load']['rps']} req/s): "
                f"p99 {r['half_load']['p99_ms']} ms"
            )
        if "wrk_cpu" in r:
            print(
                f"{'':<10}wrk CPU {r['wrk_cpu']:.0%}, server CPU {r['server_cpu']:.0%}, "
                f"server peak RSS {r.get('server_peak_rss_mb')} MB"
            )
        for line in r.get("query_plan", []):
            print(f"{'':<10}plan: {line}")
