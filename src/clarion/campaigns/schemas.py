"""Wire shapes of the management API (/v1) and the snapshots other domains read.

``CampaignSnapshot`` (the execution intake) and ``DeliverySettings`` (the delivery workers) are the campaigns
domain's published contracts: other domains import them from here, never the service or the models.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from ipaddress import ip_address
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

from clarion.kit.clock import utcnow
from clarion.models.campaigns import Campaign, ChannelConfiguration, IpPool

NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_.-]*$"
"""Names of IP pools and channel configurations: a letter, then letters, digits, ``_ . -`` (§1.11)."""

Channel = Literal["email", "sms", "push"]


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


class EmailSettings(WireModel):
    """Sender identity of an email configuration. Values may hold personalization only in standard mode."""

    from_address: str = Field(min_length=3, max_length=320)
    from_name: str = Field(default="", max_length=256)
    reply_to: str | None = Field(default=None, max_length=320)
    error_address: str | None = Field(default=None, max_length=320)
    ip_pool_id: str
    headers: dict[str, str] = Field(default_factory=dict, max_length=50)
    list_unsubscribe: str | None = Field(default=None, max_length=2048)


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
    throttle_rate_per_sec: int | None = Field(default=None, ge=1, le=2000)
    schedule: Schedule = Field(default_factory=Schedule)
    content: CampaignContent
    custom_action_id: str | None = Field(default=None, min_length=1, max_length=36)
    """A custom action of the sandbox, called for each recipient whose message was sent."""

    @model_validator(mode="after")
    def _content_for_channel(self) -> CampaignWrite:
        if getattr(self.content, self.channel) is None:
            raise ValueError(f"content.{self.channel}: required for channel {self.channel!r}")
        if self.enable_webhooks and not self.webhook_url:
            raise ValueError("webhookUrl: required when enableWebhooks is true")
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
    throttle_rate_per_sec: int | None
    schedule: Schedule
    content: CampaignContent
    custom_action_id: str | None = None
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
            throttle_rate_per_sec=campaign.throttle_rate_per_second,
            schedule=Schedule(start_date=campaign.start_date, end_date=campaign.end_date),
            content=CampaignContent.model_validate(campaign.content),
            custom_action_id=campaign.custom_action_id,
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
    category: str = "Transactional"
    """``Transactional`` or ``Marketing``: which suppressions stop its messages (suppressions/matching)."""
