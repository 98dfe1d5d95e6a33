"""The `evaluate` command: score a labelled file with one or more backends, print/write results."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from evaluation.datasets import DatasetError, EvalDataset, load_dataset
from evaluation.report import render_report
from evaluation.runner import EvaluationResult, compare_models, run_evaluation
from models.backends import SentimentBackend, backend_names, load_backend

REFERENCE_MODEL = "vader"
DEFAULT_MODEL = "minilm"


class OutputFormat(StrEnum):
    """What the command produces."""

    json = "json"
    html = "html"
    both = "both"


def _fail(message: str) -> NoReturn:
    """Print an error for the analyst on stderr and exit with status 2."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=2)


def _detector() -> Callable[[str], str | None]:
    """Language detection for files without a language column (routes each row's model)."""
    from pipelines.language import shared_detector

    return shared_detector().detect


def _info(message: str) -> None:
    """A progress line on stderr."""
    typer.echo(message, err=True)


def parse_label_map(value: str | None) -> dict[str, str] | None:
    """A --label-map value: a JSON object, or the path of a file holding one."""
    if value is None or not value.strip():
        return None
    text = value
    candidate = Path(value)
    if not value.lstrip().startswith("{") and candidate.is_file():
        text = candidate.read_text(encoding="utf-8")
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as error:
        raise DatasetError(
            f"--label-map is not valid JSON ({error.msg}); "
            'expected e.g. \'{"bad": "negative", "ok": "neutral", "good": "positive"}\''
        ) from None
    if not isinstance(parsed, dict):
        raise DatasetError("--label-map must be a JSON object of label -> sentiment")
    return {str(key): str(target) for key, target in parsed.items()}


def parse_models(values: list[str] | None) -> list[str]:
    """Model names from repeated and/or comma-separated --model values, checked and deduped."""
    names: list[str] = []
    for value in values or [DEFAULT_MODEL]:
        for name in value.split(","):
            if name.strip() and name.strip() not in names:
                names.append(name.strip())
    known = backend_names()
    unknown = [name for name in names if name not in known]
    if unknown:
        raise DatasetError(
            f"unknown model {', '.join(repr(n) for n in unknown)}; known models: {', '.join(known)}"
        )
    if not names:
        raise DatasetError(f"no model given; known models: {', '.join(known)}")
    return names


ARTIFACT_BACKENDS = ("minilm", "minilm-raw")


def artifact_backend(name: str, artifact: Path) -> SentimentBackend:
    """The minilm backend (message-level, or raw whole-text) on another artifact folder."""
    from models.minilm import MessageLevelBackend, MiniLMBackend

    raw = MiniLMBackend(artifact)
    if name == "minilm-raw":
        return raw
    from models.message_sentiment import MessageSentimentScorer
    from models.sentences import SentenceSplitter

    return MessageLevelBackend(MessageSentimentScorer(raw, SentenceSplitter()))


def load_backends(names: list[str], artifact: Path | None = None) -> dict[str, SentimentBackend]:
    """Backends by name; a backend that fails to load becomes a DatasetError for the analyst.

    With `artifact`, the minilm backends use that model folder (checksums verified) instead
    of the default one.
    """
    if artifact is not None and not any(name in ARTIFACT_BACKENDS for name in names):
        raise DatasetError(f"--artifact applies to {' or '.join(ARTIFACT_BACKENDS)} models only")
    backends = {}
    for name in names:
        try:
            if artifact is not None and name in ARTIFACT_BACKENDS:
                backends[name] = artifact_backend(name, artifact)
                continue
            backends[name] = load_backend(name)
        except KeyError as error:
            raise DatasetError(str(error.args[0] if error.args else error)) from None
        except Exception as error:  # a broken or missing model artifact, whatever its type
            raise DatasetError(
                f"model {name!r} could not be loaded: {type(error).__name__}: {error}"
            ) from None
    return backends


def _evaluate(
    backend: SentimentBackend, dataset: EvalDataset, bootstrap: int, seed: int, progress: bool
) -> EvaluationResult:
    """Evaluate one loaded backend on the dataset, logging to stderr."""
    _info(f"evaluating {backend.name} ({backend.version}) on {len(dataset)} rows")
    return run_evaluation(backend, dataset, bootstrap=bootstrap, seed=seed, progress=progress)


def build_output(
    results: list[EvaluationResult],
    dataset: EvalDataset,
    comparisons: list[dict[str, Any]],
    reference: EvaluationResult | None,
) -> dict[str, Any]:
    """The JSON document: one model's summary, or all models keyed by name."""
    if len(results) == 1:
        return results[0].summary
    output: dict[str, Any] = {
        "n": len(dataset),
        "mode": dataset.mode,
        "labels": dataset.class_names,
        "dataset_sha256": dataset.sha256,
        "models": {result.summary["model"]: result.summary for result in results},
        "comparison": comparisons,
    }
    if reference is not None:
        output["reference"] = {REFERENCE_MODEL: reference.summary}
    return output


def evaluate_command(
    data: Annotated[Path, typer.Option("--data", help="Labelled file: .csv, .jsonl or .parquet")],
    text_col: Annotated[str, typer.Option("--text-col", help="Column with the text")] = "text",
    label_col: Annotated[
        str, typer.Option("--label-col", help="Column with the gold sentiment")
    ] = "label",
    source_col: Annotated[
        str | None,
        typer.Option(
            "--source-col", help="Column to break results down by [default: source, if present]"
        ),
    ] = None,
    label_map: Annotated[
        str | None,
        typer.Option(
            "--label-map", help='JSON object mapping your labels, e.g. \'{"bad":"negative"}\''
        ),
    ] = None,
    language_col: Annotated[
        str | None,
        typer.Option(
            "--language-col",
            help="Column with each row's language (ISO 639-1) [default: language, if present; "
            "else detected]",
        ),
    ] = None,
    language: Annotated[
        str | None,
        typer.Option("--language", help="Evaluate only the rows in this language, e.g. de"),
    ] = None,
    model: Annotated[
        list[str] | None,
        typer.Option(
            "--model",
            help="Backend to evaluate; repeat or comma-separate for several [default: minilm]",
        ),
    ] = None,
    output_format: Annotated[
        OutputFormat, typer.Option("--format", help="json to stdout, html report, or both")
    ] = OutputFormat.json,
    out: Annotated[Path, typer.Option("--out", help="Folder for report.html / report.json")] = Path(
        "evaluation-report"
    ),
    bootstrap: Annotated[
        int, typer.Option("--bootstrap", min=0, help="Bootstrap resamples for 95% CIs (0: none)")
    ] = 1000,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the bootstrap")] = 0,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="Use only the first N rows")
    ] = None,
    artifact: Annotated[
        Path | None,
        typer.Option(
            "--artifact", help="Evaluate this model artifact folder (e.g. from adapt) as minilm"
        ),
    ] = None,
) -> None:
    """Measure a sentiment model against your own labelled messages."""
    try:
        names = parse_models(model)
        dataset = load_dataset(
            data,
            text_col=text_col,
            label_col=label_col,
            source_col=source_col,
            label_map=parse_label_map(label_map),
            limit=limit,
            language_col=language_col,
            language=language,
            detect=_detector(),
        )
        classes = ", ".join(dataset.class_names)
        _info(f"loaded {len(dataset)} rows from {data} ({dataset.mode}: {classes})")
        with_reference = len(names) > 1 and REFERENCE_MODEL not in names
        backends = load_backends(
            [*names, REFERENCE_MODEL] if with_reference else names, artifact=artifact
        )
    except DatasetError as error:
        _fail(str(error))
    progress = sys.stderr.isatty()
    results = [_evaluate(backends[name], dataset, bootstrap, seed, progress) for name in names]
    reference = None
    if with_reference:
        reference = _evaluate(backends[REFERENCE_MODEL], dataset, bootstrap, seed, progress)
    comparisons = compare_models(results, bootstrap=bootstrap, seed=seed)
    output = build_output(results, dataset, comparisons, reference)
    document = json.dumps(output, indent=2, ensure_ascii=False)
    if output_format in (OutputFormat.html, OutputFormat.both):
        try:
            out.mkdir(parents=True, exist_ok=True)
            html = render_report(
                results,
                dataset_name=data.name,
                dataset_sha256=dataset.sha256,
                comparisons=comparisons,
                reference=reference,
            )
            (out / "report.html").write_text(html, encoding="utf-8")
            if output_format is OutputFormat.both:
                (out / "report.json").write_text(document + "\n", encoding="utf-8")
        except OSError as error:
            _fail(f"cannot write the report to {out}: {error.strerror or error}")
        _info(f"report written to {out / 'report.html'}")
    if output_format in (OutputFormat.json, OutputFormat.both):
        typer.echo(document)


app = typer.Typer(add_completion=False, help="Evaluate sentiment models on labelled data.")
app.command("evaluate")(evaluate_command)


if __name__ == "__main__":
    app()
