"""ekEvents: a self-hosted first-party custom-events collector."""

__version__ = "0.1.0"
