"""The long-message aggregation rule (pure maths)."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from models.message_sentiment import aggregate_sentences


def test_opinionated_sentences_outweigh_neutral_filler() -> None:
    probabilities = np.array([[0.05, 0.9, 0.05], [0.05, 0.9, 0.05], [0.9, 0.08, 0.02]])
    result = aggregate_sentences(probabilities, [40, 40, 40])
    assert int(np.argmax(result)) == 0


def test_equal_sentences_average() -> None:
    probabilities = np.array([[0.8, 0.1, 0.1], [0.1, 0.1, 0.8]])
    assert np.allclose(aggregate_sentences(probabilities, [10, 10]), [0.45, 0.1, 0.45])


def test_no_sentences_is_neutral() -> None:
    assert np.allclose(aggregate_sentences(np.zeros((0, 3)), []), [0, 1, 0])


rows = arrays(np.float64, st.tuples(st.integers(1, 6), st.just(3)), elements=st.floats(0.01, 1.0))


@given(rows, st.lists(st.integers(1, 500), min_size=6, max_size=6))
def test_result_is_a_distribution_within_the_sentence_range(
    raw: np.ndarray, lengths: list[int]
) -> None:
    probabilities = raw / raw.sum(axis=1, keepdims=True)
    result = aggregate_sentences(probabilities, lengths[: len(probabilities)])
    assert np.isclose(result.sum(), 1.0)
    assert np.all(result >= probabilities.min(axis=0) - 1e-9)
    assert np.all(result <= probabilities.max(axis=0) + 1e-9)
