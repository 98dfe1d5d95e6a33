"""Render MODEL_CARD.md for an artifact written by `sentiment-service adapt` (from its manifest)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def _rows(name: str, pair: dict[str, Any]) -> list[str]:
    """Table rows: overall and per source, before -> after (fp32) and after (int8)."""
    before, after = pair["before"], pair["after"]
    int8 = pair.get("after_int8_onnx", {})
    lines = []
    keys = [("all", before, after, int8)]
    for source in sorted(before.get("per_source", {})):
        keys.append(
            (
                source,
                before["per_source"][source],
                after["per_source"][source],
                int8.get("per_source", {}).get(source, {}),
            )
        )
    for label, b, a, q in keys:
        q_f1 = _pct(q["macro_f1"]) if q else "-"
        q_ece = f"{q['ece']:.3f}" if q else "-"
        lines.append(
            f"| {name} | {label} | {a['n']} | {_pct(b['macro_f1'])} | {_pct(a['macro_f1'])} | "
            f"{q_f1} | {_pct(b['accuracy'])} | {_pct(a['accuracy'])} | {b['ece']:.3f} | "
            f"{a['ece']:.3f} | {q_ece} |"
        )
    return lines


def _data_lines(sources: list[dict[str, Any]]) -> str:
    lines = []
    for item in sources:
        if "file" in item:
            skipped = item.get("test_rows_skipped", 0)
            extra = f"; {skipped} rows of its test split never read" if skipped else ""
            lines.append(
                f"- `{item['file']}`: {item['rows']} rows, sha256 `{item['sha256']}`{extra}"
            )
        else:
            lines.append(f"- {item['corrections']} label corrections stored in the database")
    return "\n".join(lines)


def write_adaptation_card(path: Path, manifest: dict[str, Any]) -> None:
    """Write the card: origin, data, method, selection trace, metrics before/after, command."""
    a = manifest["adaptation"]
    r = a["recipe"]
    sizes = a["sizes"]
    sel = a["selected"]
    metrics = manifest["metrics"]
    table = [
        "| set | source | n | macro-F1 before | after (fp32) | after (int8) | accuracy before "
        "| after | ECE before | after | after (int8) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    names = {"heldout_new": "held-out new data", "base_validation": "base validation"}
    for key, label in names.items():
        if key in metrics:
            table += _rows(label, metrics[key])
    trace = "\n".join(
        f"| {e['epoch']} | {e['interpolation']} | {e['heldout_new_f1']:.4f} | "
        + (", ".join(f"{k} {v:.4f}" for k, v in e["base_val_f1"].items()) or "-")
        + f" | {e['forgetting']:.4f} | {e['selection']:.4f} |"
        for e in a["trace"]
    )
    replay = a.get("replay_data_dir")
    licence = " (non-commercial airline licence applies)" if replay else ""
    comp = a.get("composition") or {}

    def counts(key: str) -> str:
        return ", ".join(f"{k} {v}" for k, v in (comp.get(key) or {}).items()) or "-"

    text = f"""# Model card: {manifest["name"]} {manifest["version"]} (adapted)

Adapted with `sentiment-service adapt` from `{manifest["adapted_from"]["version"]}` on the
labelled data below. Same architecture and runtime as the base: int8 ONNX
(`{manifest["model_file"]}`), `{manifest["tokenizer"]}` and fp16 torch weights; sha256 of every
file in `manifest.json`, verified at load. Probabilities are `softmax(logits / T)` with
T = {manifest["temperature"]:.3f}, fitted on the held-out new rows and the base validation set
(each counting half). Max {manifest["max_length"]} word pieces.

## Command

```
{manifest["created_with"]}
```

## Data
{_data_lines(a["data"])}
- Training rows {sizes["new_train"]}; held out for selection and calibration
  {sizes["new_heldout"]} ({comp.get("heldout", "stratified")}).
- Replay: {sizes["replay"]} rows of the base model's own data ({counts("replay")}){licence},
  sampled by the square root of each source's size; rows of the new data are never replayed.
- Base validation set: {sizes["base_validation"]} rows ({counts("base_validation")}); for
  selection and calibration only. No test split is read.

## Method
Fine-tunes the whole encoder except the word embeddings: AdamW, lr {r["lr"]} at the head with
layer-wise decay {r["layer_decay"]}, batch {r["batch_size"]}, label smoothing
{r["label_smoothing"]}, warm-up then linear decay over {a["epochs_requested"] or a["max_epochs"]}
epochs. On replay rows the loss is {1 - r["kd_weight"]:.2f} x cross-entropy + {r["kd_weight"]:.2f} x
KL to the base model's logits (T = {r["kd_temperature"]}). After each epoch the model is scored
on the held-out new rows and the base validation set; the weights may also be interpolated
back toward the base (x{", x".join(str(x) for x in r["interpolations"][1:])}). Selection score =
held-out macro-F1 - {r["forget_penalty"]} x (the worst macro-F1 drop of any base-validation
source beyond {r["forget_slack"]}).
Selected: epoch {sel["epoch"]}, interpolation {sel["interpolation"]}.
Wall time {a["seconds"] / 60:.1f} min.

| epoch | interpolation | held-out new macro-F1 | base validation macro-F1 | worst drop | score |
|---|---|---|---|---|---|
{trace}

## Metrics before and after (percent; ECE top-label, 15 bins, calibrated)

{chr(10).join(table)}

These sets were used for selection and calibration, so they flatter the adapted model a
little; measure it on other labelled messages with
`sentiment-service evaluate --artifact DIR --data FILE` and let
`sentiment-service promote-model --artifact DIR` gate it on the stored labelled sets.

## Known limits
- Learns the labelling definition of the data it was given; the base model's limits apply.
- Few held-out rows give wide uncertainty on the before/after numbers.
- The data licence is the union of the base model's and the new data's.
"""
    path.write_text(text, encoding="utf-8")
