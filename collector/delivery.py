"""The delivery worker: sends scenario webhooks from the outbox, with retries.

Each process runs one. It leases due outbox rows (so no other worker sends them), expands
system-event fan-outs into one delivery per audience contact, renders each message, and
POSTs `{scenario_id, delivery_id, event, contact, message}` signed with
`X-EkEvents-Signature: sha256=<hex HMAC-SHA256(secret, body)>`. A 2xx delivers; a 5xx, a
timeout or a refused connection is retried after base·2^(n−1) seconds (base from
EKEVENTS_WEBHOOK_RETRY_BASE, default 1) up to 8 attempts; any other status fails at once.
Every attempt is logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import os
from typing import Any

import aiohttp

from collector.scenarios import Scenarios, render
from collector.storage import Storage
from collector.timeutil import now_us

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
LEASE_US = 60_000_000
BATCH = 20
TIMEOUT_SECONDS = 10


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class DeliveryWorker:
    def __init__(self, storage: Storage, scenarios: Scenarios) -> None:
        self.storage = storage
        self.scenarios = scenarios
        self.retry_base = float(os.environ.get("EKEVENTS_WEBHOOK_RETRY_BASE", "1"))

    async def run(self) -> None:
        timeout = aiohttp.ClientTimeout(total=TIMEOUT_SECONDS)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            while True:
                try:
                    due = await self.storage.lease_due(now_us(), BATCH, LEASE_US)
                except Exception:  # the database was busy or closing: try again shortly
                    log.exception("leasing deliveries failed")
                    due = []
                if due:
                    await asyncio.gather(*(self._one(http, row) for row in due))
                    continue
                self.scenarios.wake.clear()
                with contextlib.suppress(TimeoutError):  # a poll: rows come due by time too
                    await asyncio.wait_for(self.scenarios.wake.wait(), 0.5)

    async def _one(self, http: aiohttp.ClientSession, row: dict[str, Any]) -> None:
        try:
            if row["kind"] == "fanout":
                await self._fan_out(row)
            else:
                await self._deliver(http, row)
        except Exception:  # one broken delivery must not stop the others; its lease expires
            log.exception("delivery %s failed unexpectedly", row["id"])

    async def _fan_out(self, row: dict[str, Any]) -> None:
        scenario = await self.scenarios.get(row["scenario_id"])
        event = await self.storage.get_event(row["event_id"])
        contact_ids: list[int] = []
        if event is not None:
            tree = self.scenarios.audience_for(scenario, event)
            after = None
            while True:
                _, page = await self.storage.segment_contacts(tree, 5000, after)
                contact_ids.extend(c["id"] for c in page)
                if len(page) < 5000:
                    break
                after = page[-1]["id"]
        await self.storage.expand_fanout(
            row["id"], scenario.id, len(scenario.actions), row["event_id"], contact_ids
        )
        self.scenarios.wake.set()

    async def _deliver(self, http: aiohttp.ClientSession, row: dict[str, Any]) -> None:
        scenario = await self.scenarios.get(row["scenario_id"])
        action = scenario.actions[row["action_index"]]
        event = await self.storage.get_event(row["event_id"]) or {"id": row["event_id"]}
        event.pop("_page", None)
        contact = None
        if row["contact_id"] is not None:
            contact = await self.storage.find_contact("contact_id", row["contact_id"])
        message = render(action.get("template", ""), event, contact)
        body = json.dumps(
            {
                "scenario_id": scenario.id,
                "delivery_id": row["id"],
                "event": event,
                "contact": contact,
                "message": message,
            },
            separators=(",", ":"),
            ensure_ascii=False,
        ).encode()
        headers = {
            "Content-Type": "application/json",
            "X-EkEvents-Signature": sign(action["secret"], body),
        }
        status_code, error = None, None
        try:
            async with http.post(action["url"], data=body, headers=headers) as response:
                status_code = response.status
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        attempt = row["attempts"] + 1
        retry_in = self.retry_base * 2 ** (attempt - 1)
        if status_code is not None and 200 <= status_code < 300:
            status = "delivered"
        elif (status_code is None or status_code >= 500) and attempt < MAX_ATTEMPTS:
            status = "pending"
        else:
            status = "failed"
        await self.storage.record_attempt(
            row["id"],
            status_code=status_code,
            error=error,
            status=status,
            next_attempt_at=now_us() + int(retry_in * 1_000_000),
            message=message,
        )
