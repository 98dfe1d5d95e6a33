"""The adaptation's training loop: fine-tuning with replay and distillation, evaluation after
every epoch, then interpolation back toward the base weights (WiSE-FT); the best state by
selection score is kept."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from models.sentiment import adapt_recipe as R
from models.sentiment import data as D
from models.sentiment.adapt_metrics import base_macro_f1, forgetting, new_macro_f1, selection_score
from models.sentiment.adapt_recipe import AdaptRequest

if TYPE_CHECKING:
    import torch
    from tokenizers import Tokenizer

    from models.sentiment.modeling import SentimentClassifier

State = dict[str, "torch.Tensor"]


def _interpolate(base: State, tuned: State, alpha: float) -> State:
    return {
        k: (base[k] + alpha * (tuned[k] - base[k])) if tuned[k].is_floating_point() else tuned[k]
        for k in tuned
    }


def train_and_select(
    request: AdaptRequest,
    model: SentimentClassifier,
    tok: Tokenizer,
    train: D.LabelledTexts,
    replay: D.LabelledTexts | None,
    heldout: D.LabelledTexts,
    base_val: D.LabelledTexts | None,
    before: tuple[float, dict[str, float]],
    progress: bool,
    log: Callable[[str], None],
) -> dict[str, Any]:
    """Fine-tune; return the selected state, epochs, interpolation and the selection trace."""
    import torch
    import torch.nn.functional as F
    from tqdm import tqdm

    from models.sentiment.inference import encode_texts, pad_batch
    from models.sentiment.modeling import layerwise_param_groups
    from models.sentiment.predict import predict_logits
    from models.sentiment.torch_weights import WORD_EMBEDDINGS

    mixed = D.concat([train, replay]) if replay is not None else train
    is_replay = torch.zeros(len(mixed), dtype=torch.bool)
    is_replay[len(train) :] = True
    ids = encode_texts(tok, mixed.texts)
    labels = torch.from_numpy(mixed.labels)
    teacher = torch.zeros(len(mixed), len(D.LABELS))
    if replay is not None:
        teacher[len(train) :] = torch.from_numpy(predict_logits(model, ids[len(train) :]))
    held_ids = encode_texts(tok, heldout.texts)
    val_ids = encode_texts(tok, base_val.texts) if base_val is not None else []
    base_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    embeddings = dict(model.named_parameters())[WORD_EMBEDDINGS]
    embeddings.requires_grad_(False)
    epochs = request.epochs or request.max_epochs
    rng = np.random.default_rng(request.seed)
    steps_per_epoch = math.ceil(len(mixed) / R.BATCH_SIZE)
    total = steps_per_epoch * epochs
    warm = max(1, int(0.1 * total))
    groups = layerwise_param_groups(model, request.learning_rate, R.LAYER_DECAY, 0.01)
    groups = [{**g, "params": [p for p in g["params"] if p.requires_grad]} for g in groups]
    opt = torch.optim.AdamW([g for g in groups if g["params"]], eps=1e-6)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm)))
    )

    def evaluate(state_label: str, epoch: float, alpha: float) -> dict[str, Any]:
        new_f1 = new_macro_f1(predict_logits(model, held_ids), heldout)
        base_f1 = base_macro_f1(predict_logits(model, val_ids), base_val) if val_ids else {}
        entry = {
            "epoch": epoch,
            "interpolation": alpha,
            "heldout_new_f1": round(new_f1, 4),
            "base_val_f1": {k: round(v, 4) for k, v in base_f1.items()},
            "forgetting": round(forgetting(before[1], base_f1), 4),
            "selection": round(selection_score(new_f1, base_f1, before[1]), 4),
        }
        log(f"[adapt] {state_label}: {entry}")
        return entry

    snapshots: list[tuple[dict[str, Any], State]] = []
    t = R.KD_TEMPERATURE
    bar = tqdm(total=total, desc="adapt", unit="step", disable=not progress, file=sys.stderr)
    for epoch in range(1, epochs + 1):
        model.train()
        for batch in D.bucketed_batches([len(x) for x in ids], R.BATCH_SIZE, rng):
            ids_np, mask_np = pad_batch([ids[i] for i in batch])
            logits = model(torch.from_numpy(ids_np), torch.from_numpy(mask_np))
            ce = F.cross_entropy(
                logits, labels[batch], label_smoothing=R.LABEL_SMOOTHING, reduction="none"
            )
            rep = is_replay[batch]
            kd = F.kl_div(
                F.log_softmax(logits / t, -1),
                F.softmax(teacher[batch] / t, -1),
                reduction="none",
            ).sum(-1) * (t * t)
            per_row = torch.where(rep, (1 - R.KD_WEIGHT) * ce + R.KD_WEIGHT * kd, ce)
            loss = per_row.mean()
            opt.zero_grad(set_to_none=True)
            torch.autograd.backward(loss)
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            bar.update(1)
            bar.set_postfix(epoch=epoch, loss=f"{loss.item():.3f}", refresh=False)
        if request.epochs is None or epoch == epochs:
            entry = evaluate(f"epoch {epoch}", epoch, 1.0)
            snapshots.append(
                (entry, {k: v.detach().clone() for k, v in model.state_dict().items()})
            )
    bar.close()
    if request.epochs is None:
        best_entry, best_state = max(snapshots, key=lambda s: s[0]["selection"])
    else:
        best_entry, best_state = snapshots[-1]
    trace = [entry for entry, _ in snapshots]
    chosen = (best_entry, best_state)
    for alpha in R.WISE_ALPHAS:
        state = _interpolate(base_state, best_state, alpha)
        model.load_state_dict(state)
        entry = evaluate(f"epoch {best_entry['epoch']} x{alpha}", best_entry["epoch"], alpha)
        trace.append(entry)
        if entry["selection"] > chosen[0]["selection"]:
            chosen = (entry, state)
    model.load_state_dict(chosen[1])
    return {"trace": trace, "choice": chosen[0]}
