"""Abuse limits: token buckets on collect (429 + Retry-After), login throttling."""

from __future__ import annotations

import json

from conftest import CSRF_FIELD

from collector.app import create_app
from collector.appkeys import STORAGE
from collector.config import Config
from collector.keys import create_key
from collector.login_throttle import MAX_FAILURES, LoginThrottle
from collector.ratelimit import Buckets
from collector.users import create_user


def test_a_bucket_allows_bursts_of_twice_the_rate_then_asks_to_wait():
    buckets = Buckets(rate=10)
    assert [buckets.take("ip:1", now=0.0) for _ in range(20)] == [0.0] * 20
    wait = buckets.take("ip:1", now=0.0)
    assert 0 < wait <= 0.1
    assert buckets.take("ip:2", now=0.0) == 0.0  # another client is not slowed
    assert buckets.take("ip:1", now=0.2) == 0.0  # refilled at 10 a second
    assert Buckets(rate=0).take("x") == 0.0  # 0 turns it off


def test_login_throttle_counts_per_account_and_per_ip_for_15_minutes():
    throttle = LoginThrottle()
    for _ in range(MAX_FAILURES):
        assert throttle.wait("a@x", "1.1.1.1", now=0) == 0
        throttle.failed("a@x", "1.1.1.1", now=0)
    assert throttle.wait("a@x", "9.9.9.9", now=1) > 0  # the account, from anywhere
    assert throttle.wait("b@x", "1.1.1.1", now=1) > 0  # the address, for any account
    assert throttle.wait("b@x", "2.2.2.2", now=1) == 0
    assert throttle.wait("a@x", "9.9.9.9", now=15 * 60 + 1) == 0  # the window passed


async def test_collect_answers_429_with_retry_after_past_the_limit(aiohttp_client, db_url):
    client = await aiohttp_client(await create_app(Config(db_url=db_url, rate_limit=2)))
    site_key = await create_key(
        client.server.app[STORAGE], name="s", kind="site", origins=("http://shop.test",)
    )
    body = json.dumps({"k": site_key, "e": []})
    statuses = []
    for _ in range(6):
        response = await client.post("/e", data=body, headers={"Origin": "http://shop.test"})
        statuses.append(response.status)
    assert statuses[:4] == [200] * 4 and statuses[-1] == 429
    assert int(response.headers["Retry-After"]) >= 1
    assert response.headers["Access-Control-Allow-Origin"] == "http://shop.test"
    assert response.headers["Access-Control-Expose-Headers"] == "Retry-After"
    assert (await response.json())["error"]["code"] == "rate_limited"


async def test_the_ui_login_is_throttled_after_ten_failures(api):
    await create_user(api.app[STORAGE], "ops@example.com", "correct horse")
    for _ in range(MAX_FAILURES):
        page = await (await api.client.get("/login")).text()
        token = CSRF_FIELD.search(page).group(1)
        response = await api.client.post(
            "/login", data={"email": "ops@example.com", "password": "wrong", "csrf": token}
        )
        assert response.status == 401
    page = await (await api.client.get("/login")).text()
    token = CSRF_FIELD.search(page).group(1)
    response = await api.client.post(
        "/login",
        data={"email": "ops@example.com", "password": "correct horse", "csrf": token},
        allow_redirects=False,
    )
    assert response.status == 429 and int(response.headers["Retry-After"]) > 0
