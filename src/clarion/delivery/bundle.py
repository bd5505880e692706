"""A campaign version ready to send: templates compiled once, MIME skeleton built once, provider clients.

Bundles are cached per process for a few seconds, keyed by the campaign and its channel configuration and
pool versions, so an edited configuration is picked up by the next messages without a restart.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from clarion.campaigns import service as campaigns
from clarion.campaigns.schemas import DeliverySettings
from clarion.db.uow import UnitOfWork
from clarion.delivery.channels.email.html_text import html_to_text
from clarion.delivery.channels.email.mime import MessageSkeleton, build_skeleton
from clarion.delivery.channels.email.smtp import Relay, SmtpPool
from clarion.delivery.channels.push import FcmPush
from clarion.delivery.channels.sms import TwilioSms
from clarion.kit.secretbox import SecretBox
from clarion.templating import Template, compile_template

_BUNDLE_TTL = 5.0


@dataclass(frozen=True, slots=True)
class Bundle:
    """Compiled content and the means to send it."""

    settings: DeliverySettings
    templates: Mapping[str, Template]
    skeleton: MessageSkeleton | None
    sender_templates: Mapping[str, Template]
    smtp: SmtpPool | None
    sms: TwilioSms | None
    push: FcmPush | None

    def render(self, name: str, variables: Mapping[str, Any]) -> str | None:
        """Render one content field, or None when the campaign has no such field."""
        template = self.templates.get(name)
        return None if template is None else template.render(variables)


class BundleCache:
    """Bundles by campaign; SMTP pools by (pool id, version), shared by every campaign using the pool."""

    def __init__(
        self, unit_of_work: Callable[[], UnitOfWork], secrets: SecretBox, http: httpx.AsyncClient
    ) -> None:
        self._unit_of_work = unit_of_work
        self._secrets = secrets
        self._http = http
        self._bundles: dict[tuple[str, str, str, int], tuple[Bundle | None, float]] = {}
        self._pools: dict[str, tuple[int, SmtpPool]] = {}
        self._loading: dict[tuple[str, str, str, int], asyncio.Future[Bundle | None]] = {}

    async def get(self, org_id: str, sandbox_id: str, campaign_id: str, version: int) -> Bundle | None:
        """The bundle of a campaign version, or None when the campaign (or its configuration) is gone.

        Concurrent callers of an expired or missing entry share one load (a worker starts dozens of jobs
        of the same campaign at once; each loading it would be a stampede on the database).
        """
        key = (org_id, sandbox_id, campaign_id, version)
        cached = self._bundles.get(key)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        loading = self._loading.get(key)
        if loading is None:
            loading = asyncio.ensure_future(self._load(key))
            self._loading[key] = loading
            loading.add_done_callback(lambda _: self._loading.pop(key, None))
        return await asyncio.shield(loading)

    async def _load(self, key: tuple[str, str, str, int]) -> Bundle | None:
        org_id, sandbox_id, campaign_id, _ = key
        async with self._unit_of_work() as uow:
            settings = await campaigns.delivery_settings(
                uow, org_id=org_id, sandbox_id=sandbox_id, campaign_id=campaign_id
            )
        bundle = None if settings is None else await self._build(settings)
        self._bundles[key] = (bundle, time.monotonic() + _BUNDLE_TTL)
        return bundle

    async def close(self) -> None:
        """Close every SMTP pool."""
        for _, pool in self._pools.values():
            await pool.close()
        self._pools.clear()

    async def _build(self, settings: DeliverySettings) -> Bundle:
        content = settings.content.get(settings.channel) or {}
        templates = _compile_content(settings.channel, content)
        skeleton = None
        sender: dict[str, Template] = {}
        if settings.channel == "email":
            sender = _sender_templates(settings.configuration)
            if not sender:
                skeleton = skeleton_for(settings.configuration, {})
        return Bundle(
            settings=settings,
            templates=templates,
            skeleton=skeleton,
            sender_templates=sender,
            smtp=await self._smtp(settings) if settings.channel == "email" else None,
            sms=self._sms(settings.configuration) if settings.channel == "sms" else None,
            push=self._push(settings.configuration) if settings.channel == "push" else None,
        )

    async def _smtp(self, settings: DeliverySettings) -> SmtpPool | None:
        if settings.pool_id is None:
            return None
        current = self._pools.get(settings.pool_id)
        if current is not None and current[0] == settings.pool_version:
            return current[1]
        relays = [
            Relay(
                host=relay["host"],
                port=relay["port"],
                tls=relay["tls"],
                username=relay.get("username"),
                password=self._secrets.open(relay["passwordSealed"]) if relay.get("passwordSealed") else None,
            )
            for relay in settings.relays
        ]
        pool = SmtpPool(
            relays, bind_addresses=settings.bind_addresses, max_connections=settings.max_connections
        )
        self._pools[settings.pool_id] = (settings.pool_version, pool)
        if current is not None:
            await current[1].close()  # a changed pool: new connections from now on
        return pool

    def _sms(self, configuration: Mapping[str, Any]) -> TwilioSms:
        return TwilioSms(
            self._http,
            base_url=configuration["baseUrl"],
            account_sid=configuration["accountSid"],
            auth_token=self._secrets.open(configuration["authTokenSealed"]),
            from_number=configuration["fromNumber"],
        )

    def _push(self, configuration: Mapping[str, Any]) -> FcmPush:
        return FcmPush(
            self._http,
            base_url=configuration["baseUrl"],
            project_id=configuration["projectId"],
            access_token=self._secrets.open(configuration["accessTokenSealed"]),
        )


def _compile_content(channel: str, content: Mapping[str, Any]) -> dict[str, Template]:
    if channel == "email":
        compiled = {"subject": compile_template(content["subject"], autoescape=False)}
        if content.get("html"):
            compiled["html"] = compile_template(content["html"], autoescape=True)
        # The text alternative is derived from the HTML *template*, once per version, not per message.
        text = content.get("text") or (html_to_text(content["html"]) if content.get("html") else None)
        if text:
            compiled["text"] = compile_template(text, autoescape=False)
        return compiled
    if channel == "sms":
        return {"body": compile_template(content["body"], autoescape=False)}
    compiled = {
        "title": compile_template(content["title"], autoescape=False),
        "body": compile_template(content["body"], autoescape=False),
    }
    for key, value in (content.get("data") or {}).items():
        compiled[f"data.{key}"] = compile_template(value, autoescape=False)
    return compiled


_SENDER_FIELDS = ("fromAddress", "fromName", "replyTo", "errorAddress")


def _sender_templates(configuration: Mapping[str, Any]) -> dict[str, Template]:
    """Compiled sender fields when any is personalized (standard mode only); empty when all are fixed."""
    fields = {name: configuration.get(name) or "" for name in _SENDER_FIELDS}
    if not any("{{" in value or "{%" in value for value in fields.values()):
        return {}
    return {name: compile_template(value, autoescape=False) for name, value in fields.items()}


def skeleton_for(configuration: Mapping[str, Any], sender: Mapping[str, str]) -> MessageSkeleton:
    """The MIME skeleton of a configuration, with rendered sender fields when they are personalized."""
    from_address = sender.get("fromAddress") or configuration["fromAddress"]
    return build_skeleton(
        from_address=from_address,
        from_name=(sender.get("fromName") if sender else configuration.get("fromName")) or None,
        reply_to=(sender.get("replyTo") if sender else configuration.get("replyTo")) or None,
        headers=configuration.get("headers") or {},
        list_unsubscribe=configuration.get("listUnsubscribe"),
        message_id_domain=from_address.rpartition("@")[2] or "clarion.local",
    )
