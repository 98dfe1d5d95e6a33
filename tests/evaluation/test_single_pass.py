"""The single-pass study builds a message's input stretch by stretch: the ids must equal the
whole text's, each sentence's span must hold exactly that sentence's word pieces, and the
figures it reports are computed on the messages of more than one sentence."""

from __future__ import annotations

import pytest

from evaluation.single_pass import SinglePassStudy
from models.sentiment.preprocess import normalize_text
from models.text_cleaning import clean_message


@pytest.fixture(scope="module")
def study() -> SinglePassStudy:
    return SinglePassStudy()


def test_spans_rebuild_the_whole_text_and_cover_each_sentence(study: SinglePassStudy) -> None:
    text = clean_message(
        "Thanks for the quick fix! However, the export to @finance still fails, see https://x.io/a."
    ).text
    sentences = study.splitter.split([text])[0]
    assert len(sentences) >= 2
    ids, spans = study.spans(text, sentences)
    assert ids == study.tokenizer.encode(normalize_text(text)).ids
    for sentence, span in zip(sentences, spans, strict=True):
        assert [ids[i] for i in span] == study.pieces(sentence.text)


def test_figures_count_only_messages_of_several_sentences(study: SinglePassStudy) -> None:
    texts = [
        "The dashboard is great. But billing charged us twice and nobody answered.",
        "Please update our billing contact. Thanks a lot.",
        "We renewed for three years. The team loves the new reports.",
        "One sentence only.",
    ]
    result = study.measure(texts, ["negative", "neutral", "positive", "neutral"])
    assert result["messages"] == 4 and result["multi_sentence_in_window"] == 3
    assert result["sentences"] >= 6 and result["ids_identical_to_whole_text"] == 1.0
    pooling = result["span_pooling"]
    assert 0.0 <= pooling["sentence_label_agreement"] <= 1.0
    assert 0.5 < pooling["topic_cosine_alone"] <= 1.0
    assert -1.0 <= pooling["topic_cosine_span"] <= 1.0
    assert set(result["message_macro_f1"]) == {"whole_text", "sentences_only"}
