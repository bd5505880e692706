"""Wire shapes of the delivery ledger API (/v1/messages) and the outbox (/v1/outbox)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class MessageRead(BaseModel):
    """One ledger row: what was sent to whom, how often, and the server's last answer."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, from_attributes=True)

    id: str
    execution_id: str
    campaign_id: str
    request_id: str
    user_id: str
    recipient: str
    channel: str
    status: str
    attempts: int
    response: str
    rendered_size: int
    accepted_at: datetime
    updated_at: datetime
    sent_at: datetime | None


class ResendRequest(BaseModel):
    """Which failed or expired messages to send again (at least one filter)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    execution_id: str | None = None
    campaign_id: str | None = None
    recipient: str | None = None
    limit: int = Field(default=1000, ge=1, le=10_000)


class ResendResult(BaseModel):
    """How many messages were queued again."""

    requeued: int
    message_ids: list[str] = Field(serialization_alias="messageIds")


class CapturedMailRead(BaseModel):
    """A message captured by the bundled SMTP server."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, from_attributes=True)

    id: str
    received_at: datetime
    mail_from: str
    rcpt_tos: list[str]
    subject: str
    size: int


MessageStatus = Literal["accepted", "sent", "failed", "expired"]
