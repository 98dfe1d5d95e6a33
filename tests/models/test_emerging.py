"""Emerging topics on synthetic clustered embeddings: growth, sizes, labels, topic seeds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from models.topics.emerging import (
    NOISE,
    UnassignedItem,
    cluster_window,
    find_emerging,
    slugify,
)

DIMENSION = 32
WINDOW = timedelta(days=7)
WINDOW_END = datetime(2026, 9, 28, tzinfo=UTC)
CURRENT = WINDOW_END - timedelta(days=3)
PREVIOUS = WINDOW_END - WINDOW - timedelta(days=3)


def _centres(count: int, seed: int = 0) -> np.ndarray:
    """Orthonormal directions: clusters far apart in cosine distance."""
    matrix = np.random.default_rng(seed).normal(size=(DIMENSION, count))
    q, _ = np.linalg.qr(matrix)
    return q.T


def _around(centre: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    rows = centre + rng.normal(scale=0.05, size=(count, DIMENSION))
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def _items(
    plan: list[tuple[int, int, datetime]], seed: int = 1, centres: np.ndarray | None = None
) -> list[UnassignedItem]:
    """Items per (centre index, count, time), text 'topic<i> #<n>', ids 'c<i>-<n>'."""
    rng = np.random.default_rng(seed)
    centres = _centres(4) if centres is None else centres
    items: list[UnassignedItem] = []
    for centre, count, at in plan:
        for n, row in enumerate(_around(centres[centre], count, rng)):
            items.append(UnassignedItem(f"topic{centre} #{n}", row, at, f"c{centre}-{at:%d}-{n}"))
    return items


def _label_fn(texts: list[str]) -> list[str]:
    return [texts[0].split(" #")[0], "new thing"]


def test_only_the_new_cluster_is_reported_with_sizes_and_growth() -> None:
    plan = [
        (0, 10, PREVIOUS),
        (0, 10, CURRENT),
        (1, 8, PREVIOUS),
        (1, 9, CURRENT),
        (2, 7, CURRENT),
        (3, 5, WINDOW_END - 3 * WINDOW),  # before both windows: ignored
    ]
    found = find_emerging(
        _items(plan), window_end=WINDOW_END, window=WINDOW, min_cluster_size=5, label_fn=_label_fn
    )
    assert len(found) == 1
    [cluster] = found
    assert (cluster.size, cluster.previous_size, cluster.growth) == (7, 0, 7.0)
    assert cluster.keyphrases == ["topic2", "new thing"]
    assert cluster.label == "topic2, new thing"
    assert len(cluster.examples) == 5
    assert all(text.startswith("topic2 #") for text in cluster.examples)
    assert all(str(i).startswith("c2-") for i in cluster.example_message_ids)
    assert len(cluster.centroid) == DIMENSION
    assert np.linalg.norm(cluster.centroid) == pytest.approx(1.0)
    assert cluster.window_start == WINDOW_END - WINDOW


def test_previous_window_items_near_the_centroid_count_toward_growth() -> None:
    plan = [(0, 12, CURRENT), (0, 4, PREVIOUS), (1, 6, CURRENT), (1, 6, PREVIOUS)]
    found = find_emerging(
        _items(plan), window_end=WINDOW_END, window=WINDOW, min_cluster_size=5, growth_ratio=2.0
    )
    assert [(c.size, c.previous_size, c.growth) for c in found] == [(12, 4, 3.0)]


def test_results_are_sorted_by_growth_then_size() -> None:
    plan = [
        (0, 6, CURRENT),
        (1, 9, CURRENT),
        (2, 12, CURRENT),
        (2, 2, PREVIOUS),
        (3, 8, CURRENT),
        (3, 1, PREVIOUS),
    ]
    found = find_emerging(_items(plan), window_end=WINDOW_END, window=WINDOW, min_cluster_size=5)
    growth_then_size = [(c.growth, c.size) for c in found]
    assert growth_then_size == [(9.0, 9), (8.0, 8), (6.0, 12), (6.0, 6)]


def test_nothing_emerges_when_sizes_are_stable() -> None:
    plan = [(0, 10, PREVIOUS), (0, 11, CURRENT), (1, 6, PREVIOUS), (1, 6, CURRENT)]
    found = find_emerging(_items(plan), window_end=WINDOW_END, window=WINDOW, min_cluster_size=5)
    assert found == []


def test_small_clusters_are_not_reported() -> None:
    plan = [(0, 4, CURRENT), (1, 3, CURRENT)]
    found = find_emerging(_items(plan), window_end=WINDOW_END, window=WINDOW, min_cluster_size=5)
    assert found == []


def test_empty_input() -> None:
    assert find_emerging([], window_end=WINDOW_END, window=WINDOW, min_cluster_size=3) == []
    empty = cluster_window(np.zeros((0, DIMENSION)), distance_threshold=0.3, min_cluster_size=2)
    assert empty.shape == (0,)


def test_cluster_window_orders_by_size_and_marks_noise() -> None:
    rng = np.random.default_rng(3)
    centres = _centres(3)
    embeddings = np.vstack(
        [_around(centres[0], 3, rng), _around(centres[1], 6, rng), _around(centres[2], 1, rng)]
    )
    labels = cluster_window(embeddings, distance_threshold=0.35, min_cluster_size=2)
    assert labels.tolist() == [1, 1, 1, 0, 0, 0, 0, 0, 0, NOISE]
    single = cluster_window(embeddings[:1], distance_threshold=0.35, min_cluster_size=1)
    assert single.tolist() == [0]


def test_without_label_fn_the_closest_text_is_the_label() -> None:
    found = find_emerging(
        _items([(0, 5, CURRENT)]), window_end=WINDOW_END, window=WINDOW, min_cluster_size=5
    )
    assert found[0].keyphrases == []
    assert found[0].label == found[0].examples[0]


def test_topic_seed_for_promotion() -> None:
    [cluster] = find_emerging(
        _items([(0, 6, CURRENT)]),
        window_end=WINDOW_END,
        window=WINDOW,
        min_cluster_size=5,
        label_fn=lambda texts: ["Webhook retries", "Duplicate events"],
    )
    seed = cluster.to_topic_seed()
    assert seed["key"] == "webhook_retries_duplicate_events"
    assert seed["name"] == "Webhook retries, Duplicate events"
    assert str(seed["description"]).startswith("Emerging: Webhook retries, Duplicate events")
    assert seed["examples"] == cluster.examples


def test_slugify() -> None:
    assert slugify("Café  sync / SSO!") == "cafe_sync_sso"
    assert slugify("???") == "emerging_topic"


def test_bad_arguments_are_rejected() -> None:
    items = _items([(0, 5, CURRENT)])
    with pytest.raises(ValueError, match="window"):
        find_emerging(items, window_end=WINDOW_END, window=timedelta(0))
    with pytest.raises(ValueError, match="max_items"):
        find_emerging(items, window_end=WINDOW_END, window=WINDOW, max_items=4)
    mixed = [*items, UnassignedItem("odd", np.ones(3), CURRENT, "x")]
    with pytest.raises(ValueError, match="different lengths"):
        find_emerging(mixed, window_end=WINDOW_END, window=WINDOW)
