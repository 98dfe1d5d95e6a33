"""Read an analyst's labelled file (CSV, JSONL or Parquet) into a validated evaluation set."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from models.backends import LABELS

Mode = Literal["binary", "ternary"]

SUPPORTED_EXTENSIONS = (".csv", ".jsonl", ".ndjson", ".parquet")

_ALIASES: dict[str, str] = {
    "negative": "negative",
    "neg": "negative",
    "-1": "negative",
    "neutral": "neutral",
    "neu": "neutral",
    "0": "neutral",
    "positive": "positive",
    "pos": "positive",
    "1": "positive",
    "+1": "positive",
}


class DatasetError(ValueError):
    """A labelled file that cannot be evaluated; the message is meant for the analyst."""


@dataclass(frozen=True)
class Table:
    """Raw rows of a file with the column names in file order."""

    columns: list[str]
    rows: list[dict[str, Any]]


@dataclass(frozen=True)
class EvalDataset:
    """Texts with gold labels (indices into LABELS), optional sources, file hash and mode."""

    path: Path
    texts: list[str]
    labels: np.ndarray
    sources: list[str] | None
    sha256: str
    mode: Mode
    # ISO 639-1 code per row (a language column's value, or detected); None: unknown
    languages: list[str | None] | None = None

    def __len__(self) -> int:
        """Number of labelled rows."""
        return len(self.texts)

    @property
    def class_ids(self) -> list[int]:
        """Indices into LABELS of the classes scored in this mode."""
        return [0, 2] if self.mode == "binary" else [0, 1, 2]

    @property
    def class_names(self) -> list[str]:
        """Names of the classes scored in this mode."""
        return [LABELS[i] for i in self.class_ids]


def file_sha256(data: bytes) -> str:
    """Hex sha256 of raw file bytes."""
    return hashlib.sha256(data).hexdigest()


def _decode(data: bytes, path: Path) -> str:
    """UTF-8 text of a file (a BOM is dropped) or a DatasetError saying it is not UTF-8."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DatasetError(
            f"{path} is not UTF-8 text (invalid byte 0x{data[error.start]:02x} at byte offset "
            f"{error.start}); re-save the file as UTF-8 and try again"
        ) from None


def _read_csv(text: str, path: Path) -> Table:
    """Rows of a CSV document with a header line."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        rows = list(reader)
        columns = list(reader.fieldnames or [])
    except csv.Error as error:
        raise DatasetError(f"{path} is not a readable CSV file: {error}") from None
    return Table(columns=columns, rows=rows)


def _read_jsonl(text: str, path: Path) -> Table:
    """Rows of a JSON-lines document (one object per non-blank line)."""
    rows: list[dict[str, Any]] = []
    columns: dict[str, None] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise DatasetError(f"{path} line {number} is not valid JSON: {error.msg}") from None
        if not isinstance(row, dict):
            raise DatasetError(f"{path} line {number} is not a JSON object")
        columns.update(dict.fromkeys(row))
        rows.append(row)
    return Table(columns=list(columns), rows=rows)


def _read_parquet(path: Path) -> Table:
    """Rows of a Parquet file (needs pandas and pyarrow)."""
    try:
        import pandas as pd
    except ImportError:
        raise DatasetError("reading Parquet needs pandas and pyarrow installed") from None
    try:
        frame = pd.read_parquet(path)
    except ImportError as error:
        raise DatasetError(f"reading Parquet needs pyarrow installed ({error})") from None
    except Exception as error:  # pyarrow raises several unrelated types for corrupt files
        raise DatasetError(f"{path} is not a readable Parquet file: {error}") from None
    frame = frame.astype(object).where(frame.notna(), None)
    columns = [str(column) for column in frame.columns]
    frame.columns = columns
    return Table(columns=columns, rows=frame.to_dict(orient="records"))


def read_table(path: Path) -> tuple[Table, str]:
    """Rows of a CSV/JSONL/Parquet file chosen by extension, plus the sha256 of its bytes."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_EXTENSIONS:
        raise DatasetError(
            f"{path}: unknown file type {suffix or '(no extension)'!r}; "
            f"use one of {', '.join(SUPPORTED_EXTENSIONS)}"
        )
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DatasetError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise DatasetError(f"{path} is a directory, not a file") from None
    except OSError as error:
        raise DatasetError(f"{path}: cannot read file ({error.strerror or error})") from None
    if not data.strip():
        raise DatasetError(f"{path} is empty")
    digest = file_sha256(data)
    if suffix == ".parquet":
        return _read_parquet(path), digest
    text = _decode(data, path)
    table = _read_csv(text, path) if suffix == ".csv" else _read_jsonl(text, path)
    return table, digest


def _is_missing(value: Any) -> bool:
    """True for None, NaN and blank strings."""
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _label_key(value: Any) -> str:
    """A label value as a lower-case lookup key (integral numbers become '-1', '0', '1')."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value).strip().lower()


def normalise_label_map(label_map: Mapping[str, str] | None) -> dict[str, str]:
    """A user label map with lower-case keys and canonical values; bad targets raise."""
    result: dict[str, str] = {}
    for raw_key, raw_target in (label_map or {}).items():
        target = _ALIASES.get(_label_key(raw_target))
        if target is None:
            raise DatasetError(
                f"--label-map maps {raw_key!r} to {raw_target!r}; "
                f"targets must be one of {', '.join(LABELS)}"
            )
        result[_label_key(raw_key)] = target
    return result


def map_labels(values: list[Any], label_map: Mapping[str, str] | None = None) -> np.ndarray:
    """Label values as indices into LABELS; unknown or empty labels raise a DatasetError."""
    custom = normalise_label_map(label_map)
    indices = np.empty(len(values), dtype=np.int64)
    unknown: Counter[str] = Counter()
    for position, value in enumerate(values):
        if _is_missing(value):
            unknown["(empty)"] += 1
            continue
        key = _label_key(value)
        canonical = custom.get(key) or _ALIASES.get(key)
        if canonical is None:
            unknown[str(value).strip()] += 1
            continue
        indices[position] = LABELS.index(canonical)
    if unknown:
        listed = ", ".join(f"{label!r} ({count})" for label, count in unknown.most_common(20))
        more = f" and {len(unknown) - 20} more" if len(unknown) > 20 else ""
        example = next((label for label in unknown if label != "(empty)"), "...")
        raise DatasetError(
            f"unknown labels: {listed}{more}. Known labels are negative/neutral/positive, "
            f"neg/neu/pos or -1/0/1; map others with --label-map, e.g. "
            f'--label-map \'{{"{example}": "negative"}}\''
        )
    return indices


def detect_mode(labels: np.ndarray) -> Mode:
    """'binary' when no gold label is neutral, else 'ternary'."""
    return "ternary" if bool(np.any(labels == LABELS.index("neutral"))) else "binary"


def _base(language: str) -> str:
    """'pt-BR' -> 'pt' (lower-case ISO 639-1 part of a language tag)."""
    return language.strip().replace("_", "-").split("-")[0].lower()


def require_column(table: Table, column: str, option: str, path: Path) -> None:
    """Raise a DatasetError naming the columns found when `column` is absent."""
    if column not in table.columns:
        found = ", ".join(repr(name) for name in table.columns) or "(none)"
        raise DatasetError(
            f"column {column!r} not found in {path}; columns found: {found}. "
            f"Choose another column with {option}"
        )


def load_dataset(
    path: Path | str,
    *,
    text_col: str = "text",
    label_col: str = "label",
    source_col: str | None = None,
    label_map: Mapping[str, str] | None = None,
    limit: int | None = None,
    language_col: str | None = None,
    language: str | None = None,
    detect: Callable[[str], str | None] | None = None,
) -> EvalDataset:
    """Read, validate and label-map a file; source_col=None uses a 'source' column if present.

    Languages come from `language_col` (default: a 'language' column if present), else from
    `detect` when given. With `language`, only the rows in that language are kept (after
    `limit`); region suffixes count as their language ('pt-BR' is 'pt').
    """
    path = Path(path)
    table, digest = read_table(path)
    require_column(table, text_col, "--text-col", path)
    require_column(table, label_col, "--label-col", path)
    if source_col is not None:
        require_column(table, source_col, "--source-col", path)
    elif "source" in table.columns:
        source_col = "source"
    if language_col is not None:
        require_column(table, language_col, "--language-col", path)
    elif "language" in table.columns:
        language_col = "language"
    rows = table.rows[:limit] if limit is not None else table.rows
    if not rows:
        raise DatasetError(f"{path} has a header but no data rows")
    languages: list[str | None] | None = None
    if language_col is not None:
        languages = [
            None if _is_missing(row.get(language_col)) else _base(str(row.get(language_col)))
            for row in rows
        ]
    elif detect is not None:
        languages = [
            None if _is_missing(row.get(text_col)) else detect(str(row.get(text_col)))
            for row in rows
        ]
    if language is not None:
        wanted = _base(language)
        if not wanted.isalpha() or len(wanted) != 2:
            raise DatasetError(f"--language must be an ISO 639-1 code such as de, got {language!r}")
        if languages is None:
            raise DatasetError("--language needs a language column or language detection")
        rows = [row for row, code in zip(rows, languages, strict=True) if code == wanted]
        languages = [wanted] * len(rows)
        if not rows:
            raise DatasetError(f"no rows in language {wanted!r} in {path}")
    labels = map_labels([row.get(label_col) for row in rows], label_map)
    texts = ["" if _is_missing(row.get(text_col)) else str(row.get(text_col)) for row in rows]
    sources = None
    if source_col is not None:
        sources = [
            "(missing)" if _is_missing(row.get(source_col)) else str(row.get(source_col)).strip()
            for row in rows
        ]
    return EvalDataset(
        path=path,
        texts=texts,
        labels=labels,
        sources=sources,
        sha256=digest,
        mode=detect_mode(labels),
        languages=languages,
    )
