"""Plain-English audience questions: parsed to rules, run, or refused with the words."""

from __future__ import annotations

import pytest


@pytest.fixture
async def shop(api):
    await api.define(
        "add-to-cart",
        [
            {"code": "name", "type": "text"},
            {"code": "product_id", "type": "text"},
            {"code": "price", "type": "decimal"},
        ],
        title="Add to cart",
    )
    await api.define("purchase", [{"code": "amount", "type": "decimal"}])
    batch = [
        {
            "event": "add-to-cart",
            "contact": {"email": "ann@example.com"},
            "params": {"name": "Red Shirt", "product_id": "tee-red", "price": 19.9},
        },
        {
            "event": "add-to-cart",
            "contact": {"email": "bob@example.com"},
            "params": {"name": "Blue shirt", "product_id": "tee-blue", "price": 19.9},
        },
        {
            "event": "add-to-cart",
            "contact": {"email": "cy@example.com"},
            "params": {"name": "Black cap", "product_id": "cap-1", "price": 14.5},
        },
    ]
    batch += [
        {"event": "purchase", "contact": {"email": "bob@example.com"}, "params": {"amount": 10 * i}}
        for i in range(1, 4)
    ]
    batch += [
        {"event": "purchase", "contact": {"email": "cy@example.com"}, "params": {"amount": 5}}
    ]
    assert all(r["status"] == "accepted" for r in (await api.send({"batch": batch}))["results"])
    return api


async def _ask(api, q):
    response = await api.post("/api/v1/audience/query", {"q": q})
    return response.status, await response.json()


@pytest.mark.parametrize(
    ("question", "who"),
    [
        ("all users who performed add-to-cart where the product is red shirt", ["ann"]),
        ("users who did add to cart where the product is tee-blue", ["bob"]),
        ("contacts who did purchase at least 3 times in the last 30 days", ["bob"]),
        ("contacts who did purchase exactly once", ["cy"]),
        ("people who performed Add to cart where price < 15", ["cy"]),
        ("customers who did add-to-cart and did purchase", ["bob", "cy"]),
        ("users who did purchase twice or who did add-to-cart where the name contains cap", ["cy"]),
        ("users who did purchase where amount is greater than 15 and amount < 35", ["bob"]),
    ],
)
async def test_questions_become_rules_and_find_the_contacts(shop, question, who):
    status, body = await _ask(shop, question)
    assert status == 200, body
    assert sorted(c["email"].split("@")[0] for c in body["contacts"]) == who
    assert body["count"] == len(who)
    assert body["rules"]["conditions"]


async def test_the_red_shirt_question_compiles_to_the_names_really_received(shop):
    _, body = await _ask(shop, "all users who performed add-to-cart where the product is red shirt")
    assert body["rules"] == {
        "match": "all",
        "conditions": [
            {
                "event": "add-to-cart",
                "where": [{"param": "$name", "op": "in", "value": ["Red Shirt"]}],
            }
        ],
    }


@pytest.mark.parametrize(
    ("question", "words"),
    [
        ("all users who bought a spaceship", "bought a spaceship"),
        ("users who did teleport", "teleport"),
        ("users who did purchase at least lots times", "at least lots times"),
        ("users who did purchase where colour is red", "colour is red"),
        ("users who did purchase in the last few days", "few days"),
    ],
)
async def test_questions_it_cannot_parse_say_which_words(shop, question, words):
    status, body = await _ask(shop, question)
    assert status == 422
    assert body["error"]["code"] == "not_understood"
    assert words in body["error"]["message"]


async def test_an_unknown_product_is_refused_by_name(shop):
    status, body = await _ask(shop, "users who did add-to-cart where the product is green hat")
    assert status == 422 and "green hat" in body["error"]["message"]
