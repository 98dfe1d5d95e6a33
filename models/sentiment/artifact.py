"""Finish a training run: teacher soft labels, or ONNX int8 artifact + manifest + model card."""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import numpy as np
import torch

from models.checksums import file_sha256
from models.sentiment import data as D
from models.sentiment.card import write_model_card
from models.sentiment.export import export_fp32, quantize_int8
from models.sentiment.inference import OnnxSentimentModel, encode_texts
from models.sentiment.metrics import evaluation_report
from models.sentiment.modeling import SentimentClassifier
from models.sentiment.predict import predict_logits
from models.sentiment.preprocess import PREPROCESSING_ID
from models.sentiment.torch_weights import WEIGHTS_FILE, base_state, compact_state, save_compact

MODEL_FILE = "model.int8.onnx"
TOKENIZER_FILE = "tokenizer.json"


def _write_json(path: Path, payload: dict) -> None:
    """Pretty, stable JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n", encoding="utf-8")


def _reports(logits: dict[str, np.ndarray], splits: D.Splits, temperature: float) -> dict:
    """Evaluation report (with bootstrap CIs) for every reporting split."""
    return {
        name: evaluation_report(logits[name], split.labels, temperature)
        for name, split in splits.test.items()
    }


def _write_teacher(args: argparse.Namespace, run: dict, model, tok, splits: D.Splits) -> None:
    """Save the teacher's logits on train + validation texts for distillation."""
    texts = splits.train.texts + splits.val.texts
    logits = predict_logits(model, encode_texts(tok, texts))
    args.out.mkdir(parents=True, exist_ok=True)
    np.savez(args.out / "teacher_logits.npz", texts=np.array(texts), logits=logits)
    _write_json(args.out / "run.json", run)


def finish_run(
    args: argparse.Namespace,
    run: dict,
    model: SentimentClassifier,
    tok,
    splits: D.Splits,
    val_logits: np.ndarray,
    test_logits: dict[str, np.ndarray],
) -> None:
    """Compute metrics and write whatever this kind of run produces."""
    temperature = float(run["temperature"])
    run["metrics"] = {
        "validation": evaluation_report(val_logits, splits.val.labels, temperature, with_ci=False),
        "test_fp32_torch": _reports(test_logits, splits, temperature),
    }
    print(json.dumps(run["metrics"], indent=1), flush=True)
    if args.teacher:
        _write_teacher(args, run, model, tok, splits)
        return
    if args.no_export:
        _write_json(args.out / "run.json", run)
        return
    version = args.out.name
    scratch = args.scratch / version
    scratch.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), scratch / "model.pt")
    fp32 = export_fp32(model, scratch / "model.fp32.onnx")
    args.out.mkdir(parents=True, exist_ok=True)
    for stale in args.out.iterdir():
        if stale.is_file():
            stale.unlink()
    quantize_int8(fp32, args.out / MODEL_FILE)
    base_dir = Path(run["base_dir"])
    shutil.copyfile(base_dir / TOKENIZER_FILE, args.out / TOKENIZER_FILE)
    shipped = [MODEL_FILE, TOKENIZER_FILE]
    if args.base == "minilm":
        save_compact(
            compact_state(model.state_dict(), base_state(base_dir)), args.out / WEIGHTS_FILE
        )
        shipped.append(WEIGHTS_FILE)
    manifest = {
        "name": "minilm-sentiment-3class",
        "version": version,
        "base_model": run["base"]["name"],
        "base_model_sha256": run["base"]["sha256"],
        "labels": list(D.LABELS),
        "max_length": args.max_length,
        "temperature": temperature,
        "preprocessing": PREPROCESSING_ID,
        "model_file": MODEL_FILE,
        "tokenizer": TOKENIZER_FILE,
        "onnx": {"inputs": ["input_ids", "attention_mask"], "output": "logits", "opset": 17},
        "files": {f: file_sha256(args.out / f) for f in shipped},
        "data_licence": D.data_licence(
            [d.strip() for d in str(args.domains).split(",") if d.strip()]
        ),
        "metrics": run["metrics"],
        "created_with": run["command"],
    }
    _write_json(args.out / "manifest.json", manifest)
    onnx_model = OnnxSentimentModel.load(args.out, threads=args.threads)
    int8: dict[str, np.ndarray] = {}
    started = time.time()
    for name, split in splits.test.items():
        int8[name] = onnx_model.logits(split.raw)
    n_texts = sum(len(s) for s in splits.test.values())
    run["metrics"]["test_int8_onnx"] = _reports(int8, splits, temperature)
    run["metrics"]["int8_throughput_texts_per_s"] = n_texts / (time.time() - started)
    run["metrics"]["int8_size_bytes"] = (args.out / MODEL_FILE).stat().st_size
    run["metrics"]["train_seconds"] = run["train_seconds"]
    manifest["metrics"] = run["metrics"]
    manifest["training"] = {k: v for k, v in run["args"].items() if k not in {"data_dir", "out"}}
    manifest["training"].update({"selection": run["choice"], "sizes": run["sizes"]})
    _write_json(args.out / "manifest.json", manifest)
    _write_json(scratch / "run.json", run)
    write_model_card(args.out / "MODEL_CARD.md", manifest, run)
    print(json.dumps(run["metrics"]["test_int8_onnx"], indent=1), flush=True)
