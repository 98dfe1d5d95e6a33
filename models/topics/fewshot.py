"""Few-shot topic classifiers: a logistic head on frozen embeddings, and a SetFit-style
contrastive fine-tune of the base MiniLM followed by a logistic head.

The SetFit-style procedure (written here; the `setfit` package is not used):

1. Batches of `batch_size` examples are built from groups of `per_class` examples of one
   class; every pair of texts inside a batch is a training pair, positive (same class, target
   cosine 1) or negative (different classes, target cosine 0). Encoding each text once per
   batch and scoring all its pairs is several times cheaper on a CPU than encoding two texts
   per pair. With probability `hard_negative_share` a group is drawn from the classes whose
   centroids (under the base encoder) are closest to the batch's first class.
2. The encoder (mean pooling, L2 normalisation; word-embedding table frozen) is fine-tuned
   with a cosine-similarity loss: squared error between cos(u, v) and the target, positives
   and negatives weighted equally; negatives cost only above `negative_margin` (0.3 by
   default). AdamW, linear warm-up and decay, gradient clipping at 1.
3. A logistic head is fitted on the fine-tuned embeddings of the same examples.

Measured on Banking77 (evaluation/proxy_descriptions/RESULTS.md) this fine-tune does not beat
a logistic head on the frozen base embeddings; it is kept as a documented baseline.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from tokenizers import Tokenizer
from tqdm import tqdm

from models.topics.encoder import l2_normalize, load_tokenizer, pad_ids
from models.topics.export_encoder import (
    TOKENIZER_FILE,
    MeanPoolingEncoder,
    load_base_encoder,
    torch_encode,
    verified_base_dir,
)

DEFAULT_C = 10.0
SETFIT_MAX_LENGTH = 64


@dataclass(frozen=True)
class LogisticHead:
    """Multinomial, class-balanced logistic regression over embeddings."""

    model: LogisticRegression

    @property
    def classes(self) -> list[str]:
        """Class labels in the column order of `predict_proba`."""
        return [str(label) for label in self.model.classes_]

    def predict_proba(self, embeddings: np.ndarray) -> np.ndarray:
        """(n, n_classes) probabilities; columns follow `classes`."""
        return self.model.predict_proba(np.asarray(embeddings, dtype=np.float64))

    def predict(self, embeddings: np.ndarray) -> list[str]:
        """The most probable class of each row."""
        columns = self.predict_proba(embeddings).argmax(axis=1)
        return [self.classes[i] for i in columns]


def fit_logistic_head(
    embeddings: np.ndarray,
    labels: Sequence[str],
    *,
    c: float = DEFAULT_C,
    seed: int = 13,
    max_iter: int = 5000,
) -> LogisticHead:
    """Fit the head. `c` is the inverse L2 strength; unit-length inputs want a large one."""
    x = np.asarray(embeddings, dtype=np.float64)
    if x.ndim != 2 or len(x) != len(labels):
        raise ValueError("embeddings must be (n, d) with one label per row")
    if len(set(labels)) < 2:
        raise ValueError("a classifier needs at least two classes")
    model = LogisticRegression(
        C=c, class_weight="balanced", max_iter=max_iter, random_state=seed, solver="lbfgs"
    )
    model.fit(x, np.asarray([str(label) for label in labels]))
    return LogisticHead(model)


def class_centroid_neighbours(
    embeddings: np.ndarray, labels: Sequence[str], k: int
) -> dict[str, list[str]]:
    """For each class, the `k` other classes whose mean embeddings are most similar."""
    classes = sorted({str(label) for label in labels})
    label_array = np.asarray([str(label) for label in labels])
    centroids = l2_normalize(
        np.vstack([embeddings[label_array == c].mean(axis=0) for c in classes])
    )
    similarity = centroids @ centroids.T
    np.fill_diagonal(similarity, -np.inf)
    k = min(k, len(classes) - 1)
    return {
        c: [classes[j] for j in np.argsort(-similarity[i], kind="stable")[:k]]
        for i, c in enumerate(classes)
    }


def make_batches(
    labels: Sequence[str],
    *,
    batch_size: int,
    per_class: int,
    rounds: int,
    seed: int,
    neighbours: dict[str, list[str]] | None = None,
    hard_negative_share: float = 0.5,
) -> list[list[int]]:
    """Batches of example indices made of groups of `per_class` examples of one class.

    Every round shuffles each class, cuts it into groups and packs the groups into batches of
    `batch_size // per_class` groups from distinct classes; with probability
    `hard_negative_share` a slot is filled from a neighbouring class of the batch's first group
    (when one is left), otherwise from a random class. Each example appears once per round.
    """
    rng = random.Random(seed)
    by_class: dict[str, list[int]] = {}
    for index, label in enumerate(labels):
        by_class.setdefault(str(label), []).append(index)
    slots = max(2, batch_size // per_class)
    batches: list[list[int]] = []
    for _ in range(rounds):
        groups: list[tuple[str, list[int]]] = []
        for label in sorted(by_class):
            members = by_class[label][:]
            rng.shuffle(members)
            groups.extend(
                (label, members[i : i + per_class]) for i in range(0, len(members), per_class)
            )
        rng.shuffle(groups)
        while groups:
            first_label, first = groups.pop()
            batch, used = list(first), {first_label}
            near = set(neighbours.get(first_label, [])) if neighbours else set()
            while len(used) < slots:
                free = [i for i, (label, _) in enumerate(groups) if label not in used]
                if not free:
                    break
                hard = [i for i in free if groups[i][0] in near]
                pool = hard if hard and rng.random() < hard_negative_share else free
                label, members = groups.pop(rng.choice(pool))
                batch.extend(members)
                used.add(label)
            batches.append(batch)
    return batches


def pair_loss(
    embeddings: torch.Tensor, labels: torch.Tensor, negative_margin: float = 0.0
) -> torch.Tensor:
    """Cosine-similarity loss over every pair in a batch of unit vectors.

    Squared error between cos(u, v) and 1 (same class) or 0 (different classes), averaged
    separately over positive and negative pairs and then summed with equal weight, so the
    many negatives of a batch do not drown the few positives. With `negative_margin` > 0 a
    negative pair only costs when its cosine exceeds the margin.
    """
    cosine = embeddings @ embeddings.T
    same = labels.unsqueeze(0) == labels.unsqueeze(1)
    upper = torch.triu(torch.ones_like(same), diagonal=1)
    negative_error = (cosine - negative_margin).clamp(min=0.0) if negative_margin > 0 else cosine
    errors = torch.where(same, (cosine - 1.0) ** 2, negative_error**2)
    positive, negative = same & upper, ~same & upper
    loss = cosine.new_zeros(())
    for chosen in (positive, negative):
        if chosen.any():
            loss = loss + errors[chosen].mean()
    return loss


def _set_seed(seed: int) -> None:
    """Seed python, numpy and torch."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class SetFitModel:
    """A fine-tuned MiniLM (torch, fp32) and the logistic head fitted on its embeddings."""

    def __init__(
        self,
        encoder: MeanPoolingEncoder,
        tokenizer: Tokenizer,
        head: LogisticHead,
        *,
        max_length: int,
        train_seconds: float = 0.0,
        n_pairs: int = 0,
    ) -> None:
        self.encoder = encoder
        self.tokenizer = tokenizer
        self.head = head
        self.max_length = max_length
        self.train_seconds = train_seconds
        self.n_pairs = n_pairs

    @property
    def classes(self) -> list[str]:
        """Class labels in the column order of `predict_proba`."""
        return self.head.classes

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """(n, 384) float32 unit-length embeddings from the fine-tuned encoder."""
        if not texts:
            return np.zeros((0, int(self.encoder.encoder.config.hidden_size)), dtype=np.float32)
        ids = [e.ids for e in self.tokenizer.encode_batch([t or "" for t in texts])]
        return torch_encode(self.encoder, ids, batch_size)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """(n, n_classes) probabilities; columns follow `classes`."""
        return self.head.predict_proba(self.encode(texts))

    def predict(self, texts: Sequence[str]) -> list[str]:
        """The most probable class of each text."""
        return self.head.predict(self.encode(texts))


def _linear_schedule(step: int, total: int, warmup: int) -> float:
    """Learning-rate factor: linear warm-up to 1 then linear decay to 0."""
    if step < warmup:
        return (step + 1) / warmup
    return max(0.0, (total - step) / max(1, total - warmup))


def contrastive_finetune(
    model: MeanPoolingEncoder,
    token_ids: Sequence[Sequence[int]],
    labels: Sequence[str],
    batches: Sequence[Sequence[int]],
    *,
    lr: float,
    seed: int,
    negative_margin: float = 0.0,
    warmup_share: float = 0.1,
    progress: bool = True,
) -> None:
    """Train `model` in place with `pair_loss` over the given batches (in the given order)."""
    _set_seed(seed)
    class_ids = {label: i for i, label in enumerate(sorted({str(x) for x in labels}))}
    label_ids = [class_ids[str(label)] for label in labels]
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=lr, weight_decay=0.01)
    total = len(batches)
    warmup = max(1, int(warmup_share * total))
    bar = tqdm(total=total, desc="setfit", disable=not progress, file=sys.stderr, mininterval=5)
    model.train()
    for step, batch in enumerate(batches):
        input_ids, mask = pad_ids([token_ids[i] for i in batch])
        embeddings = model(torch.from_numpy(input_ids), torch.from_numpy(mask))
        loss = pair_loss(embeddings, torch.tensor([label_ids[i] for i in batch]), negative_margin)
        for group in optimizer.param_groups:
            group["lr"] = lr * _linear_schedule(step, total, warmup)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        optimizer.step()
        bar.update(1)
        bar.set_postfix(loss=f"{loss.item():.4f}", refresh=False)
    bar.close()
    model.eval()


def fit_setfit(
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    seed: int = 13,
    epochs: int = 1,
    pairs_per_example: int = 93,
    batch_size: int = 32,
    per_class: int = 4,
    lr: float = 3e-5,
    max_length: int = SETFIT_MAX_LENGTH,
    hard_negative_share: float = 0.5,
    hard_negative_classes: int = 8,
    negative_margin: float = 0.3,
    c: float = DEFAULT_C,
    freeze_word_embeddings: bool = True,
    threads: int | None = None,
    progress: bool = True,
    base_dir: Path | None = None,
) -> SetFitModel:
    """Contrastively fine-tune the verified base MiniLM on pairs of the examples, then fit a
    logistic head on the fine-tuned embeddings. Deterministic for a seed and thread count.

    Pairs are formed inside each batch of `batch_size` texts (groups of `per_class` texts of
    one class), so an example takes part in `batch_size - 1` pairs per appearance; it appears
    in about `pairs_per_example / (batch_size - 1)` rounds per epoch (at least one).
    """
    if len(texts) != len(labels):
        raise ValueError("one label per text")
    if threads is not None:
        torch.set_num_threads(threads)
    _set_seed(seed)
    base_dir = base_dir or verified_base_dir()
    tokenizer = load_tokenizer(base_dir / TOKENIZER_FILE, max_length)
    model = load_base_encoder(base_dir)
    if freeze_word_embeddings:  # 30k x 384 table: a third of the optimiser's work, little gain
        model.encoder.get_input_embeddings().requires_grad_(False)
    token_ids = [e.ids for e in tokenizer.encode_batch([t or "" for t in texts])]
    start = time.perf_counter()
    neighbours = None
    if hard_negative_share > 0:
        neighbours = class_centroid_neighbours(
            torch_encode(model, token_ids), labels, hard_negative_classes
        )
    rounds = max(1, round(pairs_per_example / max(1, batch_size - 1))) * max(1, epochs)
    batches = make_batches(
        labels,
        batch_size=batch_size,
        per_class=per_class,
        rounds=rounds,
        seed=seed,
        neighbours=neighbours,
        hard_negative_share=hard_negative_share,
    )
    contrastive_finetune(
        model,
        token_ids,
        labels,
        batches,
        lr=lr,
        seed=seed,
        negative_margin=negative_margin,
        progress=progress,
    )
    head = fit_logistic_head(torch_encode(model, token_ids), labels, c=c, seed=seed)
    n_pairs = sum(len(b) * (len(b) - 1) // 2 for b in batches)
    return SetFitModel(
        model,
        tokenizer,
        head,
        max_length=max_length,
        train_seconds=time.perf_counter() - start,
        n_pairs=n_pairs,
    )
