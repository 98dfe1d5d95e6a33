"""POST/GET /v1/evaluations, labelled sets and label corrections."""

from __future__ import annotations

import csv
import io

import pytest
from fastapi.testclient import TestClient
from sklearn.metrics import accuracy_score, f1_score
from sqlmodel import select

from sentiment_service.storage.database import Database
from sentiment_service.storage.tables import AuditLogEntry, EvaluationItem, LabelledItem
from sentiment_service.vocabulary import Role
from tests.conftest import auth
from tests.factories import account_body, message

ROWS = [
    ("I love this product, it is wonderful", "positive", "chat"),
    ("Terrible service, I hate waiting", "negative", "ticket"),
    ("The invoice arrived today", "neutral", "ticket"),
    ("Great support, thanks a lot!", "pos", "survey"),
    ("Awful, broken again. Mail me at ana@example.org", "neg", "chat"),
    ("We moved the meeting to Tuesday", "neu", "survey"),
]


def _csv(rows: list[tuple[str, str, str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["text", "label", "source"])
    writer.writerows(rows)
    return buffer.getvalue().encode()


@pytest.fixture
def analyst(keys: dict[Role, str]) -> dict[str, str]:
    """Analyst headers."""
    return auth(keys[Role.ANALYST])


def test_upload_evaluate_store_and_read_back(
    client: TestClient, analyst: dict[str, str], database: Database
) -> None:
    response = client.post(
        "/v1/evaluations",
        files={"file": ("sample.csv", _csv(ROWS), "text/csv")},
        data={"model": ["vader"], "name": "six-rows"},
        headers=analyst,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["labelled_set"] == "six-rows"
    run = body["runs"][0]
    assert run["model_name"] == "vader" and run["n"] == 6
    with database.session() as session:
        items = session.exec(select(EvaluationItem).order_by(EvaluationItem.position)).all()
        stored_texts = session.exec(select(LabelledItem.text)).all()
    truth = [item.label for item in items]
    predicted = [item.predicted for item in items]
    assert run["accuracy"] == pytest.approx(accuracy_score(truth, predicted))
    assert run["macro_f1"] == pytest.approx(f1_score(truth, predicted, average="macro"))
    assert set(run["summary"]["per_source"]) == {"chat", "ticket", "survey"}
    assert not any("ana@example.org" in text for text in stored_texts)

    listed = client.get("/v1/evaluations", params={"model_name": "vader"}, headers=analyst).json()
    assert [r["id"] for r in listed] == [run["id"]]
    detail = client.get(f"/v1/evaluations/{run['id']}", headers=analyst).json()
    assert detail["summary"]["confusion_matrix"]["labels"] == ["negative", "neutral", "positive"]
    report = client.get(run["report_url"], headers=analyst)
    assert report.status_code == 200 and "data:image/png;base64" in report.text

    again = client.post(
        "/v1/evaluations", data={"labelled_set": "six-rows", "model": ["vader"]}, headers=analyst
    ).json()
    assert again["runs"][0]["accuracy"] == run["accuracy"]
    sets = client.get("/v1/labelled-sets", headers=analyst).json()
    assert [(s["name"], s["n"]) for s in sets] == [("six-rows", 6)]


def test_the_transformer_model_is_evaluated_on_the_message_path(
    client: TestClient, analyst: dict[str, str]
) -> None:
    response = client.post(
        "/v1/evaluations",
        files={"file": ("s.csv", _csv(ROWS), "text/csv")},
        data={"model": ["minilm", "vader"]},
        headers=analyst,
    )
    assert response.status_code == 201, response.text
    runs = {run["model_name"]: run for run in response.json()["runs"]}
    assert runs["minilm"]["model_version"].startswith("minilm-sent-")
    assert runs["minilm"]["accuracy"] >= runs["vader"]["accuracy"]


@pytest.mark.parametrize(
    ("files", "data", "field", "fragment"),
    [
        ({"file": ("x.csv", b"body,label\nhi,positive\n", "text/csv")}, {}, "file", "text"),
        ({"file": ("x.csv", b"text,label\nhi,great\n", "text/csv")}, {}, "file", "great"),
        ({"file": ("x.csv", b"", "text/csv")}, {}, "file", "empty"),
        (
            {"file": ("x.csv", "text,label\nhé,positive\n".encode("latin-1"), "text/csv")},
            {},
            "file",
            "UTF-8",
        ),
        ({}, {}, "file", "exactly one"),
        ({}, {"labelled_set": "nope"}, "labelled_set", "nope"),
        ({"file": ("x.csv", _csv(ROWS), "text/csv")}, {"model": ["gpt"]}, "models", "gpt"),
        ({"file": ("x.csv", _csv(ROWS), "text/csv")}, {"label_map": "{oops"}, "label_map", "JSON"),
    ],
)
def test_bad_uploads_are_clear_4xx(
    client: TestClient, analyst: dict[str, str], files: dict, data: dict, field: str, fragment: str
) -> None:
    response = client.post("/v1/evaluations", files=files or None, data=data, headers=analyst)
    assert 400 <= response.status_code < 500, response.text
    problem = response.json()
    assert problem["errors"][0]["field"] == field
    assert fragment.lower() in problem["detail"].lower()


def test_label_corrections_become_a_labelled_set(
    client: TestClient, keys: dict[Role, str], analyst: dict[str, str], database: Database
) -> None:
    client.put("/v1/accounts/acme", json=account_body(), headers=auth(keys[Role.ADMIN]))
    ingested = client.post(
        "/v1/messages",
        json={
            "messages": [
                message("m1", text="Great job on the release, love it"),
                message("m2", text="Everything is broken and support ignores us"),
            ]
        },
        headers=auth(keys[Role.INGEST]),
    ).json()
    first, second = (item["id"] for item in ingested["accepted"])
    assert (
        client.put(
            f"/v1/messages/{first}/sentiment-label", json={"label": "neutral"}, headers=analyst
        ).status_code
        == 200
    )
    client.put(f"/v1/messages/{first}/sentiment-label", json={"label": "positive"}, headers=analyst)
    client.put(
        f"/v1/messages/{second}/sentiment-label",
        json={"label": "negative", "note": "clear complaint"},
        headers=analyst,
    )
    assert (
        client.put(
            "/v1/messages/999/sentiment-label", json={"label": "negative"}, headers=analyst
        ).status_code
        == 404
    )
    sets = client.get("/v1/labelled-sets", headers=analyst).json()
    assert sets == [{**sets[0], "name": "corrections", "n": 2}]
    run = client.post(
        "/v1/evaluations", data={"labelled_set": "corrections", "model": ["vader"]}, headers=analyst
    ).json()["runs"][0]
    assert run["n"] == 2 and run["accuracy"] == 1.0
    with database.session() as session:
        actions = session.exec(select(AuditLogEntry.action)).all()
    assert actions.count("label.correct") == 3
