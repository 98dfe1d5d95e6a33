"""Topic embeddings from the sentiment model's own forward pass (opt-in fast path, #19).

The sentiment model is all-MiniLM-L6-v2 fine-tuned for sentiment, so its hidden states still
carry most of what the base model knows about a sentence's subject. One run of its ONNX graph,
with the mean-pooled output of the embedding layer and of each of the six transformer layers
exposed as extra outputs, gives the sentiment logits and a 7 x 384 feature vector; a linear
projection (ridge regression, fitted on unlabelled sentences) maps the features to an
approximation of the base topic encoder's embedding. Sentences the message path has scored
therefore need no second model for topics.

The projection is an artifact of its own (`projection.npz`, `manifest.json` with sha256s)
bound to the sha256 of the sentiment graph it was fitted on; loading refuses any other graph.
Embeddings are kept in an `EmbeddingCache` keyed by the sentiment tokenizer's ids, filled by
`predict_proba` and read by `encode`.

Fit: `python -m models.topics.shared --data-dir ../shared/data --out DIR`.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort

from models.checksums import ModelChecksumError, file_sha256
from models.minilm import MiniLMBackend
from models.onnx_runtime import make_session
from models.sentiment.inference import load_tokenizer, pad_batch
from models.sentiment.preprocess import normalize_text
from models.topics.embedding_cache import EmbeddingCache, TokenKey
from models.topics.encoder import DEFAULT_CACHE_SIZE, l2_normalize

ARTIFACTS_ROOT = Path(__file__).resolve().parent / "artifacts"
DEFAULT_PROJECTION = "minilm-sent-2026.12.6-topic-projection"
PROJECTION_FILE = "projection.npz"
HIDDEN = 384
POOLED_OUTPUTS: tuple[str, ...] = (
    "/encoder/embeddings/LayerNorm/LayerNormalization_output_0",
    *(f"/encoder/encoder/layer.{i}/output/LayerNorm/LayerNormalization_output_0" for i in range(6)),
)
# Unlabelled fitting sentences: (file under the data folder, rows drawn). Banking77 and the
# sample labelled set stay out, so the topic figures measured on them remain held out.
FIT_SOURCES: tuple[tuple[str, int], ...] = (
    ("airline-tweets/train.csv", 8000),
    ("se-github/train.csv", 4000),
    ("tweeteval-sentiment/val.csv", 2000),
    ("umsab-multilingual/english/train.csv", 6000),
)


def default_projection_dir() -> Path:
    """The projection shipped for the default sentiment model."""
    return ARTIFACTS_ROOT / DEFAULT_PROJECTION


def graph_with_pooled_outputs(graph_path: Path, expected_sha256: str) -> bytes:
    """The sentiment graph, checked against its sha256, with POOLED_OUTPUTS as extra outputs."""
    raw = graph_path.read_bytes()
    actual = hashlib.sha256(raw).hexdigest()
    if actual != expected_sha256:
        raise ModelChecksumError(f"{graph_path}: sha256 {actual} != {expected_sha256}")
    model = onnx.load_from_string(raw)
    known = {output for node in model.graph.node for output in node.output}
    for name in POOLED_OUTPUTS:
        if name not in known:
            raise ValueError(f"{graph_path}: no tensor {name}; not a MiniLM sentiment graph")
        model.graph.output.append(
            onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None)
        )
    return model.SerializeToString()


def mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(batch, width) mean over the tokens the mask keeps, of a (batch, tokens, width) state."""
    weights = mask[:, :, None].astype(np.float32)
    return (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1.0)


def run_pooled(
    session: ort.InferenceSession, ids: Sequence[Sequence[int]], batch_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """(logits, pooled features) of tokenised inputs in length-sorted batches, input order."""
    logits = np.zeros((len(ids), 3), dtype=np.float32)
    features = np.zeros((len(ids), len(POOLED_OUTPUTS) * HIDDEN), dtype=np.float32)
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    names = ["logits", *POOLED_OUTPUTS]
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        input_ids, mask = pad_batch([ids[i] for i in chunk])
        outputs = session.run(names, {"input_ids": input_ids, "attention_mask": mask})
        logits[chunk] = outputs[0]
        features[chunk] = np.hstack([mean_pool(hidden, mask) for hidden in outputs[1:]])
    return logits, features


@dataclass(frozen=True)
class Projection:
    """Standardise pooled features, then a linear map (with bias) to the topic space."""

    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray  # (features + 1, dimension); the last row is the bias

    @classmethod
    def fit(cls, features: np.ndarray, targets: np.ndarray, ridge: float) -> Projection:
        """Ridge regression of the target embeddings on the standardised features."""
        mean = features.mean(axis=0)
        scale = features.std(axis=0) + 1e-6
        design = np.hstack([(features - mean) / scale, np.ones((len(features), 1))])
        gram = design.T @ design + ridge * np.eye(design.shape[1])
        weights = np.linalg.solve(gram, design.T @ targets)
        return cls(mean.astype(np.float32), scale.astype(np.float32), weights.astype(np.float32))

    def apply(self, features: np.ndarray) -> np.ndarray:
        """Unit-length topic embeddings of pooled features."""
        mapped = ((features - self.mean) / self.scale) @ self.weights[:-1] + self.weights[-1]
        return l2_normalize(mapped)

    def save(self, path: Path) -> None:
        """Write the three arrays as one .npz file."""
        np.savez(path, mean=self.mean, scale=self.scale, weights=self.weights)

    @classmethod
    def load(cls, path: Path) -> Projection:
        """Read a file written by `save` (no pickled objects)."""
        with np.load(path, allow_pickle=False) as arrays:
            return cls(arrays["mean"], arrays["scale"], arrays["weights"])


class SharedSentimentPass(MiniLMBackend):
    """The MiniLM sentiment backend that also yields topic embeddings from the same run.

    `predict_proba` gives the calibrated probabilities of `MiniLMBackend` (same graph, same
    tokens) and caches the projected embedding of every input; `topic_encoder` is the topic
    stage's view of them.
    """

    def __init__(
        self,
        artifact_dir: Path | None = None,
        projection_dir: Path | None = None,
        *,
        threads: int = 2,
        cache_size: int = DEFAULT_CACHE_SIZE,
        batch_size: int = 32,
    ) -> None:
        super().__init__(artifact_dir, threads=threads)
        projection_dir = Path(projection_dir or default_projection_dir())
        manifest = self.model.manifest
        graph_sha = manifest["files"][manifest["model_file"]]
        self.projection_manifest = read_projection_manifest(projection_dir)
        if self.projection_manifest["sentiment_onnx_sha256"] != graph_sha:
            raise ModelChecksumError(
                f"{projection_dir}: fitted on sentiment graph "
                f"{self.projection_manifest['sentiment_onnx_sha256'][:12]}, not {graph_sha[:12]}"
            )
        graph = graph_with_pooled_outputs(
            self.model.artifact_dir / manifest["model_file"], graph_sha
        )
        self._session = make_session(graph, threads)
        self._tokenizer = load_tokenizer(
            self.model.artifact_dir / manifest["tokenizer"], int(manifest["max_length"])
        )
        self._projection = Projection.load(projection_dir / PROJECTION_FILE)
        self._batch_size = batch_size
        self.dimension = int(self.projection_manifest["dimension"])
        self.cache = EmbeddingCache(cache_size)
        projection_sha = self.projection_manifest["files"][PROJECTION_FILE]
        self.topic_encoder = SharedTopicEncoder(
            self, f"{self.version}-topic-projection-{projection_sha[:12]}"
        )

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """The sentiment model's inputs: normalised, tokenised, truncated."""
        normalised = [normalize_text(text or "") for text in texts]
        return [encoding.ids for encoding in self._tokenizer.encode_batch(normalised)]

    def features(self, texts: Sequence[str]) -> np.ndarray:
        """(n, 7 x 384) pooled hidden states, what the projection reads (for fitting)."""
        return run_pooled(self._session, self.token_ids(texts), self._batch_size)[1]

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """(n, 3) calibrated probabilities; each input's topic embedding is cached."""
        if not texts:
            return np.zeros((0, 3))
        ids = self.token_ids(texts)
        logits, features = run_pooled(self._session, ids, self._batch_size)
        self.cache.put_many([tuple(row) for row in ids], self._projection.apply(features))
        return self.calibrated(logits)

    def embeddings(self, texts: Sequence[str]) -> np.ndarray:
        """Topic embeddings: from the cache where `predict_proba` saw the text, else run now."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        keys: list[TokenKey] = [tuple(row) for row in self.token_ids(texts)]
        return self.cache.embed_through(keys, self.dimension, self._computed)

    def _computed(self, fresh: list[TokenKey]) -> np.ndarray:
        """Topic embeddings of token sequences the cache did not hold: one pooled run."""
        _, features = run_pooled(self._session, [list(k) for k in fresh], self._batch_size)
        return self._projection.apply(features)


class SharedTopicEncoder:
    """The topic `Encoder` view of a `SharedSentimentPass`."""

    def __init__(self, shared: SharedSentimentPass, version: str) -> None:
        self.shared = shared
        self.version = version
        self.dimension = shared.dimension

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """(n, dimension) unit embeddings (batches follow the sentiment pass's own size)."""
        del batch_size
        return self.shared.embeddings(texts)


def read_projection_manifest(projection_dir: Path) -> dict[str, Any]:
    """manifest.json of a projection artifact after checking its files' sha256."""
    path = projection_dir / "manifest.json"
    if not path.is_file():
        raise FileNotFoundError(f"no manifest.json in {projection_dir}")
    manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if PROJECTION_FILE not in manifest["files"]:
        raise ModelChecksumError(f"{path}: no sha256 recorded for {PROJECTION_FILE}")
    for name, expected in manifest["files"].items():
        actual = file_sha256(projection_dir / name)
        if actual != expected:
            raise ModelChecksumError(f"{projection_dir / name}: sha256 {actual} != {expected}")
    return manifest


def fit_sentences(data_dir: Path, seed: int = 7) -> list[str]:
    """Distinct sentences (2+ words) of the FIT_SOURCES rows and the sample messages."""
    from models.sentences import SentenceSplitter
    from sentiment_service.sample_loader import SAMPLE_DIR

    rng = random.Random(seed)
    texts: list[str] = []
    for name, count in FIT_SOURCES:
        with (data_dir / name).open(encoding="utf-8", newline="") as handle:
            rows = [row["text"] for row in csv.DictReader(handle) if row.get("text")]
        rng.shuffle(rows)
        texts.extend(rows[:count])
    with (SAMPLE_DIR / "messages.jsonl").open(encoding="utf-8") as handle:
        texts.extend(json.loads(line)["text"] for line in handle if line.strip())
    with (SAMPLE_DIR / "labelled_messages.csv").open(encoding="utf-8", newline="") as handle:
        held_out = {row["text"] for row in csv.DictReader(handle)}
    texts = [text for text in texts if text not in held_out]
    sentences = [
        sentence.text
        for group in SentenceSplitter().split(texts)
        for sentence in group
        if len(sentence.text.split()) >= 2
    ]
    distinct = list(dict.fromkeys(sentences))
    rng.shuffle(distinct)
    return distinct


def main(argv: list[str] | None = None) -> None:
    """Fit the projection for the default sentiment model and write the artifact."""
    from models.topics.encoder import load_sentence_encoder

    parser = argparse.ArgumentParser(description="Fit the shared-pass topic projection.")
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out", type=Path, default=default_projection_dir())
    parser.add_argument("--ridge", type=float, default=100.0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    sentences = fit_sentences(args.data_dir)
    targets = load_sentence_encoder(threads=args.threads, cache_size=0).encode(sentences)
    backend = MiniLMBackend(threads=args.threads)
    manifest = backend.model.manifest
    graph_sha = manifest["files"][manifest["model_file"]]
    graph = graph_with_pooled_outputs(
        backend.model.artifact_dir / manifest["model_file"], graph_sha
    )
    tokenizer = load_tokenizer(
        backend.model.artifact_dir / manifest["tokenizer"], int(manifest["max_length"])
    )
    ids = [e.ids for e in tokenizer.encode_batch([normalize_text(t) for t in sentences])]
    features = run_pooled(make_session(graph, args.threads), ids, 32)[1]
    cut = int(0.9 * len(sentences))
    check = Projection.fit(features[:cut], targets[:cut], args.ridge).apply(features[cut:])
    cosine = (check * targets[cut:]).sum(axis=1)
    projection = Projection.fit(features, targets, args.ridge)
    args.out.mkdir(parents=True, exist_ok=True)
    projection.save(args.out / PROJECTION_FILE)
    manifest = {
        "name": args.out.name,
        "sentiment_version": backend.version,
        "sentiment_onnx_sha256": graph_sha,
        "target": "models/topics/artifacts/minilm-l6-base-int8 (all-MiniLM-L6-v2 int8)",
        "dimension": int(targets.shape[1]),
        "features": "mean-pooled outputs of: " + ", ".join(POOLED_OUTPUTS),
        "ridge": args.ridge,
        "fit_sentences": len(sentences),
        "fit_sources": [name for name, _ in FIT_SOURCES] + ["sample messages.jsonl"],
        "held_out_check": {
            "sentences": len(sentences) - cut,
            "cosine_to_target_mean": round(float(cosine.mean()), 4),
            "cosine_to_target_p5": round(float(np.percentile(cosine, 5)), 4),
        },
        "files": {PROJECTION_FILE: file_sha256(args.out / PROJECTION_FILE)},
        "created_with": "python -m models.topics.shared --data-dir ../shared/data",
    }
    (args.out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(json.dumps(manifest["held_out_check"]))


if __name__ == "__main__":
    main()
