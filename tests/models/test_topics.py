"""Topic taxonomy and assignment on hand-written messages, with the real encoder."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from models.message_sentiment import MessageSentimentScorer
from models.minilm import MessageLevelBackend
from models.topics.assign import TopicAssigner
from models.topics.encoder import SentenceEncoder, load_sentence_encoder
from models.topics.heads import TopicExample, fit_topic_heads
from models.topics.taxonomy import Taxonomy, load_taxonomy, parse_taxonomy


@pytest.fixture(scope="module")
def encoder() -> SentenceEncoder:
    return load_sentence_encoder()


@pytest.fixture(scope="module")
def scorer() -> MessageSentimentScorer:
    return MessageLevelBackend().scorer


@pytest.fixture(scope="module")
def assigner(encoder: SentenceEncoder) -> TopicAssigner:
    return TopicAssigner(encoder, load_taxonomy())


def topics_of(assigner: TopicAssigner, scorer: MessageSentimentScorer, text: str, **attrs):
    [result] = assigner.assign(scorer.score([text]), [attrs or None])
    return {finding.topic: finding for finding in result.topics}


def test_default_taxonomy_has_the_documented_topics() -> None:
    taxonomy = load_taxonomy()
    keys = {topic.key for topic in taxonomy.topics}
    assert {"billing", "outage", "performance", "competitor", "praise", "security"} <= keys
    assert len(keys) == 15
    assert taxonomy.keys_for({"industry": "fintech"}) == keys | {"regulatory"}
    assert taxonomy.keys_for({"industry": "retail"}) == keys
    assert taxonomy.keys_for(None) == keys


def test_taxonomy_validation_names_the_problem() -> None:
    topic = {"key": "billing", "name": "Billing", "description": "Invoices."}
    with pytest.raises(ValidationError, match="duplicate keys"):
        parse_taxonomy({"topics": [topic, topic]})
    with pytest.raises(ValidationError, match=r"topics\.0\.key"):
        parse_taxonomy({"topics": [{**topic, "key": "Not A Slug"}]})
    with pytest.raises(ValidationError, match="threshold"):
        parse_taxonomy({"topics": [{**topic, "threshold": 1.5}]})


def test_taxonomy_digest_ignores_formatting_but_not_content() -> None:
    topic = {"key": "billing", "name": "Billing", "description": "Invoices."}
    one = Taxonomy.model_validate({"topics": [topic]})
    same = Taxonomy.model_validate({"topics": [dict(reversed(list(topic.items())))]})
    other = Taxonomy.model_validate({"topics": [{**topic, "description": "Prices."}]})
    assert one.sha256() == same.sha256() != other.sha256()


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("We were charged twice on the last invoice, please refund one of them.", "billing"),
        ("Your platform has been down all morning and nobody can log in.", "outage"),
        ("Pages take almost a minute to load since the update.", "performance"),
        ("Any plans to support custom fields on contacts?", "feature_request"),
        ("The Salesforce sync has not pushed any contacts since Friday.", "integrations"),
        ("Our auditors need your SOC 2 report before we sign.", "security"),
    ],
)
def test_clear_messages_get_their_topic(assigner, scorer, text: str, topic: str) -> None:
    found = topics_of(assigner, scorer, text)
    assert topic in found, found
    assert 0.5 <= found[topic].confidence <= 1.0
    assert found[topic].evidence


def test_small_talk_gets_no_topic(assigner, scorer) -> None:
    assert topics_of(assigner, scorer, "ok") == {}


def test_aspect_sentiment_differs_per_topic(assigner, scorer) -> None:
    found = topics_of(
        assigner, scorer, "The reporting dashboards are fantastic, but billing is a total mess."
    )
    assert found["billing"].label == "negative" and found["billing"].score < -0.3
    assert "billing" in found["billing"].evidence
    positive = [f for key, f in found.items() if key != "billing"]
    assert positive and all(f.label == "positive" for f in positive), found


def test_segment_topics_only_for_matching_accounts(assigner, scorer) -> None:
    text = "We need a signed business associate agreement before using it with patient data."
    assert "regulatory" in topics_of(assigner, scorer, text, industry="healthcare")
    assert "regulatory" not in topics_of(assigner, scorer, text, industry="retail")


def test_version_changes_with_the_taxonomy(encoder: SentenceEncoder) -> None:
    base = load_taxonomy()
    edited = base.model_copy(update={"default_threshold": 0.5})
    assert TopicAssigner(encoder, base).version != TopicAssigner(encoder, edited).version
    assert TopicAssigner(encoder, base).version == TopicAssigner(encoder, base).version


def test_corrections_train_a_head_that_takes_over(encoder: SentenceEncoder, scorer) -> None:
    taxonomy = load_taxonomy()
    plain = TopicAssigner(encoder, taxonomy)
    # The team decides that questions about user seats belong to account management.
    examples = [
        TopicExample(text, "account_management", True)
        for text in (
            "How many user licences do we have left?",
            "Can you add five more seats for the new hires?",
            "We need to move seats from marketing to sales.",
            "Please remove the seats of people who left.",
            "Who can approve extra licences for our team?",
        )
    ] + [
        TopicExample(text, "account_management", False)
        for text in (
            "The export button crashes the page.",
            "Our invoice shows the wrong VAT number.",
            "The API returns a timeout on large requests.",
            "Loving the new dashboards!",
        )
    ]
    embeddings = encoder.encode([e.text for e in examples])
    phrases = {t.key: encoder.encode(t.phrases()) for t in taxonomy.all_topics()}
    heads = fit_topic_heads(examples, embeddings, phrases)
    assert heads.keys == ["account_management"]
    tuned = TopicAssigner(encoder, taxonomy, heads=heads)
    assert tuned.version != plain.version
    text = "Could we get three additional licences for the support team?"
    assert "account_management" in topics_of(tuned, scorer, text)
    assert "account_management" not in topics_of(tuned, scorer, "The dashboard will not load.")
