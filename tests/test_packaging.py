"""A plain `pip install .` (a wheel, not an editable install) is a working product."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

from serverproc import free_port

ROOT = Path(__file__).resolve().parent.parent


def test_the_wheel_carries_migrations_templates_and_snippet_and_runs(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(tmp_path)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    [wheel] = tmp_path.glob("ekevents-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for sql in (ROOT / "collector/storage/migrations/sqlite").glob("*.sql"):
        assert f"collector/storage/migrations/sqlite/{sql.name}" in names
    for folder in ("templates", "snippet"):
        shipped = [p for p in (ROOT / folder).rglob("*") if p.is_file() and p.suffix != ".pyc"]
        assert shipped, f"{folder}/ is empty"
        for path in shipped:
            assert f"collector/{folder}/{path.relative_to(ROOT / folder)}" in names

    # Install the wheel alone into a folder and run it from elsewhere, so nothing can come
    # from the repository: migrations and the tracker are read from the installed package.
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "-q",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    db = f"sqlite:///{tmp_path / 'installed.db'}"
    check = subprocess.run(
        [sys.executable, "-c", _SMOKE, db, str(free_port())],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert str(target) in check.stdout  # the code came from the installed wheel


_SMOKE = r"""
import asyncio, sys
import collector
from collector.app import create_app
from collector.config import Config
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

async def main(db):
    client = TestClient(TestServer(await create_app(Config(db_url=db))))
    await client.start_server()
    try:
        assert (await client.get("/healthz")).status == 200
    finally:
        await client.close()

asyncio.run(main(sys.argv[1]))
print(collector.__file__)
"""
