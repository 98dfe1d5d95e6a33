"""Adapt a sentiment artifact to a customer's own labelled messages (offline, CPU, seeded).

Method (numbers in models/sentiment/ADAPTATION.md and the README):
1. Read the new labelled rows (files and/or stored corrections), check them, and hold out a
   stratified share of them; a file with a `split` column decides for itself (its
   `validation` rows are held out, its `test` rows are never read).
2. Replay: as many rows of the base model's own training data as there are new training
   rows (the B2B development set's train split, plus airline/TweetEval train rows when a
   `replay_data_dir` is given). On replay rows the loss mixes the gold label with
   distillation toward the base model's logits, so the model keeps what it knew.
3. Fine-tune the whole encoder except the word embeddings (layer-wise learning-rate decay),
   evaluating after every epoch on the held-out new rows and on the base validation set
   (B2B validation split, plus airline/TweetEval validation with `replay_data_dir`).
   Then also try interpolating the weights back toward the base model (WiSE-FT). The
   selection score is held-out new macro-F1 minus a penalty for forgetting on the base
   validation set. No test split is read.
4. Fit a temperature, export int8 ONNX, and write a complete artifact into a temporary
   folder that is renamed to `out` only when everything succeeded.
"""

from __future__ import annotations

import json
import math
import os
import shlex
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np

from evaluation.datasets import DatasetError, map_labels, read_table, require_column
from models.checksums import file_sha256
from models.sentiment import b2b_data
from models.sentiment import data as D
from models.sentiment.inference import OnnxSentimentModel, default_artifact_dir
from models.sentiment.preprocess import normalize_text

MIN_ROWS = 30
HELDOUT_FRACTION = 0.2
MAX_EPOCHS = 4
REPLAY_RATIO = 1.0
KD_WEIGHT = 0.5
KD_TEMPERATURE = 2.0
LEARNING_RATE = 6e-5
LAYER_DECAY = 0.85
BATCH_SIZE = 32
LABEL_SMOOTHING = 0.1
WISE_ALPHAS = (0.6, 0.8, 0.9)
FORGET_SLACK = 0.01
FORGET_PENALTY = 2.0
SPLIT_COLUMN = "split"
MIN_CALIBRATION_ROWS = 100  # fewer held-out rows: keep the base model's temperature


class AdaptError(ValueError):
    """Input that cannot be adapted on; the one-line message names the problem."""


@dataclass(frozen=True)
class AdaptRequest:
    """What to adapt, on what, and where to write the new artifact."""

    out: Path
    data_files: tuple[Path, ...] = ()
    corrections: tuple[tuple[str, str], ...] = ()  # (text, label) pairs, e.g. from the database
    base: Path | None = None  # artifact dir; None = the shipped default artifact
    epochs: int | None = None  # None = chosen on held-out data
    seed: int = 13
    label_map: dict[str, str] | None = None
    replay_data_dir: Path | None = None  # e.g. ../shared/data: also replay airline/TweetEval
    b2b_path: Path | None = b2b_data.B2B_DEV  # replay + base validation; None: not used
    text_col: str = "text"
    label_col: str = "label"
    max_length: int | None = None  # None: the base artifact's
    max_epochs: int = MAX_EPOCHS
    learning_rate: float = LEARNING_RATE  # at the head; lower layers get less
    threads: int = 2
    command: str | None = None  # recorded in the manifest and card; default: sys.argv


@dataclass(frozen=True)
class AdaptReport:
    """Outcome of one adaptation."""

    out: Path
    version: str
    base_version: str
    epochs: float
    interpolation: float
    seconds: float
    sizes: dict[str, int]
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "out": str(self.out),
            "version": self.version,
            "base_version": self.base_version,
            "epochs": self.epochs,
            "interpolation": self.interpolation,
            "seconds": round(self.seconds, 1),
            "sizes": self.sizes,
            "metrics": self.metrics,
        }


@dataclass(frozen=True)
class NewData:
    """The new labelled rows, split into training and held-out rows, and where they came from."""

    train: D.LabelledTexts
    heldout: D.LabelledTexts
    sources: list[dict[str, Any]]
    notes: list[str]
    heldout_kind: str


# ---------------------------------------------------------------- reading and checking input


def _labelled(texts: Sequence[str], labels: Sequence[int], source: str) -> D.LabelledTexts:
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
    if SPLIT_COLUMN in table.columns:
        splits = [str(row.get(SPLIT_COLUMN) or "").strip().lower() for row in table.rows]
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
    if len(rows) < MIN_ROWS:
        raise AdaptError(
            f"only {len(rows)} distinct labelled row(s); adaptation needs at least {MIN_ROWS}"
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
        else _stratified_holdout(labels, HELDOUT_FRACTION, request.seed)
    )
    data = _labelled([t for t, _, _ in rows], labels, "new")
    train_idx = np.flatnonzero(~held).tolist()
    held_idx = np.flatnonzero(held).tolist()
    if len(held_idx) < 2 or len(train_idx) < 2:
        raise AdaptError("too few rows to hold out a validation share; add more labelled rows")
    kind = (
        "the file's validation split"
        if marked and explicit.any()
        else f"stratified {HELDOUT_FRACTION:.0%} of the rows (seed {request.seed})"
    )
    return NewData(data.subset(train_idx), data.subset(held_idx), sources, notes, kind)


def _check_out(out: Path) -> None:
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


# ------------------------------------------------------------------ replay and base validation


def _b2b(path: Path | None, split: str) -> D.LabelledTexts | None:
    if path is None or not Path(path).is_file():
        return None
    rows = D.b2b_split(split, Path(path))
    return rows if len(rows) else None


def replay_and_base_validation(
    request: AdaptRequest, exclude: set[str]
) -> tuple[D.LabelledTexts | None, D.LabelledTexts | None]:
    """(replay pool, base validation set); texts of the new data are left out of both."""
    pools = [p for p in [_b2b(request.b2b_path, "train")] if p is not None]
    vals = [v for v in [_b2b(request.b2b_path, "validation")] if v is not None]
    if request.replay_data_dir is not None:
        try:
            splits = D.load_splits(Path(request.replay_data_dir), ["airline", "tweeteval"], 13)
        except (OSError, KeyError, ValueError) as error:
            raise AdaptError(
                f"--replay-data-dir {request.replay_data_dir}: cannot read the airline/TweetEval "
                f"data ({error})"
            ) from None
        pools.append(splits.train)
        vals.append(splits.val)

    def without_new(part: D.LabelledTexts) -> D.LabelledTexts:
        return part.subset([i for i, t in enumerate(part.texts) if t not in exclude])

    pool = without_new(D.concat(pools)) if pools else None
    val = without_new(D.concat(vals)) if vals else None
    return (pool if pool is not None and len(pool) else None), (
        val if val is not None and len(val) else None
    )


def sample_replay(pool: D.LabelledTexts, n: int, seed: int) -> D.LabelledTexts:
    """`n` rows of the pool, spread over its sources in proportion to the square root of their
    size (a small hand-written source is not drowned by a big public one)."""
    rng = np.random.default_rng(seed + 1)
    names = sorted(set(pool.source))
    sizes = {s: sum(1 for x in pool.source if x == s) for s in names}
    weights = {s: math.sqrt(sizes[s]) for s in names}
    total = sum(weights.values())
    chosen: list[int] = []
    for s in names:
        idx = np.array([i for i, x in enumerate(pool.source) if x == s])
        take = min(len(idx), round(n * weights[s] / total))
        chosen.extend(rng.choice(idx, size=take, replace=False).tolist())
    return pool.subset(sorted(chosen))


# ------------------------------------------------------------------------------- metrics


def _scores(logits: np.ndarray, data: D.LabelledTexts, temperature: float) -> dict[str, Any]:
    """Macro-F1, accuracy, calibrated ECE overall and per source."""
    from models.sentiment.metrics import classification_scores, expected_calibration_error, softmax

    def one(idx: np.ndarray) -> dict[str, Any]:
        y, z = data.labels[idx], logits[idx]
        return {
            "n": len(idx),
            **classification_scores(y, z.argmax(axis=1)),
            "ece": expected_calibration_error(softmax(z, temperature), y),
        }

    everything = one(np.arange(len(data)))
    names = sorted(set(data.source))
    if len(names) > 1:
        sources = np.asarray(data.source)
        everything["per_source"] = {s: one(np.flatnonzero(sources == s)) for s in names}
    return everything


def _base_f1(logits: np.ndarray, data: D.LabelledTexts | None) -> dict[str, float]:
    """Macro-F1 per source of the base validation set (empty without one)."""
    from models.sentiment.metrics import macro_f1_by_source

    if data is None or not len(data):
        return {}
    scores = macro_f1_by_source(logits, data)
    return {k.removeprefix("f1_"): v for k, v in scores.items() if k != "selection"}


def _new_f1(logits: np.ndarray, data: D.LabelledTexts) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(data.labels, logits.argmax(axis=1), average="macro"))


def forgetting(before: dict[str, float], after: dict[str, float]) -> float:
    """The largest macro-F1 drop of any source of the base validation set (0 without one):
    a gain on one source does not excuse a loss on another."""
    return max([before[s] - after[s] for s in before if s in after], default=0.0)


def selection_score(
    new_f1: float, base_after: dict[str, float], base_before: dict[str, float]
) -> float:
    """Held-out new macro-F1 minus FORGET_PENALTY x the worst base-validation drop beyond
    FORGET_SLACK."""
    return new_f1 - FORGET_PENALTY * max(0.0, forgetting(base_before, base_after) - FORGET_SLACK)


def fit_balanced_temperature(parts: list[tuple[np.ndarray, np.ndarray]]) -> float:
    """Temperature minimising the mean of the parts' NLLs (each part counts equally)."""
    from scipy.optimize import minimize_scalar

    from models.sentiment.metrics import negative_log_likelihood

    parts = [(z, y) for z, y in parts if len(y)]
    result = minimize_scalar(
        lambda log_t: float(
            np.mean([negative_log_likelihood(z, y, float(np.exp(log_t))) for z, y in parts])
        ),
        bounds=(np.log(0.05), np.log(20.0)),
        method="bounded",
    )
    return float(np.exp(result.x))


# ------------------------------------------------------------------------------- training


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _interpolate(base: dict, tuned: dict, alpha: float) -> dict:
    return {
        k: (base[k] + alpha * (tuned[k] - base[k])) if tuned[k].is_floating_point() else tuned[k]
        for k in tuned
    }


def _train(
    request: AdaptRequest,
    model,
    tok,
    train: D.LabelledTexts,
    replay: D.LabelledTexts | None,
    heldout: D.LabelledTexts,
    base_val: D.LabelledTexts | None,
    before: tuple[float, dict[str, float]],
    progress: bool,
    log: Callable[[str], None],
) -> dict[str, Any]:
    """Fine-tune; return the selected state, epochs, interpolation and the selection trace."""
    import torch
    import torch.nn.functional as F
    from tqdm import tqdm

    from models.sentiment.inference import encode_texts, pad_batch
    from models.sentiment.modeling import layerwise_param_groups
    from models.sentiment.predict import predict_logits
    from models.sentiment.torch_weights import WORD_EMBEDDINGS

    mixed = D.concat([train, replay]) if replay is not None else train
    is_replay = torch.zeros(len(mixed), dtype=torch.bool)
    is_replay[len(train) :] = True
    ids = encode_texts(tok, mixed.texts)
    labels = torch.from_numpy(mixed.labels)
    teacher = torch.zeros(len(mixed), len(D.LABELS))
    if replay is not None:
        teacher[len(train) :] = torch.from_numpy(predict_logits(model, ids[len(train) :]))
    held_ids = encode_texts(tok, heldout.texts)
    val_ids = encode_texts(tok, base_val.texts) if base_val is not None else []
    base_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    embeddings = dict(model.named_parameters())[WORD_EMBEDDINGS]
    embeddings.requires_grad_(False)
    epochs = request.epochs or request.max_epochs
    rng = np.random.default_rng(request.seed)
    steps_per_epoch = math.ceil(len(mixed) / BATCH_SIZE)
    total = steps_per_epoch * epochs
    warm = max(1, int(0.1 * total))
    groups = layerwise_param_groups(model, request.learning_rate, LAYER_DECAY, 0.01)
    groups = [{**g, "params": [p for p in g["params"] if p.requires_grad]} for g in groups]
    opt = torch.optim.AdamW([g for g in groups if g["params"]], eps=1e-6)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm)))
    )

    def evaluate(state_label: str, epoch: float, alpha: float) -> dict[str, Any]:
        new_f1 = _new_f1(predict_logits(model, held_ids), heldout)
        base_f1 = _base_f1(predict_logits(model, val_ids), base_val) if val_ids else {}
        entry = {
            "epoch": epoch,
            "interpolation": alpha,
            "heldout_new_f1": round(new_f1, 4),
            "base_val_f1": {k: round(v, 4) for k, v in base_f1.items()},
            "forgetting": round(forgetting(before[1], base_f1), 4),
            "selection": round(selection_score(new_f1, base_f1, before[1]), 4),
        }
        log(f"[adapt] {state_label}: {entry}")
        return entry

    snapshots: list[tuple[dict[str, Any], dict]] = []
    t = KD_TEMPERATURE
    bar = tqdm(total=total, desc="adapt", unit="step", disable=not progress, file=sys.stderr)
    for epoch in range(1, epochs + 1):
        model.train()
        for batch in D.bucketed_batches([len(x) for x in ids], BATCH_SIZE, rng):
            ids_np, mask_np = pad_batch([ids[i] for i in batch])
            logits = model(torch.from_numpy(ids_np), torch.from_numpy(mask_np))
            ce = F.cross_entropy(
                logits, labels[batch], label_smoothing=LABEL_SMOOTHING, reduction="none"
            )
            rep = is_replay[batch]
            kd = F.kl_div(
                F.log_softmax(logits / t, -1),
                F.softmax(teacher[batch] / t, -1),
                reduction="none",
            ).sum(-1) * (t * t)
            per_row = torch.where(rep, (1 - KD_WEIGHT) * ce + KD_WEIGHT * kd, ce)
            loss = per_row.mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            bar.update(1)
            bar.set_postfix(epoch=epoch, loss=f"{loss.item():.3f}", refresh=False)
        if request.epochs is None or epoch == epochs:
            entry = evaluate(f"epoch {epoch}", epoch, 1.0)
            snapshots.append(
                (entry, {k: v.detach().clone() for k, v in model.state_dict().items()})
            )
    bar.close()
    if request.epochs is None:
        best_entry, best_state = max(snapshots, key=lambda s: s[0]["selection"])
    else:
        best_entry, best_state = snapshots[-1]
    trace = [entry for entry, _ in snapshots]
    chosen = (best_entry, best_state)
    for alpha in WISE_ALPHAS:
        state = _interpolate(base_state, best_state, alpha)
        model.load_state_dict(state)
        entry = evaluate(f"epoch {best_entry['epoch']} x{alpha}", best_entry["epoch"], alpha)
        trace.append(entry)
        if entry["selection"] > chosen[0]["selection"]:
            chosen = (entry, state)
    model.load_state_dict(chosen[1])
    return {"trace": trace, "choice": chosen[0]}


# ------------------------------------------------------------------------------- writing


def _write_json(path: Path, payload: dict) -> None:
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")


def _default_command() -> str:
    return "sentiment-service " + shlex.join(sys.argv[1:])


def adapt(
    request: AdaptRequest, *, progress: bool = True, log: Callable[[str], None] | None = None
) -> AdaptReport:
    """Adapt the base artifact to the new labelled data and write the new artifact to
    `request.out` (atomically); raises AdaptError before writing anything on bad input."""
    log = log or _stderr
    started = time.time()
    out = Path(request.out)
    if request.epochs is not None and not 1 <= request.epochs <= 20:
        raise AdaptError(f"--epochs must be between 1 and 20, not {request.epochs}")
    if not 1 <= request.max_epochs <= 20:
        raise AdaptError(f"--max-epochs must be between 1 and 20, not {request.max_epochs}")
    if not 0 < request.learning_rate <= 1e-3:
        raise AdaptError(f"--lr must be in (0, 0.001], not {request.learning_rate}")
    _check_out(out)
    base = Path(request.base) if request.base is not None else default_artifact_dir()
    manifest = load_base_manifest(base)
    if find_spec("onnx") is None:
        raise AdaptError("writing the ONNX model needs the 'onnx' package: pip install onnx")
    new = collect_new_data(request)
    exclude = set(new.train.texts) | set(new.heldout.texts)
    pool, base_val = replay_and_base_validation(request, exclude)
    replay = None
    if pool is not None:
        replay = sample_replay(pool, round(REPLAY_RATIO * len(new.train)), request.seed)
    log(
        f"[adapt] {len(new.train)} new training rows, {len(new.heldout)} held out; "
        f"replay {len(replay) if replay is not None else 0}; "
        f"base validation {len(base_val) if base_val is not None else 0}"
    )
    for note in new.notes:
        log(f"[adapt] note: {note}")

    import torch

    from models.sentiment.inference import encode_texts, load_tokenizer
    from models.sentiment.modeling import build_classifier, minilm_path
    from models.sentiment.predict import predict_logits
    from models.sentiment.torch_weights import (
        WEIGHTS_FILE,
        base_state,
        compact_state,
        expand_state,
        load_compact,
    )

    torch.set_num_threads(request.threads)
    torch.manual_seed(request.seed)
    base_dir = minilm_path()
    encoder_state = base_state(base_dir)
    max_length = request.max_length or int(manifest["max_length"])
    tok = load_tokenizer(base / manifest["tokenizer"], max_length)
    model = build_classifier(base_dir)
    model.load_state_dict(expand_state(load_compact(base / WEIGHTS_FILE), encoder_state))
    held_ids = encode_texts(tok, new.heldout.texts)
    val_ids = encode_texts(tok, base_val.texts) if base_val is not None else []
    before_logits = (predict_logits(model, held_ids), predict_logits(model, val_ids))
    before = (_new_f1(before_logits[0], new.heldout), _base_f1(before_logits[1], base_val))
    shown = {k: round(v, 4) for k, v in before[1].items()}
    log(f"[adapt] before: held-out new macro-F1 {before[0]:.4f}, base validation {shown}")
    outcome = _train(
        request, model, tok, new.train, replay, new.heldout, base_val, before, progress, log
    )
    # Ship what torch users rebuild: fp16 tensors on top of the base encoder.
    compact = compact_state(model.state_dict(), encoder_state)
    model.load_state_dict(expand_state(compact, encoder_state))
    after_logits = (predict_logits(model, held_ids), predict_logits(model, val_ids))
    parts = [(after_logits[0], new.heldout.labels)]
    if base_val is not None:
        parts.append((after_logits[1], base_val.labels))
    calibration_rows = sum(len(y) for _, y in parts)
    temperature = (
        fit_balanced_temperature(parts)
        if calibration_rows >= MIN_CALIBRATION_ROWS
        else float(manifest["temperature"])
    )
    base_temperature = float(manifest["temperature"])
    metrics: dict[str, dict[str, Any]] = {
        "heldout_new": {
            "before": _scores(before_logits[0], new.heldout, base_temperature),
            "after": _scores(after_logits[0], new.heldout, temperature),
        }
    }
    if base_val is not None:
        metrics["base_validation"] = {
            "before": _scores(before_logits[1], base_val, base_temperature),
            "after": _scores(after_logits[1], base_val, temperature),
        }
    composition = {
        "replay": dict(sorted(Counter(replay.source).items())) if replay is not None else {},
        "base_validation": (
            dict(sorted(Counter(base_val.source).items())) if base_val is not None else {}
        ),
        "heldout": new.heldout_kind,
    }
    sizes = {
        "new_train": len(new.train),
        "new_heldout": len(new.heldout),
        "replay": len(replay) if replay is not None else 0,
        "base_validation": len(base_val) if base_val is not None else 0,
    }
    version = out.name
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.resolve().parent))
    try:
        _write_artifact(
            tmp,
            model=model,
            compact=compact,
            base=base,
            base_manifest=manifest,
            version=version,
            temperature=temperature,
            max_length=max_length,
            request=request,
            new=new,
            sizes=sizes,
            composition=composition,
            metrics=metrics,
            outcome=outcome,
            seconds=time.time() - started,
            int8_sets={"heldout_new": new.heldout}
            | ({"base_validation": base_val} if base_val is not None else {}),
        )
        tmp.chmod(0o755)
        for item in tmp.iterdir():
            item.chmod(0o644)
        if out.exists():
            out.rmdir()  # checked empty above
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    report = AdaptReport(
        out=out,
        version=version,
        base_version=str(manifest["version"]),
        epochs=float(outcome["choice"]["epoch"]),
        interpolation=float(outcome["choice"]["interpolation"]),
        seconds=time.time() - started,
        sizes=sizes,
        metrics=metrics,
    )
    log(f"[adapt] wrote {out} in {report.seconds:.0f}s")
    return report


def _write_artifact(
    folder: Path,
    *,
    model,
    compact: dict,
    base: Path,
    base_manifest: dict[str, Any],
    version: str,
    temperature: float,
    max_length: int,
    request: AdaptRequest,
    new: NewData,
    sizes: dict[str, int],
    composition: dict[str, Any],
    metrics: dict[str, dict[str, Any]],
    outcome: dict[str, Any],
    seconds: float,
    int8_sets: dict[str, D.LabelledTexts],
) -> None:
    """ONNX int8 graph, tokenizer, fp16 torch weights, manifest with checksums, model card."""
    from models.sentiment.adapt_card import write_adaptation_card
    from models.sentiment.export import export_fp32, quantize_int8
    from models.sentiment.torch_weights import WEIGHTS_FILE, save_compact

    model_file, tokenizer_file = "model.int8.onnx", str(base_manifest["tokenizer"])
    with tempfile.TemporaryDirectory(prefix="adapt-export-") as scratch:
        fp32 = export_fp32(model, Path(scratch) / "model.fp32.onnx")
        quantize_int8(fp32, folder / model_file)
    shutil.copyfile(base / tokenizer_file, folder / tokenizer_file)
    save_compact(compact, folder / WEIGHTS_FILE)
    shipped = [model_file, tokenizer_file, WEIGHTS_FILE]
    data_licence = base_manifest.get("data_licence")
    manifest: dict[str, Any] = {
        "name": base_manifest.get("name", "minilm-sentiment-3class"),
        "version": version,
        "base_model": base_manifest["base_model"],
        "base_model_sha256": base_manifest["base_model_sha256"],
        "labels": list(D.LABELS),
        "max_length": max_length,
        "temperature": temperature,
        "preprocessing": base_manifest["preprocessing"],
        "model_file": model_file,
        "tokenizer": tokenizer_file,
        "onnx": base_manifest.get(
            "onnx", {"inputs": ["input_ids", "attention_mask"], "output": "logits", "opset": 17}
        ),
        "files": {f: file_sha256(folder / f) for f in shipped},
        "metrics": metrics,
        "created_with": request.command or _default_command(),
        "adapted_from": {
            "version": base_manifest["version"],
            "files": base_manifest["files"],
        },
        "adaptation": {
            "data": new.sources,
            "sizes": sizes,
            "composition": composition,
            "seed": request.seed,
            "epochs_requested": request.epochs,
            "max_epochs": request.max_epochs,
            "selected": outcome["choice"],
            "trace": outcome["trace"],
            "label_map": request.label_map,
            "replay_data_dir": str(request.replay_data_dir) if request.replay_data_dir else None,
            "b2b_data": str(request.b2b_path) if request.b2b_path else None,
            "recipe": {
                "lr": request.learning_rate,
                "layer_decay": LAYER_DECAY,
                "batch_size": BATCH_SIZE,
                "label_smoothing": LABEL_SMOOTHING,
                "replay_ratio": REPLAY_RATIO,
                "kd_weight": KD_WEIGHT,
                "kd_temperature": KD_TEMPERATURE,
                "interpolations": [1.0, *WISE_ALPHAS],
                "forget_slack": FORGET_SLACK,
                "forget_penalty": FORGET_PENALTY,
                "frozen": "word embeddings",
            },
            "seconds": round(seconds, 1),
            "notes": new.notes,
        },
    }
    if data_licence is not None:
        manifest["data_licence"] = data_licence
    _write_json(folder / "manifest.json", manifest)
    # What ships is the int8 graph: load it as the service does (checksums verified) and score
    # the held-out rows and the base validation set with it.
    onnx_model = OnnxSentimentModel.load(folder, threads=request.threads)
    for name, split in int8_sets.items():
        metrics[name]["after_int8_onnx"] = _scores(onnx_model.logits(split.raw), split, temperature)
    _write_json(folder / "manifest.json", manifest)
    write_adaptation_card(folder / "MODEL_CARD.md", manifest)
