"""Clarion: API-triggered messaging, audience activation and outbound throttling, self-hosted."""

__version__ = "0.1.0"
