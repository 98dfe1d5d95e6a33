"""Train, select, calibrate, export and evaluate the sentiment classifier (CPU, reproducible)."""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from models.cache import cache_dir
from models.sentiment import data as D
from models.sentiment.artifact import finish_run
from models.sentiment.bases import base_model_dir
from models.sentiment.inference import encode_texts, load_tokenizer, pad_batch
from models.sentiment.metrics import fit_temperature, macro_f1_by_source
from models.sentiment.modeling import (
    SentimentClassifier,
    build_classifier,
    layerwise_param_groups,
)
from models.sentiment.predict import predict_logits
from models.sentiment.torch_weights import (
    WEIGHTS_FILE,
    base_state,
    compact_state,
    expand_state,
    load_compact,
)

State = dict[str, torch.Tensor]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options; defaults are the shipped recipe."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--data-dir", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True, help="artifact folder (or teacher folder)")
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--split-seed", type=int, default=13)
    p.add_argument("--base", choices=["minilm", "mpnet"], default="minilm")
    p.add_argument("--domains", default="airline,tweeteval")
    p.add_argument(
        "--oversample",
        default="",
        help="repeat a small training corpus, e.g. b2b=3 (comma-separated name=times)",
    )
    p.add_argument(
        "--init-artifact",
        type=Path,
        help="start from a shipped artifact's weights instead of the bare encoder",
    )
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-4, help="head / top-layer learning rate")
    p.add_argument("--layer-decay", type=float, default=0.85)
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--warmup", type=float, default=0.1, help="fraction of steps")
    p.add_argument("--label-smoothing", type=float, default=0.1)
    p.add_argument("--rdrop", type=float, default=0.0, help="R-Drop KL weight (0 = off)")
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--evals-per-epoch", type=int, default=2)
    p.add_argument("--average-last", type=int, default=3, help="also try averaging last k evals")
    p.add_argument("--teacher-logits", type=Path, nargs="*", default=[])
    p.add_argument("--kd-alpha", type=float, default=0.5)
    p.add_argument("--kd-temperature", type=float, default=2.0)
    p.add_argument("--teacher", action="store_true", help="train a teacher: write soft labels")
    p.add_argument("--no-export", action="store_true", help="metrics only (cross-domain runs)")
    p.add_argument("--from-run", type=Path, help="skip training: re-export a saved scratch run")
    p.add_argument("--limit", type=int, default=0, help="subsample training rows (smoke tests)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument(
        "--scratch",
        type=Path,
        default=cache_dir() / "sentiment",
        help="working folder (default: SENTIMENT_SERVICE_CACHE_DIR or the user cache dir)",
    )
    return p.parse_args(argv)


def teacher_targets(paths: list[Path], texts: list[str], temperature: float) -> torch.Tensor:
    """Average the teachers' softened probabilities for each training text."""
    total = np.zeros((len(texts), 3), dtype=np.float64)
    for path in paths:
        saved = np.load(path, allow_pickle=False)
        lookup = {t: i for i, t in enumerate(saved["texts"].tolist())}
        missing = [t for t in texts if t not in lookup]
        if missing:
            raise ValueError(f"{path}: {len(missing)} texts lack teacher logits: {missing[0]!r}")
        logits = saved["logits"][[lookup[t] for t in texts]] / temperature
        probs = np.exp(logits - logits.max(axis=1, keepdims=True))
        total += probs / probs.sum(axis=1, keepdims=True)
    return torch.from_numpy(total / len(paths)).float()


def _jsonable(value: object) -> object:
    """Paths (and lists of them) as strings for the run record."""
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return str(value) if isinstance(value, Path) else value


def average_states(states: list[State]) -> State:
    """Uniform average of parameter snapshots (checkpoint averaging)."""
    zero = torch.zeros(())
    return {k: sum((s[k].float() for s in states), zero) / len(states) for k in states[0]}


def train(args: argparse.Namespace, model: SentimentClassifier, splits: D.Splits, tok) -> dict:
    """Fine-tune; evaluate on validation; return the selected state and the selection trace."""
    train_ids = encode_texts(tok, splits.train.texts)
    val_ids = encode_texts(tok, splits.val.texts)
    labels = torch.from_numpy(splits.train.labels)
    soft = (
        teacher_targets(args.teacher_logits, splits.train.texts, args.kd_temperature)
        if args.teacher_logits
        else None
    )
    rng = np.random.default_rng(args.seed)
    steps_per_epoch = math.ceil(len(train_ids) / args.batch_size)
    total = steps_per_epoch * args.epochs
    eval_every = max(1, steps_per_epoch // args.evals_per_epoch)
    groups = layerwise_param_groups(model, args.lr, args.layer_decay, args.weight_decay)
    opt = torch.optim.AdamW(groups, eps=1e-6)
    warm = max(1, int(args.warmup * total))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm)))
    )
    snapshots: list[tuple[float, State]] = []
    trace: list[dict] = []
    step = 0
    bar = tqdm(total=total, desc="train", mininterval=10, file=sys.stdout)
    for epoch in range(args.epochs):
        for batch in D.bucketed_batches([len(x) for x in train_ids], args.batch_size, rng):
            model.train()
            ids_np, mask_np = pad_batch([train_ids[i] for i in batch])
            input_ids, mask = torch.from_numpy(ids_np), torch.from_numpy(mask_np)
            logits = model(input_ids, mask)
            loss = F.cross_entropy(logits, labels[batch], label_smoothing=args.label_smoothing)
            if args.rdrop > 0:
                logits2 = model(input_ids, mask)
                loss = 0.5 * (
                    loss
                    + F.cross_entropy(logits2, labels[batch], label_smoothing=args.label_smoothing)
                )
                lp1, lp2 = F.log_softmax(logits, -1), F.log_softmax(logits2, -1)
                kl = F.kl_div(lp1, lp2, log_target=True, reduction="batchmean")
                kl = kl + F.kl_div(lp2, lp1, log_target=True, reduction="batchmean")
                loss = loss + args.rdrop * 0.5 * kl
            if soft is not None:
                t = args.kd_temperature
                kd = F.kl_div(F.log_softmax(logits / t, -1), soft[batch], reduction="batchmean")
                loss = (1 - args.kd_alpha) * loss + args.kd_alpha * kd * t * t
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            step += 1
            bar.update(1)
            bar.set_postfix(epoch=epoch, loss=f"{loss.item():.3f}", refresh=False)
            if step % eval_every == 0 or step == total:
                scores = macro_f1_by_source(predict_logits(model, val_ids), splits.val)
                trace.append({"step": step, "epoch": round(step / steps_per_epoch, 2), **scores})
                print(f"\n[eval] {trace[-1]}", flush=True)
                state = {k: v.detach().clone() for k, v in model.state_dict().items()}
                snapshots.append((scores["selection"], state))
    bar.close()
    best_score, best_state = max(snapshots, key=lambda s: s[0])
    choice = {"kind": "best_single", "val_selection": best_score}
    if args.average_last > 1 and len(snapshots) >= args.average_last:
        avg = average_states([s for _, s in snapshots[-args.average_last :]])
        model.load_state_dict(avg)
        avg_score = macro_f1_by_source(predict_logits(model, val_ids), splits.val)["selection"]
        print(
            f"[select] best single {best_score:.4f} vs average of last "
            f"{args.average_last} {avg_score:.4f}",
            flush=True,
        )
        if avg_score > best_score:
            best_state = avg
            choice = {"kind": f"average_last_{args.average_last}", "val_selection": avg_score}
    model.load_state_dict(best_state)
    return {"trace": trace, "choice": choice}


def main(argv: list[str] | None = None) -> None:
    """Entry point: see `--help`; writes an artifact folder (or teacher soft labels)."""
    args = parse_args(argv)
    started = time.time()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    domains = [d.strip() for d in args.domains.split(",") if d.strip()]
    oversample = {
        name.strip(): int(times)
        for name, times in (part.split("=") for part in args.oversample.split(",") if part)
    }
    splits = D.load_splits(args.data_dir, domains, args.split_seed, oversample)
    if args.limit:
        keep = np.random.default_rng(args.seed).permutation(len(splits.train))[: args.limit]
        splits = D.Splits(splits.train.subset(sorted(keep.tolist())), splits.val, splits.test)
    print(
        f"train {len(splits.train)}  val {len(splits.val)}  "
        f"test {{{', '.join(f'{k}: {len(v)}' for k, v in splits.test.items())}}}",
        flush=True,
    )
    base_dir, base_info = base_model_dir(args.base)
    tok = load_tokenizer(base_dir / "tokenizer.json", args.max_length)
    model = build_classifier(base_dir)
    if args.init_artifact:
        compact = load_compact(args.init_artifact / WEIGHTS_FILE)
        model.load_state_dict(expand_state(compact, base_state(base_dir)))
    if args.from_run:
        model.load_state_dict(torch.load(args.from_run / "model.pt", weights_only=True))
        saved = json.loads((args.from_run / "run.json").read_text(encoding="utf-8"))
        outcome = {"trace": saved["trace"], "choice": saved["choice"]}
        started -= saved["train_seconds"]
        argv = shlex.split(saved["command"])[3:]
    else:
        outcome = train(args, model, splits, tok)
    if args.base == "minilm" and not args.teacher:
        # Ship exactly what torch users can rebuild: fp16 tensors + changed embedding rows.
        base = base_state(base_dir)
        model.load_state_dict(expand_state(compact_state(model.state_dict(), base), base))
    val_logits = predict_logits(model, encode_texts(tok, splits.val.texts))
    temperature = fit_temperature(val_logits, splits.val.labels)
    test_logits = {
        k: predict_logits(model, encode_texts(tok, v.texts)) for k, v in splits.test.items()
    }
    run = {
        "args": {k: _jsonable(v) for k, v in vars(args).items()},
        "command": "python -m models.sentiment.train "
        + shlex.join(sys.argv[1:] if argv is None else argv),
        "base": base_info,
        "base_dir": str(base_dir),
        "temperature": temperature,
        "train_seconds": time.time() - started,
        "sizes": {
            "train": len(splits.train),
            "val": len(splits.val),
            **{k: len(v) for k, v in splits.test.items()},
        },
        **outcome,
    }
    finish_run(args, run, model, tok, splits, val_logits, test_logits)


if __name__ == "__main__":
    main()
