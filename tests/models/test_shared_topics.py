"""Topic embeddings from the sentiment model's own pass (models/topics/shared.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from models.checksums import ModelChecksumError
from models.minilm import MiniLMBackend
from models.topics.assign import TopicAssigner
from models.topics.encoder import SentenceEncoder, load_sentence_encoder
from models.topics.shared import (
    PROJECTION_FILE,
    Projection,
    SharedSentimentPass,
    default_projection_dir,
)
from models.topics.taxonomy import load_taxonomy

TEXTS = [
    "I was charged twice for the same invoice.",
    "The dashboard takes a minute to load every morning.",
    "Thanks, the new export feature is great!",
]


@pytest.fixture(scope="module")
def shared() -> SharedSentimentPass:
    return SharedSentimentPass(threads=1)


@pytest.fixture(scope="module")
def base() -> SentenceEncoder:
    return load_sentence_encoder(threads=1, cache_size=0)


def test_probabilities_match_the_plain_backend(shared: SharedSentimentPass) -> None:
    plain = MiniLMBackend(threads=1).predict_proba(TEXTS)
    np.testing.assert_allclose(shared.predict_proba(TEXTS), plain, atol=1e-4)


def test_scored_sentences_are_embedded_without_another_run(shared: SharedSentimentPass) -> None:
    shared.cache.clear()
    shared.predict_proba(TEXTS)
    embeddings = shared.topic_encoder.encode(TEXTS)
    assert (shared.cache.hits, shared.cache.misses) == (3, 0)
    assert embeddings.shape == (3, shared.dimension)
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-5)


def test_unseen_text_is_run_and_matches_a_scored_one(shared: SharedSentimentPass) -> None:
    shared.cache.clear()
    cold = shared.topic_encoder.encode([TEXTS[0]])
    shared.cache.clear()
    shared.predict_proba([TEXTS[0]])
    np.testing.assert_allclose(shared.topic_encoder.encode([TEXTS[0]]), cold, atol=1e-6)


def test_projection_approximates_the_base_encoder(
    shared: SharedSentimentPass, base: SentenceEncoder
) -> None:
    shared.cache.clear()
    mapped, target = shared.topic_encoder.encode(TEXTS), base.encode(TEXTS)
    assert np.all((mapped * target).sum(axis=1) > 0.75)
    paraphrase = shared.topic_encoder.encode(["The same invoice was billed to us two times."])[0]
    assert paraphrase @ mapped[0] > paraphrase @ mapped[1] + 0.2


def test_projection_is_bound_to_its_sentiment_graph(tmp_path: Path) -> None:
    copy = tmp_path / "projection"
    shutil.copytree(default_projection_dir(), copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["sentiment_onnx_sha256"] = "0" * 64
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelChecksumError, match="fitted on sentiment graph"):
        SharedSentimentPass(projection_dir=copy, threads=1)


def test_a_changed_projection_file_is_refused(tmp_path: Path) -> None:
    copy = tmp_path / "projection"
    shutil.copytree(default_projection_dir(), copy)
    with (copy / PROJECTION_FILE).open("ab") as handle:
        handle.write(b"\0")
    with pytest.raises(ModelChecksumError):
        SharedSentimentPass(projection_dir=copy, threads=1)


def test_projection_fit_recovers_a_linear_map() -> None:
    rng = np.random.default_rng(0)
    features = rng.normal(size=(500, 6)).astype(np.float32)
    truth = rng.normal(size=(6, 3))
    targets = features @ truth
    fitted = Projection.fit(features, targets, ridge=1e-6).apply(features[:5])
    expected = targets[:5] / np.linalg.norm(targets[:5], axis=1, keepdims=True)
    np.testing.assert_allclose(fitted, expected, atol=1e-4)


def test_phrases_come_from_the_phrase_encoder(
    shared: SharedSentimentPass, base: SentenceEncoder
) -> None:
    taxonomy = load_taxonomy()
    plain = TopicAssigner(shared.topic_encoder, taxonomy)
    mixed = TopicAssigner(shared.topic_encoder, taxonomy, phrase_encoder=base)
    first = taxonomy.all_topics()[0]
    embedded = mixed.phrase_embeddings()[first.key][0]
    np.testing.assert_allclose(embedded, base.encode([first.phrases()[0]])[0], atol=0.05)
    assert mixed.version != plain.version
    assert mixed.version.endswith(shared.topic_encoder.version)
