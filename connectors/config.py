"""The declarative connector configuration (YAML or JSON), with `${VAR}` secret references."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from connectors.errors import ConfigError

REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
Name = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ZendeskCredentials(_Strict):
    """Agent email and API token."""

    email: str
    api_token: SecretStr


class TokenCredentials(_Strict):
    """A bearer / access token."""

    token: SecretStr


class ApiKeyCredentials(_Strict):
    """An API key."""

    api_key: SecretStr


class Columns(_Strict):
    """The column mapping of a file import."""

    text: str = "comment"
    created_at: str = "date"
    id: str | None = None
    score: str | None = None
    email: str | None = None
    account_id: str | None = None
    vendor_account: str | None = None
    metadata: list[str] = Field(default_factory=list)


class _Connector(_Strict):
    name: Name
    interval_seconds: int = Field(900, ge=1)
    base_url: str | None = None
    domains: dict[str, str] = Field(default_factory=dict, description="email domain -> account")
    auto_create_accounts: bool | None = None
    max_requests: int | None = Field(None, ge=1)
    read_timeout: float = Field(30.0, gt=0)
    max_attempts: int = Field(8, ge=1)


class ZendeskConfig(_Connector):
    """Zendesk tickets and comments."""

    type: Literal["zendesk"]
    subdomain: str | None = None
    credentials: ZendeskCredentials
    start_time: int = Field(0, ge=0)
    per_page: int = Field(1000, ge=1, le=1000)
    chunk_tickets: int = Field(50, ge=1)
    workers: int = Field(4, ge=1, le=32, description="comment requests in flight at once")

    @model_validator(mode="after")
    def _where(self) -> ZendeskConfig:
        if not self.base_url and not self.subdomain:
            raise ValueError("give either subdomain or base_url")
        return self


class FreshdeskConfig(_Connector):
    """Freshdesk tickets and conversations."""

    type: Literal["freshdesk"]
    domain: str | None = Field(None, description="acme or acme.freshdesk.com")
    credentials: ApiKeyCredentials
    start_time: datetime | None = Field(None, description="first sync: tickets updated since")
    per_page: int = Field(100, ge=1, le=100)
    chunk_tickets: int = Field(50, ge=1)
    track_deleted: bool = True
    workers: int = Field(4, ge=1, le=16, description="conversation requests in flight at once")

    @model_validator(mode="after")
    def _where(self) -> FreshdeskConfig:
        if not self.base_url and not self.domain:
            raise ValueError("give either domain or base_url")
        return self


class IntercomConfig(_Connector):
    """Intercom conversations."""

    type: Literal["intercom"]
    credentials: TokenCredentials
    version: str = "2.11"
    per_page: int = Field(150, ge=1, le=150)
    contact_companies: bool = True


class DelightedConfig(_Connector):
    """Delighted survey responses."""

    type: Literal["delighted"]
    credentials: ApiKeyCredentials
    account_id_property: str | None = None
    company_property: str | None = None


class XConfig(_Connector):
    """X recent search."""

    type: Literal["x"]
    credentials: TokenCredentials
    query: str = Field(min_length=1)
    handles: dict[str, str] = Field(default_factory=dict, description="handle -> account")
    own_handles: list[str] = Field(default_factory=list)


class HubSpotConfig(_Connector):
    """HubSpot notes."""

    type: Literal["hubspot_notes"]
    credentials: TokenCredentials


class FileConfig(_Connector):
    """A CSV/JSONL import of survey answers or account-manager notes."""

    type: Literal["survey_file", "notes_file"]
    path: Path
    columns: Columns = Field(default_factory=Columns)
    source_system: str | None = None


class TranscriptsConfig(_Connector):
    """Call transcripts (.vtt, .srt, speaker-labelled .json) in files or folders."""

    type: Literal["transcripts"]
    paths: list[Path] = Field(min_length=1)
    agent_domains: list[str] = Field(default_factory=list, description="our email domains")
    speakers: dict[str, str] = Field(
        default_factory=dict, description="speaker name or email -> role or email"
    )
    account_id: str | None = None
    call_start: datetime | None = None
    agent_role: Literal["agent", "csm"] = "agent"
    source_system: str = "transcripts"
    max_utterance_chars: int = Field(2000, ge=100)

    @model_validator(mode="after")
    def _speaker_values(self) -> TranscriptsConfig:
        roles = ("customer", "agent", "csm", "bot", "unknown")
        for speaker, value in self.speakers.items():
            if "@" not in value and value not in roles:
                raise ValueError(
                    f"speakers[{speaker!r}]: {value!r} is neither an email nor one of "
                    + ", ".join(roles)
                )
        return self


ConnectorConfig = Annotated[
    ZendeskConfig
    | FreshdeskConfig
    | IntercomConfig
    | DelightedConfig
    | XConfig
    | HubSpotConfig
    | FileConfig
    | TranscriptsConfig,
    Field(discriminator="type"),
]


class ConnectorsFile(_Strict):
    """The whole file."""

    secrets_file: Path | None = None
    connectors: list[ConnectorConfig]

    @model_validator(mode="after")
    def _unique_names(self) -> ConnectorsFile:
        names = [c.name for c in self.connectors]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"connector names must be unique; repeated: {', '.join(twice)}")
        return self

    def get(self, name: str) -> ConnectorConfig:
        """The connector called `name`."""
        for connector in self.connectors:
            if connector.name == name:
                return connector
        known = ", ".join(c.name for c in self.connectors) or "none"
        raise ConfigError(f"no connector named {name!r} in the configuration (known: {known})")


def load_config(path: Path, env: Mapping[str, str] | None = None) -> ConnectorsFile:
    """Read, resolve `${VAR}` references (environment, then secrets file) and validate."""
    raw = _read(path)
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping with a `connectors` list")
    secrets: dict[str, Any] = {}
    if raw.get("secrets_file"):
        secrets_path = (path.parent / str(raw["secrets_file"])).resolve()
        loaded = _read(secrets_path)
        if not isinstance(loaded, dict):
            raise ConfigError(f"{secrets_path}: must be a mapping of NAME: value")
        secrets = {str(k): str(v) for k, v in loaded.items()}
    lookup = {**secrets, **(os.environ if env is None else env)}
    resolved = _substitute(raw, lookup, "")
    try:
        config = ConnectorsFile.model_validate(resolved)
    except ValidationError as error:
        raise ConfigError(f"{path}: invalid configuration\n{_explain(error)}") from None
    for connector in config.connectors:
        if isinstance(connector, FileConfig) and not connector.path.is_absolute():
            connector.path = path.parent / connector.path
        if isinstance(connector, TranscriptsConfig):
            connector.paths = [p if p.is_absolute() else path.parent / p for p in connector.paths]
    return config


def _read(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error.strerror}") from None
    try:
        return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as error:
        kind = "JSON" if path.suffix == ".json" else "YAML"
        raise ConfigError(f"{path}: not valid {kind}: {error}") from None


def _substitute(value: Any, lookup: Mapping[str, str], where: str) -> Any:
    if isinstance(value, dict):
        return {
            k: _substitute(v, lookup, f"{where}.{k}" if where else str(k)) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_substitute(v, lookup, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, str):

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in lookup:
                raise ConfigError(
                    f"{where}: ${{{name}}} is not set in the environment or the secrets file"
                )
            return lookup[name]

        return REFERENCE.sub(replace, value)
    return value


def _explain(error: ValidationError) -> str:
    lines = []
    for item in error.errors(include_url=False, include_input=False):
        path = ""
        for part in item["loc"]:
            path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
        lines.append(f"  {path}: {item['msg']}")
    return "\n".join(lines)
