"""Could the message path score a message once instead of whole and per sentence? (issue 19)

    python -m evaluation.single_pass --data-dir ../shared/data

A message of several sentences is scored twice today: whole (its label) and per sentence (the
sentences' labels, evidence and topic embeddings). This study measures, on validation data
only, the two ways to drop one of the runs:

- **span pooling**: run the whole message once and mean-pool each sentence's tokens (with the
  message's [CLS] and [SEP]) out of every layer, then apply the classifier head and the topic
  projection to the pooled spans. Reported: how often a sentence's label agrees with scoring
  the sentence alone, the mean absolute probability difference, and the cosine of the
  projected topic embedding to the topic encoder's embedding of the sentence, for spans and
  for sentences scored alone;
- **sentences only**: take the message label from the sentences' weighted mean (the rule for
  long messages) instead of the whole-text run. Reported: macro-F1 of both on the messages.

Only messages of more than one sentence that fit the model's window are used. Prints one JSON
object per data set.
"""

from __future__ import annotations

import argparse
import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import load_file
from sklearn.metrics import f1_score

from models.backends import LABELS
from models.message_sentiment import aggregate_sentences
from models.sentences import Sentence, SentenceSplitter
from models.sentiment import b2b_data
from models.sentiment.inference import pad_batch
from models.sentiment.preprocess import normalize_text
from models.text_cleaning import clean_message
from models.topics.encoder import load_sentence_encoder
from models.topics.shared import (
    HIDDEN,
    POOLED_OUTPUTS,
    SharedSentimentPass,
    mean_pool,
    run_pooled,
)

TWEETEVAL_ROWS = 1500


def labelled_sets(data_dir: Path) -> dict[str, tuple[list[str], list[str]]]:
    """Validation data: the B2B validation split and the first rows of TweetEval validation."""
    b2b = b2b_data.rows_of("validation")
    with (data_dir / "tweeteval-sentiment" / "val.csv").open(encoding="utf-8") as handle:
        tweets = list(csv.DictReader(handle))[:TWEETEVAL_ROWS]
    return {
        "b2b_validation": ([r.text for r in b2b], [r.label for r in b2b]),
        "tweeteval_validation": ([r["text"] for r in tweets], [r["label"] for r in tweets]),
    }


class SinglePassStudy:
    """The shared pass's graph, the classifier head and the topic projection, side by side."""

    def __init__(self) -> None:
        self.shared = SharedSentimentPass(cache_size=0)
        self.tokenizer = self.shared._tokenizer
        weights = load_file(str(self.shared.model.artifact_dir / "classifier.fp16.safetensors"))
        self.head_w = weights["head.weight"].astype(np.float32)
        self.head_b = weights["head.bias"].astype(np.float32)
        self.splitter = SentenceSplitter()
        self.topic_encoder = load_sentence_encoder(cache_size=0)

    def pieces(self, text: str) -> list[int]:
        """Word-piece ids of a stretch of text, without special tokens."""
        return list(self.tokenizer.encode(normalize_text(text), add_special_tokens=False).ids)

    def spans(self, text: str, sentences: Sequence[Sentence]) -> tuple[list[int], list[range]]:
        """The message's input ids built stretch by stretch, and each sentence's positions."""
        cls_id, sep_id = self.special_id("[CLS]"), self.special_id("[SEP]")
        ids = [cls_id]
        spans: list[range] = []
        cursor = 0
        for sentence in sentences:
            ids += self.pieces(text[cursor : sentence.start])
            own = self.pieces(text[sentence.start : sentence.end])
            spans.append(range(len(ids), len(ids) + len(own)))
            ids += own
            cursor = sentence.end
        return [*ids, *self.pieces(text[cursor:]), sep_id], spans

    def special_id(self, token: str) -> int:
        """The id of a special token of the sentiment tokenizer."""
        found = self.tokenizer.token_to_id(token)
        if found is None:
            raise ValueError(f"the sentiment tokenizer has no {token} token")
        return int(found)

    def measure(self, texts: list[str], labels: list[str]) -> dict[str, Any]:
        """The span-pooling and sentences-only figures for one labelled set."""
        cleaned = [clean_message(t).text for t in texts]
        split = self.splitter.split(cleaned)
        chosen: list[int] = []
        span_logits: list[np.ndarray] = []
        span_features: list[np.ndarray] = []
        sentences: list[str] = []
        same_ids = 0
        for index, (text, parts) in enumerate(zip(cleaned, split, strict=True)):
            if len(parts) < 2:
                continue
            ids, spans = self.spans(text, parts)
            if len(ids) > self.shared.max_length:
                continue
            chosen.append(index)
            same_ids += ids == self.shared.token_ids([text])[0]
            input_ids, mask = pad_batch([ids])
            outputs = self.shared._session.run(
                list(POOLED_OUTPUTS), {"input_ids": input_ids, "attention_mask": mask}
            )
            for span in spans:
                keep = np.zeros_like(mask)
                keep[0, [0, len(ids) - 1, *span]] = 1
                pooled = np.hstack([mean_pool(hidden, keep) for hidden in outputs])[0]
                span_features.append(pooled)
                span_logits.append(pooled[-HIDDEN:] @ self.head_w.T + self.head_b)
            sentences.extend(part.text for part in parts)
        alone_logits, alone_features = run_pooled(
            self.shared._session, self.shared.token_ids(sentences), 32
        )
        alone = self.shared.calibrated(alone_logits)
        pooled = self.shared.calibrated(np.array(span_logits))
        target = self.topic_encoder.encode(sentences)
        projection = self.shared._projection
        whole = self.shared.predict_proba([cleaned[i] for i in chosen])
        aggregated, at = [], 0
        for index in chosen:
            n = len(split[index])
            lengths = [len(part.text) for part in split[index]]
            aggregated.append(aggregate_sentences(alone[at : at + n], lengths))
            at += n
        gold = [labels[i] for i in chosen]

        def macro_f1(p: np.ndarray) -> float:
            predicted = [LABELS[int(j)] for j in np.asarray(p).argmax(axis=1)]
            return round(float(f1_score(gold, predicted, average="macro")), 4)

        def cosine(features: np.ndarray) -> float:
            return round(float((projection.apply(features) * target).sum(axis=1).mean()), 4)

        return {
            "messages": len(texts),
            "multi_sentence_in_window": len(chosen),
            "sentences": len(sentences),
            "ids_identical_to_whole_text": round(same_ids / max(len(chosen), 1), 4),
            "span_pooling": {
                "sentence_label_agreement": round(
                    float((alone.argmax(axis=1) == pooled.argmax(axis=1)).mean()), 4
                ),
                "mean_abs_probability_difference": round(float(np.abs(alone - pooled).mean()), 4),
                "topic_cosine_alone": cosine(alone_features),
                "topic_cosine_span": cosine(np.array(span_features)),
            },
            "message_macro_f1": {
                "whole_text": macro_f1(whole),
                "sentences_only": macro_f1(np.array(aggregated)),
            },
        }


def main(argv: list[str] | None = None) -> None:
    """Print the study's figures for each validation set."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    args = parser.parse_args(argv)
    study = SinglePassStudy()
    for name, (texts, labels) in labelled_sets(args.data_dir).items():
        print(json.dumps({"set": name, **study.measure(texts, labels)}), flush=True)


if __name__ == "__main__":
    main()
