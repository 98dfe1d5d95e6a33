"""Builds a connector and its engine options from one configuration entry."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypedDict

import httpx

from connectors.base import Connector, SyncOptions
from connectors.config import (
    ConnectorConfig,
    DelightedConfig,
    FileConfig,
    FreshdeskConfig,
    HubSpotConfig,
    IntercomConfig,
    TranscriptsConfig,
    XConfig,
    ZendeskConfig,
)
from connectors.crm_notes import API_URL as HUBSPOT_URL
from connectors.crm_notes import HubSpotNotesConnector, hubspot_client, notes_file_connector
from connectors.files import ColumnMapping
from connectors.freshdesk import (
    DEFAULT_START,
    FreshdeskConnector,
    FreshdeskOptions,
    freshdesk_client,
)
from connectors.freshdesk import base_url_for as freshdesk_url
from connectors.http import HttpPolicy, VendorHttp
from connectors.intercom import API_URL as INTERCOM_URL
from connectors.intercom import IntercomConnector, IntercomOptions, intercom_client
from connectors.social import API_URL as X_URL
from connectors.social import XConnector, XOptions, x_client
from connectors.surveys import API_URL as DELIGHTED_URL
from connectors.surveys import (
    DelightedConnector,
    DelightedOptions,
    delighted_client,
    survey_file_connector,
)
from connectors.transcripts import TranscriptConnector, TranscriptOptions
from connectors.zendesk import ZendeskConnector, ZendeskOptions, base_url_for, zendesk_client


class _ClientOptions(TypedDict):
    """The keyword arguments every vendor client factory takes."""

    policy: HttpPolicy
    transport: httpx.BaseTransport | None


@dataclass(frozen=True)
class Runtime:
    """What the environment injects: sleep, a transport (tests) and overrides."""

    sleep: Callable[[float], None] = time.sleep
    transport: httpx.BaseTransport | None = None
    base_url: str | None = None
    max_requests: int | None = None


def sync_options(
    config: ConnectorConfig, *, auto_create_default: bool, progress: bool
) -> SyncOptions:
    """Engine options for this connector (auto-creation falls back to the service setting)."""
    auto = config.auto_create_accounts
    return SyncOptions(
        domains=dict(config.domains),
        auto_create_accounts=auto_create_default if auto is None else auto,
        progress=progress,
    )


def build_connector(config: ConnectorConfig, runtime: Runtime | None = None) -> Connector:
    """A ready connector; the caller closes `connector.http.client` when it has one."""
    runtime = runtime or Runtime()
    if isinstance(config, FileConfig):
        return _file_connector(config)
    if isinstance(config, TranscriptsConfig):
        return transcripts_connector(config)
    policy = HttpPolicy(
        read_timeout=config.read_timeout,
        max_attempts=config.max_attempts,
        max_requests=runtime.max_requests or config.max_requests,
    )
    url = runtime.base_url or config.base_url
    kwargs: _ClientOptions = {"policy": policy, "transport": runtime.transport}
    client: httpx.Client
    if isinstance(config, ZendeskConfig):
        root = url or base_url_for(config.subdomain or "")
        creds = config.credentials
        client = zendesk_client(root, creds.email, creds.api_token.get_secret_value(), **kwargs)
        options = ZendeskOptions(
            config.start_time,
            config.per_page,
            chunk_tickets=config.chunk_tickets,
            workers=config.workers,
        )
        return ZendeskConnector(_http(client, policy, runtime), options)
    if isinstance(config, FreshdeskConfig):
        key = config.credentials.api_key.get_secret_value()
        client = freshdesk_client(url or freshdesk_url(config.domain or ""), key, **kwargs)
        freshdesk = FreshdeskOptions(
            per_page=config.per_page,
            chunk_tickets=config.chunk_tickets,
            track_deleted=config.track_deleted,
            start_time=config.start_time or DEFAULT_START,
            workers=config.workers,
        )
        return FreshdeskConnector(_http(client, policy, runtime), freshdesk)
    if isinstance(config, IntercomConfig):
        token = config.credentials.token.get_secret_value()
        client = intercom_client(url or INTERCOM_URL, token, version=config.version, **kwargs)
        intercom = IntercomOptions(config.per_page, config.contact_companies)
        return IntercomConnector(_http(client, policy, runtime), intercom)
    if isinstance(config, DelightedConfig):
        key = config.credentials.api_key.get_secret_value()
        client = delighted_client(url or DELIGHTED_URL, key, **kwargs)
        delighted = DelightedOptions(
            account_id_property=config.account_id_property,
            company_property=config.company_property,
        )
        return DelightedConnector(_http(client, policy, runtime), delighted)
    if isinstance(config, XConfig):
        client = x_client(url or X_URL, config.credentials.token.get_secret_value(), **kwargs)
        x = XOptions(
            config.query, handles=config.handles, own_handles=frozenset(config.own_handles)
        )
        return XConnector(_http(client, policy, runtime), x)
    if isinstance(config, HubSpotConfig):
        token = config.credentials.token.get_secret_value()
        client = hubspot_client(url or HUBSPOT_URL, token, **kwargs)
        return HubSpotNotesConnector(_http(client, policy, runtime))
    raise TypeError(f"unsupported connector type: {type(config).__name__}")  # pragma: no cover


def _http(client: httpx.Client, policy: HttpPolicy, runtime: Runtime) -> VendorHttp:
    return VendorHttp(client, policy=policy, sleep=runtime.sleep)


def _file_connector(config: FileConfig) -> Connector:
    columns = config.columns
    mapping = ColumnMapping(
        text=columns.text,
        created_at=columns.created_at,
        id=columns.id,
        score=columns.score,
        email=columns.email,
        account_id=columns.account_id,
        vendor_account=columns.vendor_account,
        metadata=tuple(columns.metadata),
    )
    if config.type == "survey_file":
        return survey_file_connector(
            config.path, mapping, source_system=config.source_system or "survey_file"
        )
    return notes_file_connector(
        config.path, mapping, source_system=config.source_system or "notes_file"
    )


def transcripts_connector(config: TranscriptsConfig) -> TranscriptConnector:
    """The transcript import a `type: transcripts` entry describes."""
    options = TranscriptOptions(
        agent_domains=tuple(config.agent_domains),
        speakers=dict(config.speakers),
        account_id=config.account_id,
        call_start=config.call_start,
        agent_role=config.agent_role,
        source_system=config.source_system,
        max_utterance_chars=config.max_utterance_chars,
    )
    return TranscriptConnector(config.paths, options)


def close_connector(connector: Connector) -> None:
    """Close the connector's HTTP client, if it has one."""
    http = getattr(connector, "http", None)
    if isinstance(http, VendorHttp):
        http.client.close()
