"""The topic taxonomy: topics with descriptions and example phrasings, as editable config.

A taxonomy is a YAML/JSON document (see default_taxonomy.yaml). Base topics apply to every
account; `segments` add topics for accounts whose attributes match (e.g. `industry: fintech`).
Teams change it through the API, which stores every change as a new immutable version.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

DEFAULT_TAXONOMY_PATH = Path(__file__).with_name("default_taxonomy.yaml")
KEY_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"


class TopicDefinition(BaseModel):
    """One topic: what it means in words and in examples."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str = Field(pattern=KEY_PATTERN)
    name: str = Field(min_length=1, max_length=128)
    description: str = Field(min_length=1, max_length=1000)
    examples: tuple[str, ...] = Field(default=(), max_length=200)
    threshold: float | None = Field(default=None, gt=0.0, lt=1.0)

    @field_validator("examples")
    @classmethod
    def _examples_not_blank(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(not example.strip() for example in value):
            raise ValueError("examples must not be blank")
        return value

    def phrases(self) -> list[str]:
        """The texts that define the topic: its description, then its examples."""
        return [self.description, *self.examples]


class SegmentTopics(BaseModel):
    """Topics added for accounts whose attributes equal every value in `match`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    match: dict[str, str] = Field(min_length=1)
    topics: tuple[TopicDefinition, ...] = Field(min_length=1)

    def applies_to(self, attributes: Mapping[str, Any]) -> bool:
        """Whether an account with these attributes is in the segment."""
        return all(
            str(attributes.get(name, "")).lower() == value.lower()
            for name, value in self.match.items()
        )


class Taxonomy(BaseModel):
    """A versionable set of topics."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str = Field(default="default", pattern=KEY_PATTERN)
    name: str = Field(default="Topics", min_length=1, max_length=128)
    default_threshold: float = Field(default=0.42, gt=0.0, lt=1.0)
    topics: tuple[TopicDefinition, ...] = Field(min_length=1)
    segments: tuple[SegmentTopics, ...] = ()

    @model_validator(mode="after")
    def _unique_keys(self) -> Taxonomy:
        keys = [topic.key for topic in self.topics]
        duplicates = sorted({key for key in keys if keys.count(key) > 1})
        if duplicates:
            raise ValueError(f"topics: duplicate keys {duplicates}")
        for index, segment in enumerate(self.segments):
            clash = sorted({t.key for t in segment.topics} & set(keys))
            if clash:
                raise ValueError(f"segments[{index}]: keys {clash} are already base topics")
        return self

    def all_topics(self) -> list[TopicDefinition]:
        """Base topics then every segment topic (a key shared by segments appears once)."""
        seen: dict[str, TopicDefinition] = {topic.key: topic for topic in self.topics}
        for segment in self.segments:
            for topic in segment.topics:
                seen.setdefault(topic.key, topic)
        return list(seen.values())

    def keys_for(self, attributes: Mapping[str, Any] | None) -> set[str]:
        """Topic keys that apply to an account (base topics when attributes are unknown)."""
        keys = {topic.key for topic in self.topics}
        for segment in self.segments:
            if attributes is not None and segment.applies_to(attributes):
                keys.update(topic.key for topic in segment.topics)
        return keys

    def threshold(self, topic: TopicDefinition) -> float:
        """The topic's calibrated threshold, or the taxonomy default."""
        return topic.threshold if topic.threshold is not None else self.default_threshold

    def sha256(self) -> str:
        """A digest of the content (stable across key order and formatting)."""
        body = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(body.encode()).hexdigest()


def parse_taxonomy(document: Mapping[str, Any]) -> Taxonomy:
    """A taxonomy from a parsed YAML/JSON document (pydantic errors name the field)."""
    return Taxonomy.model_validate(document)


def load_taxonomy(path: Path | None = None) -> Taxonomy:
    """A taxonomy from a YAML or JSON file (default: the shipped B2B taxonomy)."""
    source = path or DEFAULT_TAXONOMY_PATH
    document = yaml.safe_load(source.read_text(encoding="utf-8"))
    if not isinstance(document, Mapping):
        raise ValueError(f"{source}: a taxonomy must be a mapping with a 'topics' list")
    return parse_taxonomy(document)
