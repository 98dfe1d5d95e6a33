"""Vendor connectors: fetch pages from Zendesk, Intercom, Delighted, X, HubSpot or files and
store them through the shared ingestion path, committing each page with its cursor."""
