"""The topic encoder's embedding cache: identical vectors, bounded, one per encoder."""

from __future__ import annotations

import numpy as np
import pytest

from models.topics.embedding_cache import EmbeddingCache
from models.topics.encoder import SentenceEncoder, load_sentence_encoder


@pytest.fixture()
def encoder() -> SentenceEncoder:
    """A fresh encoder (and so a fresh cache) per test."""
    return load_sentence_encoder(threads=1, cache_size=100)


def test_cache_is_bounded_and_evicts_the_least_recently_used() -> None:
    cache = EmbeddingCache(capacity=2)
    cache.put_many([(1,), (2,)], np.eye(2, dtype=np.float32))
    assert cache.get_many([(1,)])[0] is not None  # (1,) is now the most recent
    cache.put_many([(3,)], np.ones((1, 2), dtype=np.float32))
    assert len(cache) == 2
    first, second, third = cache.get_many([(1,), (2,), (3,)])
    assert second is None
    np.testing.assert_array_equal(first, [1.0, 0.0])
    np.testing.assert_array_equal(third, [1.0, 1.0])


def test_zero_capacity_stores_nothing_and_negative_is_refused() -> None:
    cache = EmbeddingCache(capacity=0)
    cache.put_many([(1,)], np.ones((1, 2), dtype=np.float32))
    assert len(cache) == 0
    with pytest.raises(ValueError):
        EmbeddingCache(capacity=-1)


def test_repeated_sentences_come_back_identical_from_the_cache(encoder: SentenceEncoder) -> None:
    texts = ["The invoice was charged twice.", "Our dashboards load slowly every morning."]
    first = encoder.encode(texts)
    assert (encoder.cache.hits, encoder.cache.misses) == (0, 2)
    again = encoder.encode(list(reversed(texts)))
    assert (encoder.cache.hits, encoder.cache.misses) == (2, 2)
    np.testing.assert_array_equal(again, first[::-1])


def test_key_is_what_the_model_reads(encoder: SentenceEncoder) -> None:
    """Case and spacing variants tokenise identically, so they share one entry."""
    first = encoder.encode(["The invoice was charged twice."])
    variant = encoder.encode(["the  INVOICE was charged twice."])
    assert len(encoder.cache) == 1
    np.testing.assert_array_equal(first, variant)
    encoder.encode(["The invoice was charged three times."])
    assert len(encoder.cache) == 2


def test_encoder_cache_stays_within_its_size() -> None:
    small = load_sentence_encoder(threads=1, cache_size=3)
    small.encode([f"ticket number {n} is still open" for n in range(10)])
    assert len(small.cache) == 3


def test_callers_cannot_change_cached_vectors(encoder: SentenceEncoder) -> None:
    first = encoder.encode(["The invoice was charged twice."])
    first[:] = 0.0
    again = encoder.encode(["The invoice was charged twice."])
    np.testing.assert_allclose(np.linalg.norm(again, axis=1), 1.0, atol=1e-5)


def test_a_new_encoder_starts_with_an_empty_cache(encoder: SentenceEncoder) -> None:
    """A changed encoder artifact is a new SentenceEncoder: no vector of the old one leaks."""
    encoder.encode(["The invoice was charged twice."])
    other = load_sentence_encoder(threads=1, cache_size=100)
    assert len(other.cache) == 0
    other.encode(["The invoice was charged twice."])
    assert other.cache.hits == 0
