"""Self-hosted customer-sentiment and account-health service."""

__version__ = "0.1.0"
