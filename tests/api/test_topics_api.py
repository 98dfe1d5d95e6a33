"""Topics over the API: taxonomy versions, summaries, evidence, emerging topics, account topics
and corrections, with the real models on a handful of hand-written messages."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import col, select

from models.topics.taxonomy import load_taxonomy
from pipelines.scoring import ScoringWorker
from pipelines.topics import topic_model
from sentiment_service.model_hub import ModelHub
from sentiment_service.storage.database import Database
from sentiment_service.storage.tables import AuditLogEntry, MessageTopic, TopicCorrection
from sentiment_service.vocabulary import Role
from tests.conftest import auth
from tests.factories import account_body, message

# Two accounts; October 2026 is the default period (the latest message is on 2026-10-30) and
# September the period before it.
TOPIC_MESSAGES: dict[str, dict[str, Any]] = {
    "b0": message(
        "b0", text="We were charged twice for the same seats last month.", created_at="2026-09-15"
    ),
    "b1": message(
        "b1",
        text="We were charged twice on the last invoice, please refund it.",
        created_at="2026-10-05T09:00:00Z",
    ),
    "b2": message(
        "b2",
        text="Our credit card payment failed again and the invoice is overdue.",
        created_at="2026-10-12T09:00:00Z",
    ),
    "b3": message(
        "b3",
        source="chat",
        source_system="intercom",
        text="Why did the price go up on our latest invoice?",
        created_at="2026-10-20T09:00:00Z",
    ),
    "q1": message(
        "q1",
        text="Honestly we are looking at Quorvo because they are cheaper.",
        created_at="2026-10-22T09:00:00Z",
    ),
    "o1": message(
        "o1",
        text="Your platform has been down all morning and nobody can log in.",
        created_at="2026-10-25T09:00:00Z",
    ),
    "a1": message(
        "a1",
        author_role="agent",
        text="I have refunded the duplicate charge on your invoice.",
        created_at="2026-10-06T09:00:00Z",
    ),
    "s0": message(
        "s0",
        account_id="globex",
        text="The Salesforce sync has been broken since the upgrade.",
        created_at="2026-09-20T09:00:00Z",
    ),
    "s1": message(
        "s1",
        account_id="globex",
        text="The Salesforce sync stopped updating contacts.",
        created_at="2026-10-10T09:00:00Z",
    ),
    "s2": message(
        "s2",
        account_id="globex",
        text="Webhooks are not firing for new Salesforce events.",
        created_at="2026-10-30T09:00:00Z",
    ),
}
# A subject the shipped taxonomy does not cover: eight near-identical complaints in the week
# 2026-10-24..30, none in the week before; one billing message in the same week.
CALENDAR_TEXTS = [
    "The calendar widget starts the week on Sunday for our Lisbon office.",
    "Our calendar widget starts the week on Sunday in Lisbon.",
    "In Lisbon the calendar widget starts each week on a Sunday.",
    "The calendar widget begins the week on Sunday for the Lisbon team.",
    "For our Lisbon staff the calendar widget starts weeks on Sunday.",
    "The Lisbon office sees the calendar widget start the week on Sunday.",
    "Calendar widget starts the week on Sunday for everyone in Lisbon.",
    "The calendar widget in Lisbon starts the week on Sunday again.",
]


def _ingest(
    client: TestClient,
    keys: dict[Role, str],
    database: Database,
    model_hub: ModelHub,
    records: dict[str, dict[str, Any]],
) -> dict[str, int]:
    """Create the accounts, ingest `records`, score them; returns external id -> message id."""
    admin = auth(keys[Role.ADMIN])
    client.put("/v1/accounts/acme", json=account_body(), headers=admin)
    globex = account_body("Globex", segment="smb", external_ids={"zendesk": "org-2"})
    client.put("/v1/accounts/globex", json=globex, headers=admin)
    batch = list(records.values())
    body = client.post(
        "/v1/messages", json={"messages": batch}, headers=auth(keys[Role.INGEST])
    ).json()
    assert body["counts"]["accepted"] == len(batch), body
    ScoringWorker(
        database,
        model_hub.scorer(),
        topics=lambda s: topic_model(s, model_hub),
        worker_id="t",
    ).drain()
    return {batch[item["index"]]["external_id"]: item["id"] for item in body["accepted"]}


def _audit_actions(database: Database) -> list[str]:
    with database.session() as session:
        return list(session.exec(select(AuditLogEntry.action).order_by(col(AuditLogEntry.id))))


def test_taxonomy_versions_diff_and_validation(
    client: TestClient, keys: dict[Role, str], database: Database
) -> None:
    admin, viewer = auth(keys[Role.ADMIN]), auth(keys[Role.VIEWER])
    shipped = client.get("/v1/taxonomy", headers=viewer).json()
    assert shipped["version"] is None and shipped["sha256"] == load_taxonomy().sha256()
    assert client.get("/v1/taxonomy/versions", headers=viewer).json() == []

    document = shipped["taxonomy"]
    document["topics"][0]["name"] = "Billing, pricing & invoices"
    first = client.put(
        "/v1/taxonomy", json={"taxonomy": document, "reason": "rename billing"}, headers=admin
    )
    assert first.status_code == 200, first.text
    assert first.json()["version"] == 1 and first.json()["changed"] is True
    assert first.json()["changes"] == [
        {"path": "topics[0].name", "old": "Billing & pricing", "new": "Billing, pricing & invoices"}
    ]
    assert "sentiment-service retopic" in first.json()["note"]
    again = client.put(
        "/v1/taxonomy", json={"taxonomy": document, "reason": "same again"}, headers=admin
    ).json()
    assert again["version"] == 1 and again["changed"] is False

    document["topics"][1]["description"] = "The service is down or unavailable."
    client.put("/v1/taxonomy", json={"taxonomy": document, "reason": "shorter"}, headers=admin)
    current = client.get("/v1/taxonomy", headers=viewer).json()
    assert current["version"] == 2
    assert current["taxonomy"]["topics"][1]["description"] == "The service is down or unavailable."
    versions = client.get("/v1/taxonomy/versions", headers=viewer).json()
    assert [(v["version"], v["reason"]) for v in versions] == [
        (2, "shorter"),
        (1, "rename billing"),
    ]
    assert versions[0]["author"].startswith("key:") and versions[0]["diff"] == [
        {
            "path": "topics[1].description",
            "old": load_taxonomy().topics[1].description,
            "new": "The service is down or unavailable.",
        }
    ]
    assert _audit_actions(database).count("taxonomy.publish") == 2

    document["topics"][2]["key"] = "Bad Key"
    bad = client.put("/v1/taxonomy", json={"taxonomy": document, "reason": "x"}, headers=admin)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "taxonomy.topics[2].key"
    missing = client.put(
        "/v1/taxonomy", json={"taxonomy": {"name": "x"}, "reason": "x"}, headers=admin
    )
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "taxonomy.topics"
    no_reason = client.put(
        "/v1/taxonomy", json={"taxonomy": document, "reason": " "}, headers=admin
    )
    assert no_reason.status_code == 422 and no_reason.json()["errors"][0]["field"] == "reason"
    assert client.get("/v1/taxonomy", headers=viewer).json()["version"] == 2


def test_summary_drill_down_account_topics_and_corrections(
    client: TestClient, keys: dict[Role, str], database: Database, model_hub: ModelHub
) -> None:
    ids = _ingest(client, keys, database, model_hub, TOPIC_MESSAGES)
    viewer = auth(keys[Role.VIEWER])

    summary = client.get("/v1/topics", headers=viewer).json()
    assert (summary["start"], summary["end"]) == ("2026-10-01", "2026-10-30")
    assert (summary["previous_start"], summary["previous_end"]) == ("2026-09-01", "2026-09-30")
    assert (summary["analysed_messages"], summary["previous_analysed_messages"]) == (7, 2)
    topics = {t["topic"]: t for t in summary["topics"]}
    billing = topics["billing"]
    assert (billing["mentions"], billing["previous_mentions"], billing["mentions_change"]) == (
        3,
        1,
        2,
    )
    assert billing["share"] == round(3 / 7, 4) and billing["mentions_change_ratio"] == 2.0
    assert billing["negative_share"] == 1.0 and billing["mean_sentiment"] < 0
    assert (topics["integrations"]["mentions"], topics["integrations"]["previous_mentions"]) == (
        2,
        1,
    )
    assert topics["outage"]["mentions"] == 1 and topics["usability"]["mentions"] == 0
    assert summary["topics"][0]["topic"] == "billing"
    assert summary["competitors"] == [
        {
            "competitor": "quorvo",
            "mentions": 1,
            "by_intent": {"evaluating": 1},
            "previous_mentions": 0,
        }
    ]
    smb = client.get("/v1/topics", params={"segment": "smb"}, headers=viewer).json()
    assert {t["topic"] for t in smb["topics"] if t["mentions"]} == {"integrations"}
    chats = client.get("/v1/topics", params={"source": "chat"}, headers=viewer).json()
    assert chats["analysed_messages"] == 1
    assert {t["topic"]: t["mentions"] for t in chats["topics"] if t["mentions"]} == {"billing": 1}

    page = client.get("/v1/topics/billing/messages", params={"limit": 2}, headers=viewer).json()
    assert [m["message_id"] for m in page["items"]] == [ids["b3"], ids["b2"]]
    assert page["items"][0]["evidence"] == "Why did the price go up on our latest invoice?"
    assert page["items"][0]["source"] == "chat" and page["items"][0]["account_id"] == "acme"
    rest = client.get(
        "/v1/topics/billing/messages",
        params={"limit": 2, "cursor": page["next_cursor"]},
        headers=viewer,
    ).json()
    assert [m["message_id"] for m in rest["items"]] == [ids["b1"], ids["b0"]]
    assert rest["next_cursor"] is None
    october = client.get(
        "/v1/topics/billing/messages", params={"start": "2026-10-01"}, headers=viewer
    ).json()
    assert len(october["items"]) == 3
    assert (
        client.get(
            "/v1/topics/billing/messages", params={"account_id": "globex"}, headers=viewer
        ).json()["items"]
        == []
    )
    unknown = client.get("/v1/topics/nope/messages", headers=viewer)
    assert unknown.status_code == 404 and "billing" not in unknown.text
    bad_cursor = client.get("/v1/topics/billing/messages?cursor=abc", headers=viewer)
    assert bad_cursor.status_code == 422 and bad_cursor.json()["errors"][0]["field"] == "cursor"

    account = client.get("/v1/accounts/acme/topics", headers=viewer).json()
    by_topic = {t["topic"]: t for t in account["topics"]}
    assert set(by_topic) == {"billing", "competitor", "outage"}
    assert by_topic["billing"]["mentions"] == 3
    assert by_topic["billing"]["latest_evidence"]["message_id"] == ids["b3"]
    [rival] = account["competitors"]
    assert (rival["competitor"], rival["intent"], rival["message_id"]) == (
        "quorvo",
        "evaluating",
        ids["q1"],
    )
    assert rival["created_at"].startswith("2026-10-22") and "Quorvo" in rival["evidence"]
    phrases = [k["phrase"] for k in account["keyphrases"]]
    assert "invoice" in phrases and "salesforce sync" not in phrases
    assert account["keyphrase_basis"]["account_messages"] == 5
    assert account["keyphrase_basis"]["other_messages"] == 2
    assert client.get("/v1/accounts/nope/topics", headers=viewer).status_code == 404

    evaluator = auth(keys[Role.ANALYST])
    outage = f"/v1/messages/{ids['o1']}/topics"
    wrong = client.put(
        f"{outage}/outage", json={"present": False, "note": "a test"}, headers=evaluator
    )
    assert wrong.status_code == 200 and wrong.json()["present"] is False
    client.put(f"{outage}/performance", json={"present": True}, headers=evaluator)
    seen = client.get(outage, headers=viewer).json()
    assert [t["topic"] for t in seen["topics"]] == ["outage"]
    assert seen["topics"][0]["evidence"].startswith("Your platform has been down")
    assert [(c["topic"], c["present"]) for c in seen["corrections"]] == [
        ("outage", False),
        ("performance", True),
    ]
    assert seen["effective_topics"] == ["performance"]
    client.put(f"{outage}/outage", json={"present": True}, headers=evaluator)
    assert client.get(outage, headers=viewer).json()["effective_topics"] == [
        "outage",
        "performance",
    ]
    with database.session() as session:
        assert len(session.exec(select(TopicCorrection)).all()) == 3
    assert _audit_actions(database).count("topic.correct") == 3
    not_a_topic = client.put(f"{outage}/calendar", json={"present": True}, headers=evaluator)
    assert not_a_topic.status_code == 422 and not_a_topic.json()["errors"][0]["field"] == "topic"
    gone = client.put(
        "/v1/messages/424242/topics/billing", json={"present": True}, headers=evaluator
    )
    assert gone.status_code == 404
    assert client.get("/v1/messages/424242/topics", headers=viewer).status_code == 404


def test_emerging_cluster_and_promotion(
    client: TestClient, keys: dict[Role, str], database: Database, model_hub: ModelHub
) -> None:
    records = {
        f"w{i}": message(f"w{i}", text=text, created_at=f"2026-10-{24 + i % 7}T10:00:00Z")
        for i, text in enumerate(CALENDAR_TEXTS)
    }
    records["b1"] = TOPIC_MESSAGES["b1"] | {"created_at": "2026-10-27T09:00:00Z"}
    ids = _ingest(client, keys, database, model_hub, records)
    widget_ids = {ids[f"w{i}"] for i in range(len(CALENDAR_TEXTS))}
    with database.session() as session:
        topics = session.exec(select(MessageTopic.message_id, MessageTopic.topic)).all()
    assert {message_id for message_id, _ in topics} == {ids["b1"]}  # the widget got no topic

    viewer = auth(keys[Role.VIEWER])
    found = client.get("/v1/topics/emerging", params={"end": "2026-10-30"}, headers=viewer).json()
    assert (found["current"]["start"], found["current"]["end"]) == ("2026-10-24", "2026-10-30")
    assert found["current"]["messages"] == 8 and found["previous"]["messages"] == 0
    assert found["current"]["capped"] is False and found["cap_per_window"] == 5000
    [cluster] = found["clusters"]
    assert (cluster["size"], cluster["previous_size"], cluster["growth"]) == (8, 0, 8.0)
    assert "calendar widget" in cluster["keyphrases"] and "calendar widget" in cluster["label"]
    assert {e["message_id"] for e in cluster["examples"]} <= widget_ids
    seed = cluster["topic_seed"]
    assert seed["key"].startswith("calendar_widget") and len(seed["examples"]) == 5

    quiet = client.get("/v1/topics/emerging", params={"end": "2026-10-15"}, headers=viewer).json()
    assert quiet["clusters"] == [] and quiet["current"]["messages"] == 0
    slower = client.get(
        "/v1/topics/emerging", params={"end": "2026-10-30", "growth_ratio": 9}, headers=viewer
    ).json()
    assert slower["clusters"] == [] and slower["current"]["messages"] == 8
    bad = client.get("/v1/topics/emerging", params={"window_days": 0}, headers=viewer)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "window_days"

    admin = auth(keys[Role.ADMIN])
    promoted = client.post(
        "/v1/topics/emerging/promote", json={**seed, "reason": "new widget"}, headers=admin
    )
    assert promoted.status_code == 201, promoted.text
    assert promoted.json()["version"] == 1
    keys_now = [
        t["key"] for t in client.get("/v1/taxonomy", headers=viewer).json()["taxonomy"]["topics"]
    ]
    assert keys_now[-1] == seed["key"] and "billing" in keys_now
    twice = client.post(
        "/v1/topics/emerging/promote", json={**seed, "reason": "again"}, headers=admin
    )
    assert twice.status_code == 409 and twice.json()["errors"][0]["field"] == "key"
    segment_topic = {**seed, "key": "regulatory", "reason": "clash with a segment topic"}
    assert (
        client.post("/v1/topics/emerging/promote", json=segment_topic, headers=admin).status_code
        == 409
    )
    assert [v["version"] for v in client.get("/v1/taxonomy/versions", headers=viewer).json()] == [1]
    assert "topic.promote" in _audit_actions(database)


HOSTILE: list[tuple[str, str, Any]] = [
    ("GET", "/v1/topics?segment=a%00b", None),
    ("GET", "/v1/topics?start=0001-01-01", None),
    ("GET", "/v1/topics?start=2026-10-10&end=2026-10-01", None),
    ("GET", "/v1/topics?start=2020-01-01&end=2026-01-01", None),
    ("GET", "/v1/topics?end=9999-12-31", None),
    ("GET", "/v1/topics?source=fax", None),
    ("GET", "/v1/topics/billing/messages?cursor=99999999999999999999-1", None),
    ("GET", "/v1/topics/billing/messages?cursor=1-0", None),
    ("GET", "/v1/topics/billing/messages?end=9999-12-31", None),
    ("GET", "/v1/topics/emerging?end=0001-01-02", None),
    ("GET", "/v1/topics/emerging?growth_ratio=nan", None),
    ("GET", "/v1/accounts/acme/topics?start=2026-02-30", None),
    ("GET", "/v1/messages/99999999999999999999/topics", None),
    ("PUT", "/v1/messages/1/topics/Not-A-Key", {"present": True}),
    ("PUT", "/v1/taxonomy", {"taxonomy": [], "reason": "x"}),
    ("PUT", "/v1/taxonomy", {"taxonomy": {"topics": [{"key": "a\x00"}]}, "reason": "x"}),
    ("POST", "/v1/topics/emerging/promote", {"key": "x", "name": "\x00", "reason": "x"}),
    (
        "POST",
        "/v1/topics/emerging/promote",
        {"key": "x", "name": "X", "description": "\x00", "examples": [" \x00"], "reason": "x"},
    ),
    ("PUT", "/v1/taxonomy", {"taxonomy": {"topics": []}, "reason": "\x00"}),
    ("GET", "/v1/topics/billing/messages?start=2026-10-10&end=2026-10-01", None),
]


def test_bad_input_is_a_4xx_problem(client: TestClient, keys: dict[Role, str]) -> None:
    admin = auth(keys[Role.ADMIN])
    client.put("/v1/accounts/acme", json=account_body(), headers=admin)
    for method, path, body in HOSTILE:
        response = client.request(method, path, json=body, headers=admin)
        assert 400 <= response.status_code < 500, (path, response.status_code, response.text)
        assert response.headers["content-type"] == "application/problem+json", path
