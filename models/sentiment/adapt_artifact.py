"""Writing an adapted artifact: the int8 ONNX graph, tokenizer, fp16 torch weights, the
manifest with checksums, metrics and the recipe, and the model card."""

from __future__ import annotations

import json
import shlex
import shutil
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from models.checksums import file_sha256
from models.sentiment import adapt_recipe as R
from models.sentiment import data as D
from models.sentiment.adapt_metrics import scores
from models.sentiment.adapt_recipe import AdaptRequest, NewData
from models.sentiment.inference import OnnxSentimentModel

if TYPE_CHECKING:
    import torch

    from models.sentiment.modeling import SentimentClassifier


def write_json(path: Path, payload: dict[str, Any]) -> None:
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")


def default_command() -> str:
    return "sentiment-service " + shlex.join(sys.argv[1:])


def write_artifact(
    folder: Path,
    *,
    model: SentimentClassifier,
    compact: dict[str, torch.Tensor],
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
        "created_with": request.command or default_command(),
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
                "layer_decay": R.LAYER_DECAY,
                "batch_size": R.BATCH_SIZE,
                "label_smoothing": R.LABEL_SMOOTHING,
                "replay_ratio": R.REPLAY_RATIO,
                "kd_weight": R.KD_WEIGHT,
                "kd_temperature": R.KD_TEMPERATURE,
                "interpolations": [1.0, *R.WISE_ALPHAS],
                "forget_slack": R.FORGET_SLACK,
                "forget_penalty": R.FORGET_PENALTY,
                "frozen": "word embeddings",
            },
            "seconds": round(seconds, 1),
            "notes": new.notes,
        },
    }
    if data_licence is not None:
        manifest["data_licence"] = data_licence
    write_json(folder / "manifest.json", manifest)
    # What ships is the int8 graph: load it as the service does (checksums verified) and score
    # the held-out rows and the base validation set with it.
    onnx_model = OnnxSentimentModel.load(folder, threads=request.threads)
    for name, split in int8_sets.items():
        metrics[name]["after_int8_onnx"] = scores(onnx_model.logits(split.raw), split, temperature)
    write_json(folder / "manifest.json", manifest)
    write_adaptation_card(folder / "MODEL_CARD.md", manifest)
