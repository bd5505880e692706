"""Wire shapes of the AJO execution API (contract §1.3-1.6), decoded with msgspec on the hot path.

The contract's schemas are open (no ``additionalProperties: false``), so unknown fields are ignored.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec


class ChannelData(msgspec.Struct, omit_defaults=True):
    """Per-recipient address overrides (``pushInfo`` appears in Adobe's samples, not in its schema)."""

    emailAddress: str | None = None
    mobilePhoneNumber: str | None = None
    pushInfo: dict[str, Any] | None = None


class AepRecipient(msgspec.Struct, tag="aep", tag_field="type", omit_defaults=True):
    """A recipient resolved against the profile store (standard mode)."""

    userId: str
    namespace: str
    mergePolicyName: str | None = None
    mergePolicySchema: str | None = None
    channelData: ChannelData | None = None
    profile: dict[str, Any] | None = None
    context: dict[str, Any] | None = None


class ExternalRecipient(msgspec.Struct, tag="external", tag_field="type", omit_defaults=True):
    """A recipient given entirely by the request (the only kind the high-throughput endpoint takes)."""

    userId: str
    namespace: str
    channelData: ChannelData | None = None
    profile: dict[str, Any] | None = None
    context: dict[str, Any] | None = None


Recipient = AepRecipient | ExternalRecipient


class ExecutionRequest(msgspec.Struct):
    """``imExecutionRequestUnitary`` / ``imExecutionRequestHighThroughput``."""

    requestId: str
    campaignId: str
    recipients: list[Recipient]


class AudienceRef(msgspec.Struct):
    """The audience (segment) of an audience execution."""

    id: str


class ScheduleRef(msgspec.Struct):
    """When an audience execution should run."""

    executeAt: datetime


class AudienceRequest(msgspec.Struct):
    """``imExecutionRequestAudience``; ``recipients`` is Clarion's extension (explicit recipients)."""

    campaignId: str
    requestId: str | None = None
    audience: AudienceRef | None = None
    context: dict[str, Any] | None = None
    schedule: ScheduleRef | None = None
    recipients: list[Recipient] | None = None


class ExecutionResponse(msgspec.Struct):
    """``imExecutionResponse`` (202)."""

    executionId: str
    requestId: str
    createdAt: str
    createdBy: str
    modifiedAt: str
    modifiedBy: str


class ExecutionStatusResponse(msgspec.Struct, omit_defaults=True):
    """``executionStatusResponse``."""

    executionId: str
    status: str
    createdAt: str
    campaignId: str | None = None
    audienceId: str | None = None
    targetedProfileCount: int | None = None


class ScheduledExecutionResponse(msgspec.Struct, omit_defaults=True):
    """``ScheduledExecutionResponse``."""

    scheduleId: str
    scheduleStatus: str
    campaignId: str | None = None
    executeAt: str | None = None
    audience: AudienceRef | None = None
    executionDetails: ExecutionStatusResponse | None = None


execution_request_decoder = msgspec.json.Decoder(ExecutionRequest)
audience_request_decoder = msgspec.json.Decoder(AudienceRequest)
encoder = msgspec.json.Encoder()


class TriggerJob(msgspec.Struct, frozen=True):
    """Payload of the ``executions.trigger`` task: the audience execution to fan out."""

    org: str
    sandbox: str
    execution: str
