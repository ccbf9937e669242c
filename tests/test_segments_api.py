"""Segments over the HTTP API: rules of every kind, refusals naming the rule, paging, CSV."""

from __future__ import annotations

import pytest


@pytest.fixture
async def shop(api):
    await api.define(
        "purchase",
        [
            {"code": "amount", "type": "decimal"},
            {"code": "color", "type": "text"},
            {"code": "gift", "type": "boolean"},
            {"code": "paid_on", "type": "date"},
            {"code": "qty", "type": "integer"},
            {"code": "paid_at", "type": "timestamp"},
        ],
    )
    await api.define("cart_abandoned")
    buys = [
        ("ann", 150, "red", True, 3),
        ("ann", 120, "red shirt", False, 1),
        ("ann", 20, "blue", False, 2),
        ("bob", 500, "", True, 1),
        ("cy", 5, "green", False, 9),
    ]
    batch = [
        {
            "event": "purchase",
            "contact": {"email": f"{who}@example.com"},
            "params": {
                "amount": amount,
                "color": color,
                "gift": gift,
                "qty": qty,
                "paid_on": "2026-11-20",
                "paid_at": "2026-11-20T10:00:00Z",
            },
        }
        for who, amount, color, gift, qty in buys
    ]
    batch.append({"event": "cart_abandoned", "contact": {"email": "dee@example.com"}})
    assert all(r["status"] == "accepted" for r in (await api.send({"batch": batch}))["results"])
    await api.post("/api/v1/contacts", {"email": "eve@example.com"})  # no events at all
    return api


async def _emails(api, rules, **query):
    response = await api.post("/api/v1/segments/preview", {"rules": rules}, params=query)
    body = await response.json()
    assert response.status == 200, body
    return sorted(c["email"].split("@")[0] for c in body["contacts"]), body


@pytest.mark.parametrize(
    ("condition", "who"),
    [
        ({"event": "purchase"}, ["ann", "bob", "cy"]),
        ({"event": "purchase", "count": {"op": ">=", "value": 3}}, ["ann"]),
        ({"event": "purchase", "count": {"op": "=", "value": 1}}, ["bob", "cy"]),
        ({"event": "purchase", "count": {"op": "=", "value": 0}}, ["dee", "eve"]),
        ({"event": "purchase", "count": {"op": "<=", "value": 1}}, ["bob", "cy", "dee", "eve"]),
        (
            {"event": "purchase", "where": [{"param": "$amount", "op": ">", "value": 100}]},
            ["ann", "bob"],
        ),
        (
            {
                "event": "purchase",
                "count": {"op": ">=", "value": 2},
                "where": [{"param": "$amount", "op": ">", "value": 100}],
            },
            ["ann"],
        ),
        (
            {
                "event": "purchase",
                "where": [{"param": "$amount", "op": "between", "value": [5, 20]}],
            },
            ["ann", "cy"],
        ),
        (
            {"event": "purchase", "where": [{"param": "$amount", "op": "!=", "value": 150}]},
            ["ann", "bob", "cy"],
        ),
        (
            {"event": "purchase", "where": [{"param": "$color", "op": "contains", "value": "RED"}]},
            ["ann"],
        ),
        (
            {
                "event": "purchase",
                "where": [{"param": "$color", "op": "in", "value": ["blue", "green"]}],
            },
            ["ann", "cy"],
        ),
        (
            {"event": "purchase", "where": [{"param": "$color", "op": "empty", "value": True}]},
            ["bob"],
        ),
        (
            {"event": "purchase", "where": [{"param": "$gift", "op": "is", "value": True}]},
            ["ann", "bob"],
        ),
        ({"event": "purchase", "where": [{"param": "$qty", "op": ">=", "value": 9}]}, ["cy"]),
        (
            {
                "event": "purchase",
                "where": [{"param": "$paid_on", "op": "before", "value": "2026-11-21"}],
            },
            ["ann", "bob", "cy"],
        ),
        (
            {
                "event": "purchase",
                "where": [{"param": "$paid_at", "op": "after", "value": "2026-11-20T10:00:00Z"}],
            },
            [],
        ),
        (
            {
                "event": "purchase",
                "where": [
                    {"param": "$paid_on", "op": "between", "value": ["2026-11-20", "2026-11-20"]}
                ],
            },
            ["ann", "bob", "cy"],
        ),
        ({"event": "purchase", "period": {"last_days": 1}}, ["ann", "bob", "cy"]),
        ({"event": "purchase", "period": {"from": "2020-01-01", "to": "2020-12-31"}}, []),
        (
            {"event": "purchase", "last_seen": {"op": "within_days", "value": 7}},
            ["ann", "bob", "cy"],
        ),
        ({"event": "purchase", "first_seen": {"op": "more_than_days_ago", "value": 7}}, []),
        (
            {
                "any": [
                    {"event": "cart_abandoned"},
                    {
                        "event": "purchase",
                        "where": [{"param": "$amount", "op": ">=", "value": 500}],
                    },
                ]
            },
            ["bob", "dee"],
        ),
    ],
)
async def test_conditions_select_the_right_contacts(shop, condition, who):
    found, body = await _emails(shop, {"match": "all", "conditions": [condition]})
    assert found == who
    assert body["count"] == len(who)


async def test_match_any_and_all_combine(shop):
    rules = {
        "match": "any",
        "conditions": [
            {"event": "cart_abandoned"},
            {"event": "purchase", "count": {"op": ">=", "value": 3}},
        ],
    }
    assert (await _emails(shop, rules))[0] == ["ann", "dee"]
    rules["match"] = "all"
    assert (await _emails(shop, rules))[0] == []


@pytest.mark.parametrize(
    ("rules", "path"),
    [
        ({"conditions": [{"event": "nope"}]}, "rules.conditions[0].event"),
        (
            {
                "conditions": [
                    {"event": "purchase", "where": [{"param": "$missing", "op": "=", "value": 1}]}
                ]
            },
            "rules.conditions[0].where[0].param",
        ),
        (
            {
                "conditions": [
                    {
                        "event": "purchase",
                        "where": [{"param": "$amount", "op": "contains", "value": "1"}],
                    }
                ]
            },
            "rules.conditions[0].where[0].op",
        ),
        (
            {
                "conditions": [
                    {"event": "purchase", "where": [{"param": "$gift", "op": ">", "value": 1}]}
                ]
            },
            "rules.conditions[0].where[0].op",
        ),
        (
            {
                "conditions": [
                    {
                        "event": "purchase",
                        "where": [{"param": "$amount", "op": ">", "value": "lots"}],
                    }
                ]
            },
            "rules.conditions[0].where[0].value",
        ),
        (
            {"conditions": [{"event": "purchase", "count": {"op": ">", "value": 1}}]},
            "rules.conditions[0].count.op",
        ),
        ({"match": "most", "conditions": [{"event": "purchase"}]}, "rules.match"),
        ({"conditions": []}, "rules.conditions"),
        (
            {"conditions": [{"any": [{"event": "purchase", "period": {"last_days": 0}}]}]},
            "rules.conditions[0].any[0].period.last_days",
        ),
    ],
)
async def test_bad_rules_are_refused_naming_the_rule(shop, rules, path):
    response = await shop.post("/api/v1/segments/preview", {"rules": rules})
    assert response.status == 422
    error = (await response.json())["error"]
    assert error["code"] == "invalid_rules"
    assert error["details"][0]["path"] == path, error


async def test_saved_segments_page_and_export_as_csv(shop):
    rules = {
        "match": "all",
        "conditions": [{"event": "purchase", "count": {"op": "<=", "value": 1}}],
    }
    response = await shop.post("/api/v1/segments", {"name": "few buys", "rules": rules})
    assert response.status == 201
    segment = await response.json()
    listed = await (await shop.get("/api/v1/segments")).json()
    assert [s["name"] for s in listed["segments"]] == ["few buys"]
    first = await (
        await shop.get(f"/api/v1/segments/{segment['id']}/contacts", params={"limit": "3"})
    ).json()
    assert first["count"] == 4 and len(first["contacts"]) == 3 and first["next"]
    rest = await (
        await shop.get(
            f"/api/v1/segments/{segment['id']}/contacts",
            params={"limit": "3", "cursor": first["next"]},
        )
    ).json()
    assert len(rest["contacts"]) == 1 and rest["next"] is None
    csv_response = await shop.get(f"/api/v1/segments/{segment['id']}/contacts.csv")
    text = await csv_response.text()
    assert csv_response.content_type == "text/csv"
    lines = text.strip().splitlines()
    assert lines[0] == "id,email,phone,external_id,created_at" and len(lines) == 5
    assert (await shop.get("/api/v1/segments/999/contacts")).status == 404


async def test_a_key_that_may_not_read_emails_does_not_see_them(shop):
    key = await shop.new_key(allow_read="contact_id")
    response = await shop.post(
        "/api/v1/segments/preview", {"rules": {"conditions": [{"event": "purchase"}]}}, key=key
    )
    contacts = (await response.json())["contacts"]
    assert contacts and all("email" not in c for c in contacts)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # reads SQLite's plan format
async def test_the_segment_query_uses_indexes(shop):
    from collector.appkeys import DEFINITIONS, STORAGE
    from collector.segments import compile_rules

    rules = {
        "conditions": [
            {
                "event": "purchase",
                "period": {"last_days": 30},
                "where": [{"param": "$amount", "op": ">", "value": 100}],
            }
        ]
    }
    plan = await shop.app[STORAGE].explain_segment(compile_rules(rules, shop.app[DEFINITIONS]))
    assert any("USING INDEX events_by_name" in line for line in plan), plan
    assert not any(line.startswith("SCAN events") for line in plan), plan
