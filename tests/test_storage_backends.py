"""The storage interface itself, on both backends: the write path's outcomes, and what
must hold when several processes share one database (each process is a storage object
of its own here: its own connections, its own pool)."""

from __future__ import annotations

import asyncio
import fcntl
import random
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from collector.definitions import Definitions
from collector.ids import new_id
from collector.model import ContactRef, NewEvent, OutboxItem
from collector.segments import compile_rules
from collector.storage import EventQuery, Storage, open_storage
from collector.storage.postgres import PostgresStorage


def _event(event_id: str | None = None, **kw: Any) -> NewEvent:
    fields: dict[str, Any] = {
        "id": event_id or new_id(),
        "event": "tick",
        "ts": 1_700_000_000_000_000,
        "received_at": 1_700_000_000_000_000,
        "contact": None,
        "session_id": None,
        "params": {},
        "context": {},
        "version": 1,
        "source": "api",
        "api_inserted": True,
        "api_verified": False,
    }
    return NewEvent(**{**fields, **kw})


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[Storage]:
    storage = open_storage(db_url)
    await storage.open()
    yield storage
    await storage.close()


@pytest.fixture
async def two(db_url: str) -> AsyncIterator[tuple[Storage, Storage]]:
    """Two "processes" on one database."""
    first, second = open_storage(db_url), open_storage(db_url)
    await first.open()
    await second.open()
    yield first, second
    await first.close()
    await second.close()


async def test_duplicates_within_a_batch_and_across_batches_are_reported_not_stored(store):
    a, b = new_id(), new_id()
    first = await store.write_batch([_event(a), _event(b), _event(a)])
    assert [o.status for o in first] == ["accepted", "accepted", "duplicate"]
    again = await store.write_batch([_event(b), _event(new_id())])
    assert [o.status for o in again] == ["duplicate", "accepted"]
    assert set(await store.stored_ids([a, b])) == {a, b}
    assert (await store.event_counts()) == {"tick": 3}


async def test_params_context_and_attributes_come_back_as_written_key_order_included(store):
    params = {"zeta": 1, "a": 2.5, "nested": {"b": [1, {"y": 1, "x": 2}], "a": None}}
    context = {"page": {"url": "https://x.example/", "path": "/"}, "locale": "de-DE"}
    [outcome] = await store.write_batch([_event(params=params, context=context)])
    stored = await store.get_event(outcome.id)
    assert stored["params"] == params and list(stored["params"]) == ["zeta", "a", "nested"]
    assert list(stored["params"]["nested"]["b"][1]) == ["y", "x"]
    assert list(stored["context"]) == ["page", "locale"]
    contact = await store.upsert_contact({"email": "a@b.c"}, {"zz": 1, "aa": 2})
    assert list(contact["attributes"]) == ["zz", "aa"]


async def test_attributes_an_event_sets_merge_like_a_json_merge_patch(store):
    contact = await store.upsert_contact(
        {"email": "m@b.c"}, {"a": 1, "b": {"x": 1, "y": 2}, "keep": "k"}
    )
    ref = ContactRef("contact_id", contact["id"])
    patch = {"b": {"y": None, "z": 3}, "c": {"n": None, "d": 4}, "a": None}
    await store.write_batch([_event(contact=ref, attributes=patch)])
    merged = (await store.find_contact("contact_id", contact["id"]))["attributes"]
    assert merged == {"b": {"x": 1, "z": 3}, "keep": "k", "c": {"d": 4}}
    assert list(merged) == ["b", "keep", "c"] and list(merged["b"]) == ["x", "z"]


async def test_contains_folds_ascii_case_only_as_the_python_evaluation_does(store):
    definitions = Definitions(store)
    await definitions.load()
    await definitions.create({"name": "buy", "fields": [{"code": "color", "type": "text"}]})
    for email, color in (("ascii@b.c", "Red"), ("umlaut@b.c", "ÄPFEL")):
        contact = await store.upsert_contact({"email": email}, {})
        ref = ContactRef("contact_id", contact["id"])
        await store.write_batch([_event(event="buy", contact=ref, params={"color": color})])

    async def matching(needle: str) -> list[str]:
        rules = {
            "conditions": [
                {"event": "buy", "where": [{"param": "$color", "op": "contains", "value": needle}]}
            ]
        }
        _, rows = await store.segment_contacts(compile_rules(rules, definitions), 10, None)
        return [row["email"] for row in rows]

    assert await matching("red") == ["ascii@b.c"]
    assert await matching("ÄPF") == ["umlaut@b.c"]
    assert await matching("äpf") == []  # SQLite's lower() leaves Ä alone; so must PostgreSQL


async def test_concurrent_duplicate_ids_from_two_processes_are_stored_once(two):
    first, second = two
    ids = [new_id() for _ in range(200)]

    async def writer(storage: Storage, seed: int) -> list[tuple[str, str]]:
        shuffled = random.Random(seed).sample(ids, len(ids))  # other orders: lock waits
        results = []
        for start in range(0, len(shuffled), 25):
            batch = [_event(i) for i in shuffled[start : start + 25]]
            results += [(o.id, o.status) for o in await storage.write_batch(batch)]
        return results

    outcomes = [
        o
        for results in await asyncio.gather(*(writer(s, n) for n, s in enumerate(two * 2)))
        for o in results
    ]
    accepted = [i for i, status in outcomes if status == "accepted"]
    assert sorted(accepted) == sorted(ids), "every id accepted exactly once"
    assert {status for _, status in outcomes} == {"accepted", "duplicate"}
    assert len(await first.search_events(EventQuery(limit=1000))) == len(ids)


async def test_two_leasers_never_take_one_delivery(two):
    first, second = two
    scenario = await first.save_scenario("s", True, {"type": "event", "event": "tick"}, [{}])
    outbox = [OutboxItem(scenario.id, 0, "delivery")]
    await first.write_batch([_event(outbox=outbox) for _ in range(60)])

    async def lease_all(storage: Storage) -> list[int]:
        taken: list[int] = []
        while rows := await storage.lease_due(now=2**62, limit=3, lease_us=10**12):
            taken += [row["id"] for row in rows]
            await asyncio.sleep(0)
        return taken

    leased = [i for ids in await asyncio.gather(*(lease_all(s) for s in two * 2)) for i in ids]
    assert len(leased) == 60 and len(set(leased)) == 60


async def test_an_identify_racing_writes_on_another_process_backfills_every_event(two):
    writer, identifier = two
    session = "s-race"
    written: list[str] = []

    async def write() -> None:
        for _ in range(40):
            batch = [_event(session_id=session) for _ in range(3)]
            written.extend(o.id for o in await writer.write_batch(batch))

    async def identify() -> int:
        await asyncio.sleep(0.02)
        found = await identifier.identify(session, ContactRef("email", "race@b.c"), False)
        assert found is not None
        return found[0]

    _, contact_id = await asyncio.gather(write(), identify())
    owners = {(await writer.get_event(i))["contact_id"] for i in written}
    assert owners == {contact_id}, "an event of the session stayed anonymous"


async def test_migrations_are_applied_once_when_processes_start_together_on_postgres(
    empty_db_url,
):
    storages = [open_storage(empty_db_url) for _ in range(3)]
    await asyncio.gather(*(s.open() for s in storages))
    try:
        assert await storages[0].get_setting("x") is None  # the schema is there
    finally:
        for s in storages:
            await s.close()
    versions = await _migration_versions(empty_db_url)
    assert versions and len(versions) == len(set(versions))


async def _migration_versions(url: str) -> list[int]:
    conn = await asyncpg.connect(url)
    try:
        return [row[0] for row in await conn.fetch("SELECT version FROM schema_migrations")]
    finally:
        await conn.close()


@pytest.fixture
def empty_db_url(pg_server):
    """A PostgreSQL database without the schema yet."""
    url = pg_server.create_database(migrated=False)
    yield url
    pg_server.drop_database(url)


async def test_a_nul_character_never_fails_a_write_or_a_look_up(store):
    # PostgreSQL text cannot hold U+0000: documents keep it exactly all the same, ids and
    # identifiers find their row (stored as U+FFFD).
    nul = "a\x00b"
    [outcome] = await store.write_batch(
        [
            _event(
                nul,
                session_id=nul,
                source=nul,
                params={"s": nul, nul: 1, "product": {"product_id": nul, "name": nul}},
                keys={nul: "string"},
                products=[{"product_id": nul, "name": nul}],
            )
        ]
    )
    assert outcome.status == "accepted"
    stored = await store.get_event(nul)
    assert stored["params"] == {"s": nul, nul: 1, "product": {"product_id": nul, "name": nul}}
    assert await store.stored_ids([nul]) == {nul}
    # a search by it answers (SQLite's CAST AS TEXT stops at the NUL and finds nothing)
    found = await store.search_events(EventQuery(params=[("s", nul)]))
    assert len(found) == 1 or not isinstance(store, PostgresStorage)
    contact = await store.upsert_contact({"external_id": nul}, {nul: nul, "x": "\ufffe"})
    assert contact["attributes"] == {nul: nul, "x": "\ufffe"}
    assert (await store.find_contact("external_id", nul))["id"] == contact["id"]
    assert await store.contact_ids_by("external_id", [nul]) == {nul: contact["id"]}
    assert [c["id"] for c in await store.search_contacts(nul, 10, None)] == [contact["id"]]
    found = await store.identify(nul, ContactRef("external_id", nul), False)
    assert found == (contact["id"], 1)


def test_postgres_urls_open_the_postgresql_backend():
    assert isinstance(open_storage("postgresql://u@h/db"), PostgresStorage)
    assert isinstance(open_storage("postgres://u@h/db"), PostgresStorage)


async def test_a_raw_nul_in_a_malformed_body_is_kept_byte_for_byte(api):
    response = await api.post("/api/v1/events", data=b'{"event": "ping", "x": "a\x00b"}')
    assert response.status == 400
    [failed] = await api.failed(reason="malformed")
    assert failed["payload"] == '{"event": "ping", "x": "a\x00b"}'


async def test_sqlite_writes_of_several_processes_take_turns_on_a_lock_file(tmp_path):
    """Event batches, and every other write, wait while another process holds the write
    lock (not in SQLite's sleeping busy loop), and commit as soon as it is free."""
    storage = open_storage(f"sqlite:///{tmp_path / 'turns.db'}")
    await storage.open()
    writes = {
        "a batch": lambda: storage.write_batch([_event("held-back")]),
        "a setting": lambda: storage.put_setting_if_absent("turns", "mine"),
    }
    try:
        with open(tmp_path / "turns.db-writelock", "a") as other_process:
            for what, write in writes.items():
                fcntl.flock(other_process, fcntl.LOCK_EX)
                waiting = asyncio.create_task(write())
                await asyncio.sleep(0.3)
                assert not waiting.done(), f"{what} did not wait for the lock"
                fcntl.flock(other_process, fcntl.LOCK_UN)
                await asyncio.wait_for(waiting, 10)
        assert await storage.stored_ids(["held-back"]) == {"held-back"}
        assert await storage.put_setting_if_absent("turns", "other") == "mine"
    finally:
        await storage.close()


async def test_a_batch_that_fails_midway_leaves_nothing_and_the_next_one_commits(store):
    unstorable = _event("second", params={"x": object()})  # cannot be written as JSON
    with pytest.raises((TypeError, asyncpg.DataError)):  # SQLite's encoder, asyncpg's
        await store.write_batch([_event("first"), unstorable])
    assert await store.stored_ids(["first", "second"]) == set()
    outcomes = await store.write_batch([_event("first")])
    assert [(o.status, o.id) for o in outcomes] == [("accepted", "first")]
    assert await store.stored_ids(["first"]) == {"first"}
