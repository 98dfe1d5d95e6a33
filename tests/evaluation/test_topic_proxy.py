"""The topic-assignment proxy evaluation on tiny generated datasets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evaluation import topic_proxy
from models.topics.encoder import SentenceEncoder, load_sentence_encoder
from tests.evaluation.conftest import write_csv

TRAIN = {
    "card_arrival": [
        "My card still has not arrived.",
        "When will my new card come in the mail?",
        "I am waiting for my card to be delivered.",
    ],
    "exchange_rate": [
        "What exchange rate do you use?",
        "How do you calculate currency rates?",
        "Is the euro rate good today?",
    ],
    "lost_or_stolen_card": [
        "Someone stole my card.",
        "I lost my card yesterday.",
        "My wallet with my card is gone.",
    ],
}
TEST = {
    "card_arrival": ["The card you posted never showed up."],
    "exchange_rate": ["Which rate applies when I convert dollars?"],
    "lost_or_stolen_card": ["My card was taken from my bag."],
}
DESCRIPTIONS = """\
classes:
  card_arrival:
    description: My new card has not been delivered yet.
    examples: ["Where is my card?", "The card hasn't come."]
  exchange_rate:
    description: The currency exchange rate you apply.
    examples: ["What rate do you use for currencies?"]
  lost_or_stolen_card:
    description: My card was lost or stolen.
    examples: ["I lost my card.", "My card was stolen."]
"""
KEYS = {"accuracy", "macro_f1", "n_test", "n_train_used", "mode", "seconds", "encoder"}


def rows(groups: dict[str, list[str]], label_column: str = "label") -> list[dict[str, str]]:
    """CSV rows of a class -> texts mapping."""
    return [{"text": t, label_column: label} for label, texts in groups.items() for t in texts]


@pytest.fixture(scope="module")
def encoder() -> SentenceEncoder:
    """The shipped int8 encoder."""
    return load_sentence_encoder(threads=2)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A tiny banking77-shaped data folder."""
    folder = tmp_path / "data" / "banking77"
    folder.mkdir(parents=True)
    write_csv(folder / "train.csv", rows(TRAIN))
    write_csv(folder / "test.csv", rows(TEST))
    return tmp_path / "data"


@pytest.fixture
def descriptions(tmp_path: Path) -> Path:
    """A tiny descriptions file for the three classes."""
    path = tmp_path / "descriptions.yaml"
    path.write_text(DESCRIPTIONS, encoding="utf-8")
    return path


@pytest.mark.parametrize("mode", ["zero-shot", "names-only", "fewshot-lr-8", "full-lr"])
def test_cli_prints_one_json_object(
    mode: str, data_dir: Path, descriptions: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--data-dir", str(data_dir), "--dataset", "banking77", "--mode", mode]
    assert topic_proxy.main([*argv, "--descriptions", str(descriptions), "--seed", "3"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    assert result.keys() >= KEYS
    assert result["mode"] == mode
    assert result["n_test"] == 3
    assert result["encoder"].startswith("all-MiniLM-L6-v2-int8-")
    assert 0.0 <= result["macro_f1"] <= 1.0
    assert result["n_train_used"] == (0 if mode in ("zero-shot", "names-only") else 9)
    if mode == "zero-shot":
        assert result["accuracy"] == 1.0


def test_shared_pass_embeds_the_texts_with_the_sentiment_model(
    data_dir: Path, descriptions: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--data-dir", str(data_dir), "--dataset", "banking77", "--mode", "zero-shot"]
    assert topic_proxy.main([*argv, "--descriptions", str(descriptions), "--shared-pass"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert "topic-projection" in result["encoder"]
    assert result["accuracy"] == 1.0


def test_sampling_is_seeded_and_capped() -> None:
    split = topic_proxy.Split([f"t{i}" for i in range(30)], ["a"] * 20 + ["b"] * 10)
    first = topic_proxy.sample_per_class(split, 8, seed=1)
    assert first == topic_proxy.sample_per_class(split, 8, seed=1)
    assert first != topic_proxy.sample_per_class(split, 8, seed=2)
    assert sorted(first.labels) == ["a"] * 8 + ["b"] * 8
    assert len(topic_proxy.sample_per_class(split, 16, seed=1).texts) == 26


def test_missing_description_is_an_error(
    data_dir: Path, tmp_path: Path, encoder: SentenceEncoder
) -> None:
    path = tmp_path / "partial.yaml"
    path.write_text(DESCRIPTIONS.split("  exchange_rate:")[0], encoding="utf-8")
    with pytest.raises(ValueError, match="exchange_rate"):
        topic_proxy.run(
            "banking77", "zero-shot", data_dir=data_dir, descriptions_path=path, encoder=encoder
        )


def test_train_split_is_only_for_untrained_modes(
    data_dir: Path, descriptions: Path, encoder: SentenceEncoder
) -> None:
    result = topic_proxy.run(
        "banking77",
        "zero-shot",
        data_dir=data_dir,
        descriptions_path=descriptions,
        encoder=encoder,
        eval_split="train",
    )
    assert result["n_test"] == 9
    with pytest.raises(ValueError):
        topic_proxy.run(
            "banking77", "fewshot-lr-8", data_dir=data_dir, encoder=encoder, eval_split="train"
        )


def test_airline_reasons_uses_negative_tweets_and_drops_stray_reasons(
    tmp_path: Path, encoder: SentenceEncoder
) -> None:
    folder = tmp_path / "airline-tweets"
    folder.mkdir()
    train = [
        {"text": f"@air my bag is lost again {i}", "label": "negative", "negative_reason": "Lost"}
        for i in range(10)
    ]
    train += [
        {"text": f"@air flight late by {i} hours", "label": "negative", "negative_reason": "Late"}
        for i in range(10)
    ]
    train += [
        {"text": "@air great crew", "label": "positive", "negative_reason": ""},
        {"text": "@air nice flight", "label": "negative", "negative_reason": "nice flight"},
    ]
    test = [
        {"text": "@air where is my suitcase", "label": "negative", "negative_reason": "Lost"},
        {"text": "@air delayed three hours", "label": "negative", "negative_reason": "Late"},
        {"text": "@air thanks", "label": "positive", "negative_reason": ""},
        {"text": "@air on time", "label": "negative", "negative_reason": "on time"},
    ]
    columns = ["text", "label", "negative_reason"]
    write_csv(folder / "train.csv", train, columns)
    write_csv(folder / "test.csv", test, columns)
    result = topic_proxy.run("airline_reasons", "fewshot-lr-8", data_dir=tmp_path, encoder=encoder)
    assert result["n_classes"] == 2
    assert result["n_test"] == 2
    assert result["n_train_used"] == 16


def test_shipped_descriptions_cover_every_class() -> None:
    banking = topic_proxy.load_descriptions(topic_proxy.DESCRIPTIONS_DIR / "banking77.yaml")
    assert len(banking) == 77
    assert all(len(entry.examples) >= 3 for entry in banking.values())
    airline = topic_proxy.load_descriptions(topic_proxy.DESCRIPTIONS_DIR / "airline_reasons.yaml")
    assert len(airline) == 10
