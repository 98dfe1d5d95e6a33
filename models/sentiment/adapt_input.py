"""Reading and checking an adaptation's input: the new labelled rows (files and stored
corrections), deduplicated and split into training and held-out rows; the output folder; the
base artifact's manifest with its checksums."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from evaluation.datasets import DatasetError, map_labels, read_table, require_column
from models.checksums import file_sha256
from models.sentiment import adapt_recipe as R
from models.sentiment import b2b_data
from models.sentiment import data as D
from models.sentiment.adapt_recipe import AdaptError, AdaptRequest, NewData
from models.sentiment.preprocess import normalize_text


def _labelled(texts: Sequence[str], labels: npt.ArrayLike, source: str) -> D.LabelledTexts:
    raw = [str(t) for t in texts]
    return D.LabelledTexts(
        [normalize_text(t) for t in raw],
        np.asarray(labels, dtype=np.int64),
        [source] * len(raw),
        raw,
    )


def read_labelled_file(
    path: Path, *, text_col: str, label_col: str, label_map: dict[str, str] | None
) -> tuple[list[str], np.ndarray, list[str] | None, str]:
    """(texts, label ids, split per row or None, sha256) of a csv/jsonl/parquet file."""
    try:
        table, digest = read_table(path)
        require_column(table, text_col, "--text-col", path)
        require_column(table, label_col, "--label-col", path)
        if not table.rows:
            raise DatasetError(f"{path} has a header but no data rows")
        empty = [
            n for n, row in enumerate(table.rows, 2) if not str(row.get(text_col) or "").strip()
        ]
        if empty:
            raise DatasetError(
                f"{path}: {len(empty)} row(s) have an empty text (first: row {empty[0]})"
            )
        labels = map_labels([row.get(label_col) for row in table.rows], label_map)
    except DatasetError as error:
        raise AdaptError(str(error)) from None
    texts = [str(row[text_col]) for row in table.rows]
    splits = None
    if R.SPLIT_COLUMN in table.columns:
        splits = [str(row.get(R.SPLIT_COLUMN) or "").strip().lower() for row in table.rows]
        bad = sorted({s for s in splits if s not in b2b_data.SPLITS})
        if bad:
            raise AdaptError(
                f"{path}: column 'split' has values {bad}; use train, validation or test"
            )
    return texts, labels, splits, digest


def _stratified_holdout(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Boolean mask of held-out rows: `fraction` of each class (at least one of a class with
    two or more rows)."""
    rng = np.random.default_rng(seed)
    held = np.zeros(len(labels), dtype=bool)
    for label in range(len(D.LABELS)):
        idx = np.flatnonzero(labels == label)
        if len(idx) < 2:
            continue
        rng.shuffle(idx)
        held[idx[: max(1, round(fraction * len(idx)))]] = True
    return held


def collect_new_data(request: AdaptRequest) -> NewData:
    """Read, check, deduplicate and split the new labelled rows; raises AdaptError."""
    if not request.data_files and not request.corrections:
        raise AdaptError("no labelled data: give --data FILE and/or --from-corrections")
    by_text: dict[str, tuple[str, int, str | None]] = {}
    sources: list[dict[str, Any]] = []
    notes: list[str] = []
    conflicts = 0
    for path in request.data_files:
        texts, labels, splits, digest = read_labelled_file(
            Path(path),
            text_col=request.text_col,
            label_col=request.label_col,
            label_map=request.label_map,
        )
        used = 0
        for i, (text, label) in enumerate(zip(texts, labels, strict=True)):
            split = splits[i] if splits else None
            if split == "test":
                continue
            key = normalize_text(text)
            if key in by_text and by_text[key][1] != int(label):
                conflicts += 1
            by_text[key] = (text, int(label), split)
            used += 1
        skipped = len(texts) - used
        sources.append(
            {"file": str(path), "sha256": digest, "rows": len(texts), "test_rows_skipped": skipped}
        )
    if request.corrections:
        try:
            labels = map_labels([label for _, label in request.corrections], request.label_map)
        except DatasetError as error:
            raise AdaptError(f"stored corrections: {error}") from None
        blank = sum(1 for text, _ in request.corrections if not str(text).strip())
        if blank:
            raise AdaptError(f"stored corrections: {blank} corrected message(s) have no text")
        for (text, _), label in zip(request.corrections, labels, strict=True):
            key = normalize_text(text)
            if key in by_text and by_text[key][1] != int(label):
                conflicts += 1
            by_text[key] = (text, int(label), None)
        sources.append({"corrections": len(request.corrections)})
    if conflicts:
        notes.append(f"{conflicts} repeated text(s) had different labels: the last one was used")
    rows = list(by_text.values())
    if len(rows) < R.MIN_ROWS:
        raise AdaptError(
            f"only {len(rows)} distinct labelled row(s); adaptation needs at least {R.MIN_ROWS}"
        )
    labels = np.array([label for _, label, _ in rows], dtype=np.int64)
    present = sorted({D.LABELS[i] for i in labels.tolist()})
    if len(present) < 2:
        raise AdaptError(
            f"all {len(rows)} rows are labelled {present[0]!r}; adaptation needs at least two "
            "classes"
        )
    explicit = np.array([split == "validation" for _, _, split in rows])
    marked = any(split is not None for _, _, split in rows)
    held = (
        explicit
        if marked and explicit.any()
        else _stratified_holdout(labels, R.HELDOUT_FRACTION, request.seed)
    )
    data = _labelled([t for t, _, _ in rows], labels, "new")
    train_idx = np.flatnonzero(~held).tolist()
    held_idx = np.flatnonzero(held).tolist()
    if len(held_idx) < 2 or len(train_idx) < 2:
        raise AdaptError("too few rows to hold out a validation share; add more labelled rows")
    kind = (
        "the file's validation split"
        if marked and explicit.any()
        else f"stratified {R.HELDOUT_FRACTION:.0%} of the rows (seed {request.seed})"
    )
    return NewData(data.subset(train_idx), data.subset(held_idx), sources, notes, kind)


def check_out(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise AdaptError(f"--out {out} exists and is not empty; choose a new folder")
    parent = out.resolve().parent
    if not parent.is_dir():
        raise AdaptError(f"--out {out}: parent folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise AdaptError(f"--out {out}: cannot write to {parent}")


def load_base_manifest(base: Path) -> dict[str, Any]:
    """The base artifact's manifest after verifying every listed file's sha256."""
    from models.sentiment.modeling import MINILM_SHA256
    from models.sentiment.torch_weights import WEIGHTS_FILE

    path = base / "manifest.json"
    if not path.is_file():
        raise AdaptError(f"--base {base}: no manifest.json (not a model artifact folder)")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise AdaptError(f"--base {base}: unreadable manifest.json ({error})") from None
    if not isinstance(manifest, dict):
        raise AdaptError(f"--base {base}: manifest.json is not a JSON object")
    files = manifest.get("files") or {}
    if WEIGHTS_FILE not in files:
        raise AdaptError(f"--base {base}: no {WEIGHTS_FILE} (torch weights) to adapt from")
    if manifest.get("base_model_sha256") != MINILM_SHA256:
        raise AdaptError(f"--base {base}: built on an encoder other than all-MiniLM-L6-v2")
    for name, expected in files.items():
        if not (base / name).is_file():
            raise AdaptError(f"--base {base}: {name} is listed in the manifest but missing")
        if file_sha256(base / name) != expected:
            raise AdaptError(f"--base {base}: {name} does not match its sha256 in the manifest")
    return manifest
