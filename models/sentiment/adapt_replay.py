"""Replay rows and the base validation set of an adaptation: the base model's own training
data (B2B train split, plus airline/TweetEval with `replay_data_dir`), sampled over its
sources, so that the adapted model keeps what it knew."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from models.sentiment import data as D
from models.sentiment.adapt_recipe import AdaptError, AdaptRequest


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
