"""Topic-assignment proxy evaluation of the topic encoder on public single-label intent data.

    python -m evaluation.topic_proxy --data-dir ../shared/data --dataset banking77 \\
        --mode zero-shot [--seed 13]

prints exactly one JSON object to stdout (accuracy, macro_f1, n_test, n_train_used, mode,
seconds, encoder version, ...) and logs to stderr. Modes:

- `zero-shot`: nearest class prototype; a prototype is the mean of the unit embeddings of the
  class's written description and example phrasings in
  `evaluation/proxy_descriptions/<dataset>.yaml` (no training example is used).
- `names-only`: the same with the label name alone (underscores as spaces), as a reference.
- `fewshot-lr-K`: logistic head on frozen int8 embeddings of K seeded examples per class.
- `setfit-K`: SetFit-style contrastive fine-tune + logistic head on K examples per class.
- `full-lr`: logistic head on frozen embeddings of the whole training split.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from sklearn.metrics import accuracy_score, f1_score

from models.topics.assign import Encoder
from models.topics.encoder import SentenceEncoder, l2_normalize, load_sentence_encoder

LOG = logging.getLogger("evaluation.topic_proxy")
DESCRIPTIONS_DIR = Path(__file__).resolve().parent / "proxy_descriptions"
MODES = (
    "zero-shot",
    "names-only",
    "fewshot-lr-8",
    "fewshot-lr-16",
    "setfit-8",
    "setfit-16",
    "full-lr",
)


@dataclass(frozen=True)
class DatasetSpec:
    """Where a dataset lives under the data folder and which column holds the class."""

    folder: str
    label_column: str
    min_train_per_class: int = 1


DATASETS: dict[str, DatasetSpec] = {
    "banking77": DatasetSpec("banking77", "label"),
    # label = negative_reason on negative tweets only; a handful of stray one-off reasons
    # ("best flight", "on time", ...) with fewer than 10 train rows are not classes.
    "airline_reasons": DatasetSpec("airline-tweets", "negative_reason", min_train_per_class=10),
}


@dataclass(frozen=True)
class Split:
    """Texts and their class labels."""

    texts: list[str]
    labels: list[str]


@dataclass(frozen=True)
class ClassDescription:
    """A written description of a class and example phrasings in the customer's voice."""

    description: str
    examples: list[str]


def read_split(path: Path, label_column: str) -> Split:
    """Rows of a CSV with a non-empty text and label."""
    texts: list[str] = []
    labels: list[str] = []
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            text = (row.get("text") or "").strip()
            label = (row.get(label_column) or "").strip()
            if text and label:
                texts.append(text)
                labels.append(label)
    return Split(texts, labels)


def load_dataset(data_dir: Path, name: str) -> tuple[Split, Split, list[str]]:
    """(train, test, classes): both splits restricted to the classes kept from train."""
    spec = DATASETS[name]
    folder = Path(data_dir) / spec.folder
    train = read_split(folder / "train.csv", spec.label_column)
    test = read_split(folder / "test.csv", spec.label_column)
    counts: dict[str, int] = {}
    for label in train.labels:
        counts[label] = counts.get(label, 0) + 1
    classes = sorted(label for label, n in counts.items() if n >= spec.min_train_per_class)
    keep = set(classes)

    def restrict(split: Split) -> Split:
        rows = [(t, y) for t, y in zip(split.texts, split.labels, strict=True) if y in keep]
        return Split([t for t, _ in rows], [y for _, y in rows])

    kept_train, kept_test = restrict(train), restrict(test)
    dropped = len(test.texts) - len(kept_test.texts)
    if dropped:
        LOG.info(
            "%s: %d test rows of labels outside the %d classes dropped", name, dropped, len(keep)
        )
    return kept_train, kept_test, classes


def sample_per_class(split: Split, k: int, seed: int) -> Split:
    """Up to `k` examples per class drawn with `seed` (classes in sorted order)."""
    rng = random.Random(seed)
    by_class: dict[str, list[int]] = {}
    for index, label in enumerate(split.labels):
        by_class.setdefault(label, []).append(index)
    chosen: list[int] = []
    for label in sorted(by_class):
        members = by_class[label]
        chosen.extend(rng.sample(members, min(k, len(members))))
    return Split([split.texts[i] for i in chosen], [split.labels[i] for i in chosen])


def load_descriptions(path: Path) -> dict[str, ClassDescription]:
    """Class descriptions from YAML: `{label: {description: str, examples: [str, ...]}}`."""
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    classes = document.get("classes", document) if isinstance(document, dict) else None
    if not isinstance(classes, dict):
        raise ValueError(f"{path}: expected a mapping of class -> description")
    out: dict[str, ClassDescription] = {}
    for label, entry in classes.items():
        if not isinstance(entry, dict) or not str(entry.get("description", "")).strip():
            raise ValueError(f"{path}: class {label!r} needs a description")
        examples = [str(x).strip() for x in entry.get("examples") or [] if str(x).strip()]
        out[str(label)] = ClassDescription(str(entry["description"]).strip(), examples)
    return out


def name_text(label: str) -> str:
    """A label name as a phrase: underscores as spaces, no trailing '?'."""
    return label.replace("_", " ").rstrip("?").strip()


def prototypes(encoder: SentenceEncoder, phrase_sets: Sequence[Sequence[str]]) -> np.ndarray:
    """One unit prototype per class: the re-normalised mean of its phrases' unit embeddings."""
    flat = [phrase for phrases in phrase_sets for phrase in phrases]
    embeddings = encoder.encode(flat)
    rows, start = [], 0
    for phrases in phrase_sets:
        rows.append(embeddings[start : start + len(phrases)].mean(axis=0))
        start += len(phrases)
    return l2_normalize(np.vstack(rows))


def nearest_prototype(
    encoder: Encoder, texts: Sequence[str], protos: np.ndarray, classes: Sequence[str]
) -> list[str]:
    """The class whose prototype has the highest cosine with each text."""
    scores = encoder.encode(texts) @ protos.T
    return [classes[i] for i in scores.argmax(axis=1)]


def description_phrases(
    descriptions: dict[str, ClassDescription], classes: Sequence[str]
) -> list[list[str]]:
    """Description + examples of every class, in `classes` order (all must be described)."""
    missing = [c for c in classes if c not in descriptions]
    if missing:
        raise ValueError(f"no description for classes: {', '.join(missing)}")
    return [[descriptions[c].description, *descriptions[c].examples] for c in classes]


def scores(true: Sequence[str], predicted: Sequence[str], classes: Sequence[str]) -> dict:
    """Accuracy and macro-F1 over `classes`."""
    return {
        "accuracy": float(accuracy_score(true, predicted)),
        "macro_f1": float(
            f1_score(true, predicted, labels=list(classes), average="macro", zero_division=0)
        ),
    }


def run(
    dataset: str,
    mode: str,
    *,
    data_dir: Path,
    seed: int = 13,
    descriptions_path: Path | None = None,
    encoder: SentenceEncoder | None = None,
    setfit_options: dict[str, Any] | None = None,
    eval_split: str = "test",
    text_encoder: Encoder | None = None,
) -> dict[str, Any]:
    """Evaluate one mode on one dataset and return the result record; `text_encoder` (default:
    `encoder`) embeds the texts, `encoder` the class descriptions."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; one of {', '.join(MODES)}")
    if eval_split == "train" and mode not in ("zero-shot", "names-only"):
        raise ValueError("--eval-split train is only for modes that do not train")
    started = time.perf_counter()
    encoder = encoder or load_sentence_encoder()
    train, test, classes = load_dataset(data_dir, dataset)
    target = train if eval_split == "train" else test
    LOG.info(
        "%s: %d classes, train %d, %s %d",
        dataset,
        len(classes),
        len(train.texts),
        eval_split,
        len(target.texts),
    )
    extra: dict[str, Any] = {}
    if mode in ("zero-shot", "names-only"):
        if mode == "zero-shot":
            path = descriptions_path or DESCRIPTIONS_DIR / f"{dataset}.yaml"
            phrase_sets = description_phrases(load_descriptions(path), classes)
            extra["descriptions"] = path.name
            extra["phrases"] = sum(len(p) for p in phrase_sets)
        else:
            phrase_sets = [[name_text(c)] for c in classes]
        predicted = nearest_prototype(
            text_encoder or encoder, target.texts, prototypes(encoder, phrase_sets), classes
        )
        n_train_used = 0
    elif mode.startswith("setfit-"):
        from models.topics.fewshot import fit_setfit

        few = sample_per_class(train, int(mode.rsplit("-", 1)[1]), seed)
        model = fit_setfit(few.texts, few.labels, seed=seed, **(setfit_options or {}))
        predicted = [model.classes[i] for i in model.predict_proba(target.texts).argmax(axis=1)]
        n_train_used = len(few.texts)
        extra["train_seconds"] = round(model.train_seconds, 1)
        extra["pairs"] = model.n_pairs
        extra["setfit_options"] = setfit_options or {}
    else:
        from models.topics.fewshot import fit_logistic_head

        few = (
            train
            if mode == "full-lr"
            else sample_per_class(train, int(mode.rsplit("-", 1)[1]), seed)
        )
        reader = text_encoder or encoder
        head = fit_logistic_head(reader.encode(few.texts), few.labels, seed=seed)
        predicted = head.predict(reader.encode(target.texts))
        n_train_used = len(few.texts)
    result = {
        "dataset": dataset,
        "mode": mode,
        "seed": seed,
        **scores(target.labels, predicted, classes),
        "n_test": len(target.texts),
        "n_train_used": n_train_used,
        "n_classes": len(classes),
        "eval_split": eval_split,
        "seconds": round(time.perf_counter() - started, 1),
        "encoder": (text_encoder or encoder).version,
        **extra,
    }
    return result


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--dataset", choices=sorted(DATASETS), required=True)
    parser.add_argument("--mode", choices=MODES, required=True)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument(
        "--descriptions",
        type=Path,
        default=None,
        help="descriptions YAML (default: proxy_descriptions/<dataset>.yaml)",
    )
    parser.add_argument("--encoder-dir", type=Path, default=None, help="encoder artifact folder")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--eval-split",
        choices=("test", "train"),
        default="test",
        help="train: score zero-shot/names-only on the train split (for "
        "checking descriptions without touching test)",
    )
    parser.add_argument("--setfit-pairs-per-example", type=int, default=None)
    parser.add_argument("--setfit-epochs", type=int, default=None)
    parser.add_argument("--setfit-lr", type=float, default=None)
    parser.add_argument("--no-progress", action="store_true", help="no tqdm bar on stderr")
    parser.add_argument(
        "--shared-pass",
        action="store_true",
        help="texts embedded by the sentiment model's own pass (models/topics/shared.py)",
    )
    return parser.parse_args(argv)


def shared_text_encoder(threads: int) -> Encoder:
    """The topic view of the shared sentiment pass."""
    from models.topics.shared import SharedSentimentPass

    return SharedSentimentPass(threads=threads).topic_encoder


def main(argv: list[str] | None = None) -> int:
    """Run one evaluation and print its JSON record to stdout."""
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s"
    )
    setfit_options: dict[str, Any] = {"threads": args.threads, "progress": not args.no_progress}
    for key, value in (
        ("pairs_per_example", args.setfit_pairs_per_example),
        ("epochs", args.setfit_epochs),
        ("lr", args.setfit_lr),
    ):
        if value is not None:
            setfit_options[key] = value
    encoder = load_sentence_encoder(args.encoder_dir, threads=args.threads)
    result = run(
        args.dataset,
        args.mode,
        data_dir=args.data_dir,
        seed=args.seed,
        descriptions_path=args.descriptions,
        encoder=encoder,
        setfit_options=setfit_options,
        eval_split=args.eval_split,
        text_encoder=shared_text_encoder(args.threads) if args.shared_pass else None,
    )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
