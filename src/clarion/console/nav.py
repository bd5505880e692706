"""The console's navigation: one entry per area, in the order of the work (build, send, watch, export)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class NavEntry:
    """A link of the side navigation; ``prefix`` marks it current for every page below it."""

    label: str
    path: str
    group: str

    @property
    def prefix(self) -> str:
        """The path prefix of the area's pages."""
        return self.path


NAV: tuple[NavEntry, ...] = (
    NavEntry("Overview", "/", "Watch"),
    NavEntry("Messages", "/messages", "Watch"),
    NavEntry("Outbox", "/outbox", "Watch"),
    NavEntry("Campaigns", "/campaigns", "Send"),
    NavEntry("Channel configurations", "/channel-configurations", "Send"),
    NavEntry("IP pools", "/ip-pools", "Send"),
    NavEntry("DKIM keys", "/dkim-keys", "Send"),
    NavEntry("Suppressions", "/suppressions", "Send"),
    NavEntry("Throttling", "/throttling", "Outbound"),
    NavEntry("Custom actions", "/custom-actions", "Outbound"),
    NavEntry("Audiences", "/audiences", "Audiences"),
    NavEntry("Segment jobs", "/segment-jobs", "Audiences"),
    NavEntry("Profiles", "/profiles", "Audiences"),
    NavEntry("Destinations", "/destinations", "Activation"),
    NavEntry("Dataflows", "/dataflows", "Activation"),
    NavEntry("Runs", "/runs", "Activation"),
)
