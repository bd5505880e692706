"""The AJO campaign read API (``campaigns-retrieve.yaml``): Campaign Model, Multi Response Model, filters."""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any

from clarion.campaigns.errors import InvalidCampaign
from clarion.campaigns.schemas import effective_status
from clarion.kit.clock import iso_micro, utcnow
from clarion.models.campaigns import Campaign

_CONDITION = re.compile(r'^(?P<field>[A-Za-z]+)(?P<op>==|!=|=like=)"?(?P<value>[^"]*)"?$')
_ORDER_FIELDS = {"name", "createdAt", "modifiedAt", "status", "publishedAt"}


def campaign_model(campaign: Campaign, base_url: str) -> dict[str, Any]:
    """One campaign in the Campaign Model shape (timestamps: ISO_INSTANT with 6 fractional digits)."""
    now = utcnow()
    return {
        "campaignId": campaign.id,
        "versionId": f"{campaign.id}-v{campaign.version}",
        "name": campaign.name,
        "description": campaign.description,
        "status": effective_status(campaign, now),
        "schedule": {
            "startDate": _iso(campaign.start_date),
            "startDateEnabled": campaign.start_date is not None,
            "endDate": _iso(campaign.end_date),
            "endDateEnabled": campaign.end_date is not None,
        },
        "createdBy": campaign.created_by,
        "createdAt": iso_micro(campaign.created_at),
        "modifiedBy": campaign.modified_by or campaign.created_by,
        "modifiedAt": iso_micro(campaign.modified_at),
        "publishedAt": _iso(campaign.activated_at),
        "campaignType": "ApiTriggered",
        "type": campaign.category,
        "category": campaign.category,
        "highThroughputMode": campaign.high_throughput,
        "campaignClass": "regular",
        "enableWebhooks": campaign.enable_webhooks,
        "identityNamespace": campaign.identity_namespace,
        "createNewProfile": campaign.create_new_profile,
        "throttleRatePerSec": campaign.throttle_rate_per_second,
        "packages": [
            {
                "channel": campaign.channel,
                "surfaces": [
                    {"surfaceId": campaign.channel_configuration_id, "surfaceType": "channelConfiguration"}
                ],
            }
        ],
        "_links": {"self": {"href": f"{base_url}/journey/campaigns/service/campaigns/{campaign.id}"}},
    }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else iso_micro(moment)


def select(
    models: list[dict[str, Any]],
    *,
    count: int,
    page: int,
    orderby: str,
    property_filter: str | None,
    base_url: str,
) -> dict[str, Any]:
    """Filter, order and page campaign models into the Multi Response Model."""
    for condition in _conditions(property_filter):
        models = [model for model in models if _matches(model, condition)]
    descending = orderby.startswith("-")
    field = orderby.lstrip("+-")
    if field not in _ORDER_FIELDS:
        raise InvalidCampaign(
            f"orderby: one of {', '.join(sorted(_ORDER_FIELDS))} (optionally prefixed by -)"
        )
    models.sort(key=lambda model: (model.get(field) is None, str(model.get(field) or "")), reverse=descending)
    total = len(models)
    chunk = models[page * count : (page + 1) * count]
    links: dict[str, Any] = {}
    if (page + 1) * count < total:
        links["next"] = {
            "href": f"{base_url}/journey/campaigns/service/campaigns?count={count}&page={page + 1}"
        }
    return {
        "data": chunk,
        "_page": {
            "orderby": orderby,
            "count": len(chunk),
            "page": page,
            "totalPages": max(1, math.ceil(total / count)),
            "totalCount": total,
            "property": property_filter or "",
        },
        "_links": links,
    }


_FILTER_FIELDS = {
    "name",
    "status",
    "category",
    "type",
    "campaignType",
    "campaignClass",
    "highThroughputMode",
    "identityNamespace",
    "enableWebhooks",
    "createdBy",
    "modifiedBy",
    "campaignId",
}


def _conditions(property_filter: str | None) -> list[re.Match[str]]:
    """Parse ``a==b;c=like="d"`` up front, so a bad filter is a 400 even when nothing would match."""
    parsed = []
    for condition in (property_filter or "").split(";"):
        if not condition.strip():
            continue
        match = _CONDITION.match(condition.strip())
        if match is None:
            raise InvalidCampaign(
                f"property: cannot read condition {condition!r} (use field==value, !=, =like=)"
            )
        if match["field"] not in _FILTER_FIELDS:
            raise InvalidCampaign(f"property: unknown field {match['field']!r}")
        parsed.append(match)
    return parsed


def _matches(model: dict[str, Any], match: re.Match[str]) -> bool:
    field, op, value = match["field"], match["op"], match["value"]
    actual = model[field]
    text = str(actual).lower() if isinstance(actual, bool) else str(actual)
    if op == "==":
        return text == value
    if op == "!=":
        return text != value
    return value.lower().strip("%*") in text.lower()
