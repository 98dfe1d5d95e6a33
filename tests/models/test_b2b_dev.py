"""The B2B development set is big enough, balanced enough, diverse and split for good."""

from __future__ import annotations

import csv
from collections import Counter
from itertools import combinations
from pathlib import Path

import pytest

from models.sentiment.b2b_data import (
    B2B_DEV,
    LABELS,
    SOURCES,
    SPLITS,
    Row,
    load,
    near_duplicate_key,
    rows_of,
    split_of,
)

SAMPLE_LABELLED = (
    Path(__file__).parents[2] / "sentiment_service" / "sample_data" / "labelled_messages.csv"
)


@pytest.fixture(scope="module")
def rows() -> list[Row]:
    return load()


def test_size_sources_and_labels(rows: list[Row]) -> None:
    assert len(rows) >= 1200
    per_source = Counter(row.source for row in rows)
    assert set(per_source) == set(SOURCES)
    assert min(per_source.values()) >= 150, per_source
    for source in SOURCES:
        labels = Counter(row.label for row in rows if row.source == source)
        assert set(labels) == set(LABELS), (source, labels)
        assert min(labels.values()) >= 0.15 * per_source[source], (source, labels)


def test_splits_are_a_function_of_the_text(rows: list[Row]) -> None:
    assert all(row.split == split_of(row.text) for row in rows)
    per_split = Counter(row.split for row in rows)
    assert set(per_split) == set(SPLITS)
    assert per_split["test"] >= 200 and per_split["validation"] >= 200
    for source in SOURCES:  # every source is present in every split
        assert {row.split for row in rows if row.source == source} == set(SPLITS)
    assert len(rows_of("test")) == per_split["test"]


def test_no_text_twice_and_near_duplicates_under_two_percent(rows: list[Row]) -> None:
    texts = [row.text for row in rows]
    assert len(set(texts)) == len(texts)
    keys = Counter(near_duplicate_key(text) for text in texts)
    in_groups = sum(count for count in keys.values() if count > 1)
    assert in_groups / len(rows) <= 0.02, [key for key, n in keys.items() if n > 1][:10]


def test_near_duplicates_by_word_overlap_are_rare(rows: list[Row]) -> None:
    """Template fill-ins that change one or two words still share most words."""
    bags = [
        frozenset(near_duplicate_key(row.text).split())
        for row in rows
        if len(row.text.split()) >= 6
    ]
    near = set()
    for i, j in combinations(range(len(bags)), 2):
        union = len(bags[i] | bags[j])
        if union and len(bags[i] & bags[j]) / union >= 0.8:
            near.update((i, j))
    assert len(near) / len(rows) <= 0.02, len(near)


def test_the_key_masks_names_and_numbers_only() -> None:
    assert near_duplicate_key("Hi Lena, invoice INV-2093 is wrong!") == near_duplicate_key(
        "Hi Omar, invoice INV-7781 is wrong."
    )
    assert near_duplicate_key("invoice is wrong") != near_duplicate_key("invoice is right")


def test_separate_from_the_sample_labelled_messages(rows: list[Row]) -> None:
    with SAMPLE_LABELLED.open(newline="", encoding="utf-8") as handle:
        sample = {record["text"].strip() for record in csv.DictReader(handle)}
    assert not sample & {row.text for row in rows}


def test_file_has_the_documented_columns() -> None:
    with B2B_DEV.open(newline="", encoding="utf-8") as handle:
        assert next(csv.reader(handle)) == ["text", "label", "source", "split"]
