"""Wire shapes of the management API (/v1) and the snapshots other domains read.

``CampaignSnapshot`` (the execution intake) and ``DeliverySettings`` (the delivery workers) are the campaigns
domain's published contracts: other domains import them from here, never the service or the models.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from ipaddress import ip_address
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

from clarion.kit import dkim
from clarion.kit.clock import utcnow
from clarion.models.campaigns import Campaign, ChannelConfiguration, IpPool

NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_.-]*$"
"""Names of IP pools and channel configurations: a letter, then letters, digits, ``_ . -`` (§1.11)."""

Channel = Literal["email", "sms", "push"]


WebhookEvent = Literal[
    "message.sent",
    "message.deferred",
    "message.failed",
    "message.expired",
    "message.suppressed",
    "message.bounced",
    "message.complained",
    "message.unsubscribed",
    "message.opened",
    "message.clicked",
]
"""Event types a campaign's webhook can subscribe to (``eventType`` of what is POSTed)."""
WEBHOOK_EVENTS: tuple[str, ...] = WebhookEvent.__args__  # type: ignore[attr-defined]
DEFAULT_WEBHOOK_EVENTS = frozenset(
    ("message.sent", "message.failed", "message.expired", "message.suppressed", "message.bounced")
)
"""Without ``webhookEvents``: every final status of a message, as before event types could be chosen."""


class WireModel(BaseModel):
    """camelCase on the wire, closed to unknown fields."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class ReadModel(BaseModel):
    """camelCase on the wire; built from a stored row by the model's ``from_model``."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


# IP pools ---------------------------------------------------------------------------------------------


class RelayIn(WireModel):
    """An SMTP relay of a pool. ``password`` is write-only; omit it on update to keep the stored one."""

    host: str = Field(min_length=1, max_length=253)
    port: int = Field(default=25, ge=1, le=65535)
    tls: Literal["none", "starttls", "tls"] = "none"
    username: str | None = Field(default=None, max_length=256)
    password: str | None = Field(default=None, max_length=1024)


class RelayRead(ReadModel):
    """A relay as shown: never its password."""

    host: str
    port: int
    tls: str
    username: str | None
    has_password: bool

    @classmethod
    def from_stored(cls, relay: Mapping[str, Any]) -> RelayRead:
        """A stored relay, its sealed password reduced to ``hasPassword``."""
        return cls(
            host=relay["host"],
            port=relay["port"],
            tls=relay["tls"],
            username=relay.get("username"),
            has_password=bool(relay.get("passwordSealed")),
        )


class IpPoolWrite(WireModel):
    """Create or replace an IP pool."""

    name: str = Field(min_length=1, max_length=128, pattern=NAME_PATTERN)
    description: str = Field(default="", max_length=4000)
    relays: list[RelayIn] = Field(min_length=1, max_length=32)
    bind_addresses: list[str] = Field(default_factory=list, max_length=64)
    max_connections: int = Field(default=16, ge=1, le=256)

    @field_validator("bind_addresses")
    @classmethod
    def _addresses(cls, values: list[str]) -> list[str]:
        for value in values:
            try:
                ip_address(value)
            except ValueError:
                raise ValueError(f"{value!r} is not an IP address") from None
        return values


class IpPoolRead(ReadModel):
    """An IP pool."""

    id: str
    name: str
    description: str
    relays: list[RelayRead]
    bind_addresses: list[str]
    max_connections: int
    created_at: datetime
    modified_at: datetime

    @classmethod
    def from_model(cls, pool: IpPool) -> IpPoolRead:
        """The API view of a pool: relay passwords replaced by ``hasPassword``."""
        return cls(
            id=pool.id,
            name=pool.name,
            description=pool.description,
            relays=[RelayRead.from_stored(relay) for relay in pool.relays],
            bind_addresses=pool.bind_addresses,
            max_connections=pool.max_connections,
            created_at=pool.created_at,
            modified_at=pool.modified_at,
        )


# Channel configurations -------------------------------------------------------------------------------


class DkimKeyIn(WireModel):
    """A DKIM signing key (RFC 6376; ``ed25519-sha256`` per RFC 8463). ``privateKey`` is write-only: PEM
    (PKCS#8, or PKCS#1 for RSA) or, for ed25519, the 32-byte seed in base64; omit it on update to keep the
    stored key of the same domain and selector. The checks that name the field are the service's."""

    domain: str = Field(
        min_length=1, max_length=253, description="d=: the From domain or a parent of it (DMARC alignment)"
    )
    selector: str = Field(
        min_length=1, max_length=253, description="s=: the key is at <selector>._domainkey.<domain>"
    )
    algorithm: Literal["ed25519-sha256", "rsa-sha256"]
    private_key: str | None = Field(
        default=None,
        max_length=16_384,
        description="Write-only. PEM (PKCS#8, or PKCS#1 for RSA of 1024 to 4096 bits) or, for ed25519, the "
        "32-byte seed in base64. Omit to keep the stored key of this domain and selector.",
    )
    headers: list[str] | None = Field(
        default=None,
        min_length=1,
        max_length=32,
        description="The signed header names (default From, To, Subject, Date, Message-ID, MIME-Version, "
        "Content-Type, List-Unsubscribe, List-Unsubscribe-Post); only those present in a message are signed; "
        "must include From.",
    )


class EmailSettings(WireModel):
    """Sender identity of an email configuration. Values may hold personalization only in standard mode."""

    from_address: str = Field(min_length=3, max_length=320)
    from_name: str = Field(default="", max_length=256)
    reply_to: str | None = Field(default=None, max_length=320)
    error_address: str | None = Field(default=None, max_length=320)
    ip_pool_id: str
    headers: dict[str, str] = Field(default_factory=dict, max_length=50)
    list_unsubscribe: str | None = Field(default=None, max_length=2048)
    dkim: list[DkimKeyIn] = Field(default_factory=list, max_length=2)
    """DKIM keys that sign every message (two: e.g. one ed25519 and one rsa); empty: not signed here."""
    bounce_domain: str | None = Field(
        default=None,
        max_length=253,
        description="Domain of the per-message envelope sender (VERP, b-<token>@bounceDomain) whose MX "
        "delivers to Clarion's feedback listener; without it bounces go to errorAddress or fromAddress",
    )

    @field_validator("bounce_domain")
    @classmethod
    def _bounce_domain(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return checked_domain(value)


def checked_domain(value: str) -> str:
    """A DNS host name in its ASCII (A-label) form, lowercased, without a final dot; ``ValueError`` naming
    the rule otherwise (RFC 1035 letters-digits-hyphens, RFC 1123: labels may start with a digit)."""
    domain = value.strip().rstrip(".").lower()
    labels = domain.split(".")
    if len(labels) < 2:
        raise ValueError(f"{value!r} is not a domain: it needs at least two labels (bounces.example.com)")
    if len(domain) > 253:
        raise ValueError(f"{value!r} is not a domain: longer than 253 characters")
    for label in labels:
        if not _DOMAIN_LABEL.fullmatch(label):
            raise ValueError(
                f"{value!r} is not a domain: each label is 1-63 letters, digits or hyphens, not starting "
                "or ending with a hyphen (use the xn-- form of an internationalized name)"
            )
    if labels[-1].isdigit():
        raise ValueError(f"{value!r} is not a domain: the last label cannot be all digits")
    return domain


_DOMAIN_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


class SmsSettings(WireModel):
    """A Twilio-style SMS provider. ``auth_token`` is write-only."""

    provider: Literal["twilio"] = "twilio"
    base_url: str = Field(pattern=r"^https?://", max_length=2048)
    account_sid: str = Field(min_length=1, max_length=128)
    auth_token: str | None = Field(default=None, max_length=1024)
    from_number: str = Field(min_length=1, max_length=32)


class PushSettings(WireModel):
    """An FCM v1-style push provider. ``access_token`` is write-only."""

    provider: Literal["fcm"] = "fcm"
    base_url: str = Field(pattern=r"^https?://", max_length=2048)
    project_id: str = Field(min_length=1, max_length=128)
    access_token: str | None = Field(default=None, max_length=4096)


class ChannelConfigurationWrite(WireModel):
    """Create or replace a channel configuration; exactly the settings block of its channel is given."""

    name: str = Field(min_length=1, max_length=128, pattern=NAME_PATTERN)
    description: str = Field(default="", max_length=4000)
    channel: Channel
    high_throughput: bool = False
    email: EmailSettings | None = None
    sms: SmsSettings | None = None
    push: PushSettings | None = None

    @model_validator(mode="after")
    def _one_block(self) -> ChannelConfigurationWrite:
        blocks = {"email": self.email, "sms": self.sms, "push": self.push}
        if blocks[self.channel] is None:
            raise ValueError(f"{self.channel}: settings are required for channel {self.channel!r}")
        extra = [name for name, block in blocks.items() if block is not None and name != self.channel]
        if extra:
            raise ValueError(f"{extra[0]}: not allowed for channel {self.channel!r}")
        return self


class ChannelConfigurationRead(ReadModel):
    """A channel configuration; provider secrets appear only as ``has…`` flags."""

    id: str
    name: str
    description: str
    channel: str
    high_throughput: bool
    email: dict[str, object] | None = None
    sms: dict[str, object] | None = None
    push: dict[str, object] | None = None
    created_at: datetime
    modified_at: datetime

    @classmethod
    def from_model(cls, configuration: ChannelConfiguration) -> ChannelConfigurationRead:
        """The API view of a configuration; sealed secrets appear as ``has<Name>``."""
        stored = configuration.settings
        settings: dict[str, object] = {
            key: value for key, value in stored.items() if not key.endswith("Sealed")
        }
        for key, value in stored.items():
            if key.endswith("Sealed"):
                name = key.removesuffix("Sealed")
                settings[f"has{name[0].upper()}{name[1:]}"] = bool(value)
        if "dkim" in stored:
            settings["dkim"] = [dkim_key_view(entry) for entry in stored["dkim"]]
        channel = configuration.channel
        return cls(
            id=configuration.id,
            name=configuration.name,
            description=configuration.description,
            channel=channel,
            high_throughput=configuration.high_throughput,
            email=settings if channel == "email" else None,
            sms=settings if channel == "sms" else None,
            push=settings if channel == "push" else None,
            created_at=configuration.created_at,
            modified_at=configuration.modified_at,
        )


def dkim_key_view(stored: Mapping[str, Any]) -> dict[str, object]:
    """A stored DKIM key as shown: never the key, but the public key and the DNS record to publish."""
    record = dkim.dns_record(stored["selector"], stored["domain"], stored["algorithm"], stored["publicKey"])
    return {
        "domain": stored["domain"],
        "selector": stored["selector"],
        "algorithm": stored["algorithm"],
        "headers": stored.get("headers"),
        "hasPrivateKey": bool(stored.get("privateKeySealed")),
        "publicKey": stored["publicKey"],
        "dnsRecord": {
            "name": record.name,
            "type": record.type,
            "value": record.value,
            "chunks": list(record.chunks),
        },
    }


# Campaigns --------------------------------------------------------------------------------------------


class EmailContent(WireModel):
    """Email content; ``text`` is generated from ``html`` when absent."""

    subject: str = Field(min_length=1, max_length=2000)
    html: str | None = Field(default=None, max_length=2_000_000)
    text: str | None = Field(default=None, max_length=2_000_000)

    @model_validator(mode="after")
    def _a_body(self) -> EmailContent:
        if not self.html and not self.text:
            raise ValueError("content.email: html or text is required")
        return self


class SmsContent(WireModel):
    """SMS content."""

    body: str = Field(min_length=1, max_length=1600)


class PushContent(WireModel):
    """Push content."""

    title: str = Field(min_length=1, max_length=256)
    body: str = Field(min_length=1, max_length=4000)
    data: dict[str, str] = Field(default_factory=dict, max_length=100)


class CampaignContent(WireModel):
    """Content for the campaign's channel."""

    email: EmailContent | None = None
    sms: SmsContent | None = None
    push: PushContent | None = None


class Schedule(WireModel):
    """Optional start and end of the campaign; outside of them executions are refused."""

    start_date: datetime | None = None
    end_date: datetime | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Schedule:
        for name in ("start_date", "end_date"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise ValueError(f"schedule.{to_camel(name)}: needs a time zone (e.g. 2026-01-01T00:00:00Z)")
        if self.start_date and self.end_date and self.end_date <= self.start_date:
            raise ValueError("schedule.endDate: must be after schedule.startDate")
        return self


class Tracking(WireModel):
    """Open and click tracking of an email campaign (off unless asked for).

    ``opens``: a 1x1 transparent image at the end of the HTML body records each ``opened`` event;
    ``clicks``: every ``http(s)`` link of the HTML body goes through a signed redirect that records
    ``clicked``. Links marked ``data-clarion-track="off"``, ``mailto:``/``tel:`` links, anchors and the
    unsubscribe link are left alone; the text part keeps its URLs.
    """

    opens: bool = False
    clicks: bool = False


class CampaignWrite(WireModel):
    """Create or replace (while Draft) an API-triggered campaign."""

    name: str = Field(min_length=1, max_length=256)
    description: str = Field(default="", max_length=4000)
    category: Literal["Transactional", "Marketing"] = "Transactional"
    channel: Channel
    channel_configuration_id: str
    high_throughput_mode: bool = False
    identity_namespace: str = Field(default="email", min_length=1, max_length=64)
    create_new_profile: bool = False
    enable_webhooks: bool = False
    webhook_url: str | None = Field(default=None, pattern=r"^https?://", max_length=2048)
    webhook_events: list[WebhookEvent] | None = Field(
        default=None,
        min_length=1,
        max_length=len(WEBHOOK_EVENTS),
        description="The event types POSTed to webhookUrl; absent or null: every final status "
        f"({', '.join(DEFAULT_WEBHOOK_EVENTS)})",
    )
    throttle_rate_per_sec: int | None = Field(default=None, ge=1, le=2000)
    schedule: Schedule = Field(default_factory=Schedule)
    content: CampaignContent
    custom_action_id: str | None = Field(default=None, min_length=1, max_length=36)
    """A custom action of the sandbox, called for each recipient whose message was sent."""
    tracking: Tracking = Field(default_factory=Tracking)

    @model_validator(mode="after")
    def _content_for_channel(self) -> CampaignWrite:
        if getattr(self.content, self.channel) is None:
            raise ValueError(f"content.{self.channel}: required for channel {self.channel!r}")
        if self.enable_webhooks and not self.webhook_url:
            raise ValueError("webhookUrl: required when enableWebhooks is true")
        if self.webhook_events is not None and len(set(self.webhook_events)) != len(self.webhook_events):
            raise ValueError("webhookEvents: each event type once")
        if self.channel != "email" and (self.tracking.opens or self.tracking.clicks):
            raise ValueError(f"tracking: only email campaigns are tracked (channel is {self.channel!r})")
        return self


class CampaignRead(ReadModel):
    """A campaign with its lifecycle status."""

    id: str
    name: str
    description: str
    category: str
    channel: str
    channel_configuration_id: str
    high_throughput_mode: bool
    identity_namespace: str
    create_new_profile: bool
    enable_webhooks: bool
    webhook_url: str | None
    webhook_events: list[str] | None = None
    throttle_rate_per_sec: int | None
    schedule: Schedule
    content: CampaignContent
    custom_action_id: str | None = None
    tracking: Tracking = Field(default_factory=Tracking)
    status: str
    version: int
    created_at: datetime
    modified_at: datetime
    activated_at: datetime | None
    stopped_at: datetime | None

    @classmethod
    def from_model(cls, campaign: Campaign) -> CampaignRead:
        """The /v1 view of a campaign, with its effective status."""
        return cls(
            id=campaign.id,
            name=campaign.name,
            description=campaign.description,
            category=campaign.category,
            channel=campaign.channel,
            channel_configuration_id=campaign.channel_configuration_id,
            high_throughput_mode=campaign.high_throughput,
            identity_namespace=campaign.identity_namespace,
            create_new_profile=campaign.create_new_profile,
            enable_webhooks=campaign.enable_webhooks,
            webhook_url=campaign.webhook_url,
            webhook_events=campaign.webhook_events,
            throttle_rate_per_sec=campaign.throttle_rate_per_second,
            schedule=Schedule(start_date=campaign.start_date, end_date=campaign.end_date),
            content=CampaignContent.model_validate(campaign.content),
            custom_action_id=campaign.custom_action_id,
            tracking=Tracking(opens=campaign.track_opens, clicks=campaign.track_clicks),
            status=effective_status(campaign, utcnow()),
            version=campaign.version,
            created_at=campaign.created_at,
            modified_at=campaign.modified_at,
            activated_at=campaign.activated_at,
            stopped_at=campaign.stopped_at,
        )


# Snapshots published to other domains -----------------------------------------------------------------


def effective_status(campaign: Campaign | CampaignSnapshot, now: datetime) -> str:
    """The status at ``now``: Scheduled turns Live at its start date, Live turns Completed at its end."""
    status = campaign.status
    if status == "Scheduled" and campaign.start_date is not None and campaign.start_date <= now:
        status = "Live"
    if status == "Live" and campaign.end_date is not None and campaign.end_date <= now:
        status = "Completed"
    return status


@dataclass(frozen=True, slots=True)
class CampaignSnapshot:
    """What the execution intake needs to know about a campaign, cheap to cache per process."""

    id: str
    status: str
    start_date: datetime | None
    end_date: datetime | None
    high_throughput: bool
    channel: str
    version: int
    create_new_profile: bool
    identity_namespace: str

    def status_at(self, now: datetime) -> str:
        """The effective status at ``now``."""
        return effective_status(self, now)


@dataclass(frozen=True, slots=True)
class DeliverySettings:
    """Everything a worker needs to send a campaign's messages (secrets still sealed).

    ``content`` and ``configuration`` are the stored camelCase blocks (``content["email"]["subject"]``,
    ``configuration["fromAddress"]``); ``relays`` are the pool's stored relays (``passwordSealed``).
    """

    campaign_id: str
    campaign_version: int
    channel: str
    high_throughput: bool
    content: Mapping[str, Any]
    enable_webhooks: bool
    webhook_url: str | None
    configuration_id: str
    configuration_version: int
    configuration: Mapping[str, Any]
    pool_id: str | None
    pool_version: int
    relays: Sequence[Mapping[str, Any]]
    bind_addresses: Sequence[str]
    max_connections: int
    custom_action_id: str | None = None
    webhook_events: frozenset[str] | None = None
    """The event types (``message.<kind>``) the webhook subscribes to; None: ``DEFAULT_WEBHOOK_EVENTS``."""
    category: str = "Transactional"
    """``Transactional`` or ``Marketing``: which suppressions stop its messages (``suppressions/matching``);
    ``Marketing`` messages carry the one-click unsubscribe headers (RFC 8058)."""
    track_opens: bool = False
    track_clicks: bool = False

    def subscribes(self, event_type: str) -> bool:
        """Whether the campaign's webhook wants this event type (``message.sent``, …)."""
        return webhook_wants(self.enable_webhooks, self.webhook_url, self.webhook_events, event_type)


@dataclass(frozen=True, slots=True)
class WebhookSettings:
    """A campaign's webhook subscription, as the feedback recorder reads it (cached per process)."""

    enable_webhooks: bool
    webhook_url: str | None
    webhook_events: frozenset[str] | None

    def subscribes(self, event_type: str) -> bool:
        """Whether the campaign's webhook wants this event type (``message.sent``, …)."""
        return webhook_wants(self.enable_webhooks, self.webhook_url, self.webhook_events, event_type)


def webhook_wants(enabled: bool, url: str | None, events: frozenset[str] | None, event_type: str) -> bool:
    """The subscription rule: webhooks on, a URL, and the event type listed (or a final status by default)."""
    if not enabled or not url:
        return False
    return event_type in (DEFAULT_WEBHOOK_EVENTS if events is None else events)
