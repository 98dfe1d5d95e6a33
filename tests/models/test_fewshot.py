"""Few-shot heads: the logistic head on frozen embeddings and the SetFit-style fine-tune."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from models.topics.encoder import SentenceEncoder, load_sentence_encoder, load_tokenizer
from models.topics.export_encoder import load_base_encoder, torch_encode, verified_base_dir
from models.topics.fewshot import (
    fit_logistic_head,
    fit_setfit,
    make_batches,
    pair_loss,
)

TRAIN = {
    "billing": [
        "I was charged twice this month.",
        "Why is my invoice higher than usual?",
        "Please refund the extra charge.",
        "My credit card was billed the wrong amount.",
    ],
    "login": [
        "I can't sign in to my account.",
        "The password reset email never arrives.",
        "My login keeps failing.",
        "Two-factor code is not accepted.",
    ],
    "export": [
        "The CSV export is empty.",
        "Exporting the report takes forever.",
        "I need to download my data as Excel.",
        "The export button does nothing.",
    ],
}
TEST = {
    "billing": ["There is a wrong charge on my bill.", "Can I get my money back for the fee?"],
    "login": ["I'm locked out and can't log in.", "Resetting my password does not work."],
    "export": ["The spreadsheet download fails.", "Export to CSV gives me a blank file."],
}


def flatten(groups: dict[str, list[str]]) -> tuple[list[str], list[str]]:
    """(texts, labels) of a class -> texts mapping."""
    texts = [text for items in groups.values() for text in items]
    labels = [label for label, items in groups.items() for _ in items]
    return texts, labels


@pytest.fixture(scope="module")
def encoder() -> SentenceEncoder:
    """The shipped int8 encoder."""
    return load_sentence_encoder(threads=2)


def test_logistic_head_on_a_tiny_three_class_set(encoder: SentenceEncoder) -> None:
    texts, labels = flatten(TRAIN)
    head = fit_logistic_head(encoder.encode(texts), labels, seed=1)
    assert head.classes == ["billing", "export", "login"]
    test_texts, test_labels = flatten(TEST)
    probabilities = head.predict_proba(encoder.encode(test_texts))
    assert probabilities.shape == (6, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-9)
    assert head.predict(encoder.encode(test_texts)) == test_labels


def test_logistic_head_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        fit_logistic_head(np.eye(3), ["a", "a", "a"])
    with pytest.raises(ValueError):
        fit_logistic_head(np.eye(3), ["a", "b"])


def test_batches_cover_every_example_once_per_round() -> None:
    labels = [c for c in "abcdef" for _ in range(8)]
    batches = make_batches(labels, batch_size=8, per_class=4, rounds=3, seed=5)
    flat = [i for batch in batches for i in batch]
    assert sorted(flat) == sorted(list(range(len(labels))) * 3)
    for batch in batches:
        assert len(batch) <= 8
        assert len({labels[i] for i in batch}) == len(batch) // 4
    assert batches == make_batches(labels, batch_size=8, per_class=4, rounds=3, seed=5)


def test_pair_loss_is_zero_for_perfect_embeddings() -> None:
    embeddings = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    assert pair_loss(embeddings, torch.tensor([0, 0, 1])).item() == pytest.approx(0.0)
    assert pair_loss(embeddings, torch.tensor([0, 1, 1])).item() > 0.5


def _accuracy(predicted: list[str], gold: list[str]) -> float:
    return float(np.mean([p == g for p, g in zip(predicted, gold, strict=True)]))


@pytest.fixture(scope="module")
def base_embeddings() -> dict[str, np.ndarray]:
    """fp32 torch embeddings of the untouched base model (max_length 64, as SetFit uses)."""
    base_dir = verified_base_dir()
    tokenizer = load_tokenizer(base_dir / "tokenizer.json", 64)
    model = load_base_encoder(base_dir)
    out = {}
    for name, groups in (("train", TRAIN), ("test", TEST)):
        texts, _ = flatten(groups)
        out[name] = torch_encode(model, [e.ids for e in tokenizer.encode_batch(texts)])
    return out


def test_tiny_setfit_run_keeps_accuracy_and_is_deterministic(
    base_embeddings: dict[str, np.ndarray],
) -> None:
    texts, labels = flatten(TRAIN)
    test_texts, test_labels = flatten(TEST)
    options = {
        "seed": 7,
        "epochs": 1,
        "pairs_per_example": 33,
        "batch_size": 12,
        "per_class": 4,
        "lr": 5e-5,
        "threads": 2,
        "progress": False,
    }
    first = fit_setfit(texts, labels, **options)
    second = fit_setfit(texts, labels, **options)
    np.testing.assert_allclose(first.encode(test_texts), second.encode(test_texts), atol=1e-6)
    probabilities = first.predict_proba(test_texts)
    assert probabilities.shape == (6, 3)
    assert first.classes == ["billing", "export", "login"]
    assert first.n_pairs == 3 * (12 * 11 // 2)

    base = fit_logistic_head(base_embeddings["train"], labels, seed=7)
    base_accuracy = _accuracy(base.predict(base_embeddings["test"]), test_labels)
    assert _accuracy(first.predict(test_texts), test_labels) >= base_accuracy

    def separation(embeddings: np.ndarray) -> float:
        same = np.equal.outer(labels, labels)
        similarity = embeddings @ embeddings.T
        off_diagonal = ~np.eye(len(labels), dtype=bool)
        return float(similarity[same & off_diagonal].mean() - similarity[~same].mean())

    assert separation(first.encode(texts)) > separation(base_embeddings["train"])
