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

import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from importlib.util import find_spec
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


from models.sentiment import adapt_recipe as R
from models.sentiment.adapt_artifact import write_artifact
from models.sentiment.adapt_input import check_out, collect_new_data, load_base_manifest
from models.sentiment.adapt_metrics import (
    base_macro_f1,
    fit_balanced_temperature,
    new_macro_f1,
    scores,
)
from models.sentiment.adapt_recipe import AdaptError, AdaptReport, AdaptRequest, NewData
from models.sentiment.adapt_replay import replay_and_base_validation, sample_replay
from models.sentiment.adapt_train import train_and_select
from models.sentiment.inference import default_artifact_dir


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


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
    check_out(out)
    base = Path(request.base) if request.base is not None else default_artifact_dir()
    manifest = load_base_manifest(base)
    if find_spec("onnx") is None:
        raise AdaptError("writing the ONNX model needs the 'onnx' package: pip install onnx")
    new = collect_new_data(request)
    exclude = set(new.train.texts) | set(new.heldout.texts)
    pool, base_val = replay_and_base_validation(request, exclude)
    replay = None
    if pool is not None:
        replay = sample_replay(pool, round(R.REPLAY_RATIO * len(new.train)), request.seed)
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
    before = (
        new_macro_f1(before_logits[0], new.heldout),
        base_macro_f1(before_logits[1], base_val),
    )
    shown = {k: round(v, 4) for k, v in before[1].items()}
    log(f"[adapt] before: held-out new macro-F1 {before[0]:.4f}, base validation {shown}")
    outcome = train_and_select(
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
        if calibration_rows >= R.MIN_CALIBRATION_ROWS
        else float(manifest["temperature"])
    )
    base_temperature = float(manifest["temperature"])
    metrics: dict[str, dict[str, Any]] = {
        "heldout_new": {
            "before": scores(before_logits[0], new.heldout, base_temperature),
            "after": scores(after_logits[0], new.heldout, temperature),
        }
    }
    if base_val is not None:
        metrics["base_validation"] = {
            "before": scores(before_logits[1], base_val, base_temperature),
            "after": scores(after_logits[1], base_val, temperature),
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
        write_artifact(
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


__all__ = ["AdaptError", "AdaptReport", "AdaptRequest", "NewData", "adapt"]
