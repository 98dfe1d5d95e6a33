"""A self-contained HTML evaluation report: inline CSS, base64 PNG charts, no scripts."""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from evaluation.runner import EvaluationResult, most_confident_errors

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto;
       max-width: 1100px; color: #1f2933; line-height: 1.4; padding: 0 1rem; }
h1 { font-size: 1.6rem; } h2 { margin-top: 2.5rem; border-bottom: 2px solid #d9e2ec; }
h3 { margin-top: 1.6rem; }
table { border-collapse: collapse; margin: 0.6rem 0 1.2rem; font-size: 0.92rem; }
th, td { border: 1px solid #d9e2ec; padding: 0.3rem 0.6rem; text-align: right; }
th { background: #f0f4f8; } td.text, th.text { text-align: left; max-width: 640px; }
table.errors td.text { white-space: pre-wrap; overflow-wrap: anywhere; }
tr.reference td { color: #52606d; font-style: italic; }
.charts { display: flex; flex-wrap: wrap; gap: 1.5rem; }
.meta { color: #52606d; font-size: 0.9rem; } .note { color: #52606d; font-size: 0.85rem; }
code { background: #f0f4f8; padding: 0 0.2rem; }
"""


def _esc(value: Any) -> str:
    """HTML-escaped text of any value."""
    return html.escape(str(value), quote=True)


def _num(value: float | None, digits: int = 3) -> str:
    """A float rounded for display ('-' for None)."""
    return "-" if value is None else f"{value:.{digits}f}"


def _interval(ci: dict[str, list[float]] | None, key: str) -> str:
    """'[lo, hi]' for a metric from a ci95 dict, or '-'."""
    if not ci or key not in ci:
        return "-"
    low, high = ci[key]
    return f"[{low:.3f}, {high:.3f}]"


def _table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    css: str = "",
    text_columns: Sequence[int] = (),
    row_classes: Sequence[str] | None = None,
) -> str:
    """An HTML table from already-escaped cells; text columns are left-aligned."""

    def cell(tag: str, index: int, content: str) -> str:
        attribute = ' class="text"' if index in text_columns else ""
        return f"<{tag}{attribute}>{content}</{tag}>"

    head = "".join(cell("th", i, header) for i, header in enumerate(headers))
    body = []
    for number, row in enumerate(rows):
        row_class = row_classes[number] if row_classes else ""
        attribute = f' class="{row_class}"' if row_class else ""
        cells = "".join(cell("td", i, content) for i, content in enumerate(row))
        body.append(f"<tr{attribute}>{cells}</tr>")
    table_attribute = f' class="{css}"' if css else ""
    return (
        f"<table{table_attribute}><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def _png(figure: Any) -> str:
    """An <img> tag with the figure embedded as a base64 PNG."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="chart" src="data:image/png;base64,{encoded}">'


def confusion_matrix_png(summary: dict[str, Any]) -> str:
    """The confusion matrix as an annotated heat map (embedded PNG)."""
    from matplotlib.figure import Figure

    labels = summary["confusion_matrix"]["labels"]
    matrix = summary["confusion_matrix"]["matrix"]
    figure = Figure(figsize=(4.2, 3.6))
    axes = figure.add_subplot()
    image = axes.imshow(matrix, cmap="Blues")
    figure.colorbar(image, ax=axes, fraction=0.046)
    axes.set_xticks(range(len(labels)), labels)
    axes.set_yticks(range(len(labels)), labels)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(f"Confusion matrix: {summary['model']}")
    peak = max((max(row) for row in matrix), default=0)
    for i, row in enumerate(matrix):
        for j, count in enumerate(row):
            colour = "white" if peak and count > peak / 2 else "black"
            axes.text(j, i, str(count), ha="center", va="center", color=colour)
    return _png(figure)


def reliability_png(summary: dict[str, Any]) -> str:
    """The reliability diagram (accuracy vs confidence per bin) as an embedded PNG."""
    from matplotlib.figure import Figure

    bins = summary["reliability"]
    figure = Figure(figsize=(4.2, 3.6))
    axes = figure.add_subplot()
    filled = [b for b in bins if b["n"] > 0]
    width = bins[0]["high"] - bins[0]["low"] if bins else 0.1
    axes.bar(
        [b["low"] for b in filled],
        [b["accuracy"] for b in filled],
        width=width,
        align="edge",
        edgecolor="#243b53",
        color="#9fb3c8",
        label="accuracy",
    )
    axes.plot([0, 1], [0, 1], linestyle="--", color="#d64545", label="perfect calibration")
    axes.plot(
        [b["confidence"] for b in filled],
        [b["accuracy"] for b in filled],
        marker="o",
        color="#243b53",
        linewidth=0,
    )
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1)
    axes.set_xlabel("confidence (top label)")
    axes.set_ylabel("accuracy")
    axes.set_title(f"Reliability: {summary['model']} (ECE {summary['ece']:.3f})")
    axes.legend(loc="upper left", fontsize="small")
    return _png(figure)


def _metric_table(summary: dict[str, Any]) -> str:
    """Headline metrics with their bootstrap intervals."""
    ci = summary.get("ci95")
    rows = [
        ["accuracy", _num(summary["accuracy"]), _interval(ci, "accuracy")],
        ["macro F1", _num(summary["macro_f1"]), _interval(ci, "macro_f1")],
        ["macro recall", _num(summary["macro_recall"]), "-"],
        ["ECE (15 bins)", _num(summary["ece"]), "-"],
        ["n", str(summary["n"]), "-"],
    ]
    return _table(["metric", "value", "95% CI"], rows, css="metrics", text_columns=(0,))


def _per_class_table(summary: dict[str, Any]) -> str:
    """Precision, recall, F1 and support per class."""
    rows = [
        [_esc(name), _num(s["precision"]), _num(s["recall"]), _num(s["f1"]), str(s["support"])]
        for name, s in summary["per_class"].items()
    ]
    return _table(["class", "precision", "recall", "F1", "support"], rows)


def _group_table(title: str, groups: dict[str, dict[str, Any]]) -> str:
    """n, accuracy and macro-F1 per group value."""
    rows = [
        [_esc(key), str(g["n"]), _num(g["accuracy"]), _num(g["macro_f1"])]
        for key, g in groups.items()
    ]
    return _table([_esc(title), "n", "accuracy", "macro F1"], rows)


def _shorten(text: str, limit: int = 1500) -> str:
    """Text cut to `limit` characters with an ellipsis."""
    return text if len(text) <= limit else text[:limit].rstrip() + " …"


def _errors_table(result: EvaluationResult, k: int = 20) -> str:
    """The k most confident wrong predictions, with their (escaped) text."""
    errors = most_confident_errors(result.items, k)
    if not errors:
        return "<p>No errors.</p>"
    rows = [
        [
            str(item.index + 1),
            _esc(item.label),
            _esc(item.predicted),
            _num(item.confidence),
            _esc(item.source or "-"),
            _esc(_shorten(item.text)),
        ]
        for item in errors
    ]
    headers = ["row", "true", "predicted", "confidence", "source", "text"]
    return _table(headers, rows, css="errors", text_columns=(5,))


def _model_section(result: EvaluationResult) -> str:
    """All tables and charts for one model."""
    summary = result.summary
    parts = [
        f"<h2>{_esc(summary['model'])} <small>({_esc(summary['model_version'])})</small></h2>",
        "<h3>Metrics</h3>",
        _metric_table(summary),
        _per_class_table(summary),
        '<div class="charts">',
        confusion_matrix_png(summary),
        reliability_png(summary),
        "</div>",
    ]
    if summary.get("per_source"):
        parts += ["<h3>By source</h3>", _group_table("source", summary["per_source"])]
    parts += ["<h3>By length (words)</h3>", _group_table("words", summary["per_length"])]
    parts += ["<h3>Most confident errors</h3>", _errors_table(result)]
    return "\n".join(parts)


def _comparison_table(
    results: Sequence[EvaluationResult],
    comparisons: Sequence[dict[str, Any]],
    reference: EvaluationResult | None,
) -> str:
    """Side-by-side headline metrics of several models (plus an optional reference row)."""
    deltas = {row["model"]: row for row in comparisons}
    rows: list[list[str]] = []
    for result in [*results, *([reference] if reference else [])]:
        s = result.summary
        delta = deltas.get(s["model"]) if result is not reference else None
        if delta is None:
            change = "baseline" if result is results[0] else "-"
        else:
            change = f"{delta['delta_macro_f1']:+.3f} {_interval(delta['ci95'], 'delta_macro_f1')}"
        name = _esc(s["model"]) + (" (reference)" if result is reference else "")
        rows.append(
            [
                name,
                _esc(s["model_version"]),
                f"{_num(s['accuracy'])} {_interval(s.get('ci95'), 'accuracy')}",
                f"{_num(s['macro_f1'])} {_interval(s.get('ci95'), 'macro_f1')}",
                _num(s["macro_recall"]),
                _num(s["ece"]),
                change,
            ]
        )
    headers = [
        "model",
        "version",
        "accuracy [95% CI]",
        "macro F1 [95% CI]",
        "macro recall",
        "ECE",
        "Δ macro F1 vs baseline [95% CI]",
    ]
    row_classes = [""] * len(results) + (["reference"] if reference else [])
    table = _table(headers, rows, css="comparison", text_columns=(0, 1), row_classes=row_classes)
    note = (
        '<p class="note">Differences are paired: every model is scored on the same bootstrap '
        "resamples as the baseline (the first model given). An interval that excludes 0 means "
        "the difference is unlikely to be noise.</p>"
    )
    return table + note


def render_report(
    results: Sequence[EvaluationResult],
    *,
    dataset_name: str,
    dataset_sha256: str,
    comparisons: Sequence[dict[str, Any]] = (),
    reference: EvaluationResult | None = None,
) -> str:
    """The complete HTML document for one or more evaluated models on one dataset."""
    if not results:
        raise ValueError("nothing to report")
    first = results[0].summary
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>Sentiment evaluation report</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>Sentiment evaluation report</h1>",
        f'<p class="meta">Dataset <code>{_esc(dataset_name)}</code> '
        f"(sha256 <code>{_esc(dataset_sha256)}</code>), {first['n']} rows, "
        f"{_esc(first['mode'])} labels ({_esc(', '.join(first['labels']))}). "
        f"Generated {generated}.</p>",
    ]
    if first["mode"] == "binary":
        parts.append(
            '<p class="note">No neutral labels in the data, so it is scored as binary: the '
            "prediction is the larger of the negative and positive probabilities.</p>"
        )
    if len(results) > 1:
        parts += ["<h2>Comparison</h2>", _comparison_table(results, comparisons, reference)]
    parts += [_model_section(result) for result in results]
    parts.append("</body></html>")
    return "\n".join(parts)
