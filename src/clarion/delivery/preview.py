"""Campaign previews: what the console shows beside a campaign (its statistics: ``campaign_stats.py``).

A preview renders with the classes the channels send with (``EmailTemplates``, ``sms_template``,
``PushTemplates``) after the checks a save runs (``campaigns.service.check_content``), so what is shown is
what would be sent, and a refusal names the field, line and column as a save's would.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from clarion.campaigns import service as campaigns
from clarion.db.uow import UnitOfWork
from clarion.delivery.channels.email.channel import EmailTemplates
from clarion.delivery.channels.push import PushTemplates
from clarion.delivery.channels.sms import sms_template
from clarion.delivery.schemas import (
    PreviewRead,
    PreviewRequest,
    ProfileIdentity,
    SavedPreviewRequest,
)
from clarion.errors import Invalid
from clarion.profiles import service as profiles
from clarion.profiles.errors import InvalidProfile, ProfileNotFound
from clarion.tenancy.principal import Principal

HOUR = 3600


async def preview_draft(uow: UnitOfWork, principal: Principal, request: PreviewRequest) -> PreviewRead:
    """Render draft content (not saved) with the sample context and, in standard mode, a profile."""
    blocks = request.content.model_dump(by_alias=True, exclude_none=True)
    return await _preview(uow, principal, request.channel, blocks, request.high_throughput_mode, request)


async def preview_saved(
    uow: UnitOfWork, principal: Principal, campaign_id: str, request: SavedPreviewRequest
) -> PreviewRead:
    """Render a saved campaign's current version."""
    campaign = await campaigns.get(uow, principal, campaign_id)
    return await _preview(
        uow, principal, campaign.channel, campaign.content, campaign.high_throughput, request
    )


async def _preview(
    uow: UnitOfWork,
    principal: Principal,
    channel: str,
    blocks: Mapping[str, Any],
    high_throughput: bool,
    request: SavedPreviewRequest,
) -> PreviewRead:
    campaigns.check_content(channel, blocks, high_throughput=high_throughput)
    profile: dict[str, Any] = {}
    if request.profile is not None:
        if high_throughput:
            raise Invalid(
                "profile: high-throughput campaigns never read profiles; preview them with context only",
                context={"field": "profile"},
            )
        profile = await _profile_attributes(uow, principal, request.profile)
    return render(channel, blocks, {"context": request.context, "profile": profile})


def render(channel: str, blocks: Mapping[str, Any], variables: Mapping[str, Any]) -> PreviewRead:
    """The message of ``channel`` for ``variables``, rendered as its channel renders it."""
    content = blocks[channel]
    if channel == "email":
        subject, html, text = EmailTemplates(content).render(variables)
        return PreviewRead(channel=channel, subject=subject, html=html, text=text)
    if channel == "sms":
        return PreviewRead(channel=channel, body=sms_template(content).render(variables))
    title, body, data = PushTemplates(content).render(variables)
    return PreviewRead(channel=channel, title=title, body=body, data=data)


async def _profile_attributes(
    uow: UnitOfWork, principal: Principal, picked: ProfileIdentity
) -> dict[str, Any]:
    """The attributes of the picked profile; a bad or unknown identity is a 400 naming ``profile.…``."""
    try:
        view = await profiles.get(uow, principal, picked.namespace, picked.id)
    except InvalidProfile as error:
        field = "profile." + str(error.context.get("field", "id"))
        raise Invalid(f"{field}: {error.detail}", context={"field": field}) from None
    except ProfileNotFound:
        raise Invalid(
            f"profile.id: no profile has the identity {picked.namespace}:{picked.id}",
            context={"field": "profile.id"},
        ) from None
    attributes: dict[str, Any] = view["attributes"]
    return attributes
