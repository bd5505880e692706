"""A campaign version ready to send: its delivery settings and its channel adapter (content compiled once).

Bundles are cached per process (``kit.cache.RefreshingCache``: one load per key however many jobs ask, a
bounded number of entries) and reloaded every few seconds, so an edited campaign, configuration or IP pool
is picked up by the next messages without a restart. While a bundle is reloaded the previous one keeps being
served; that is safe because SMTP pools are not the bundles' own: each IP pool has one ``PoolRef``, shared
by every bundle using it and switched to a new pool (the old one closed) when the pool's version changes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from clarion.campaigns import service as campaigns
from clarion.campaigns.schemas import DeliverySettings
from clarion.db.uow import UnitOfWork
from clarion.delivery.attribution import tenant_tag
from clarion.delivery.channels.base import Channel
from clarion.delivery.channels.email.channel import EmailChannel, PoolRef
from clarion.delivery.channels.email.dkim import DkimSigner, load_keys
from clarion.delivery.channels.email.smtp import Relay, SmtpPool
from clarion.delivery.channels.push import FcmPush, PushChannel
from clarion.delivery.channels.sms import SmsChannel, TwilioSms
from clarion.delivery.tokens import MessageTokens
from clarion.kit.cache import RefreshingCache
from clarion.kit.secretbox import SecretBox

BUNDLE_TTL = 2.5
"""Seconds a bundle is fresh; reloaded in the background after that, so what is sent is at most about this
old (and never more than twice this, when a reload is slow)."""
MAX_BUNDLES = 1_000
"""Campaign versions a worker keeps compiled (past this the cache starts over)."""

_BundleKey = tuple[str, str, str, int]


@dataclass(frozen=True, slots=True)
class Bundle:
    """A campaign version's settings and the channel that sends its messages."""

    settings: DeliverySettings
    channel: Channel


class BundleCache:
    """Bundles by campaign version; SMTP pools by IP pool, shared by every campaign using the pool."""

    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        secrets: SecretBox,
        http: httpx.AsyncClient,
        *,
        ttl: float = BUNDLE_TTL,
        limit: int = MAX_BUNDLES,
        base_url: str = "",
    ) -> None:
        self._unit_of_work = unit_of_work
        self._base_url = base_url
        """The public base URL of unsubscribe and tracking links (``CLARION_PUBLIC_BASE_URL``)."""
        self._secrets = secrets
        self._tokens = MessageTokens(secrets)
        self._http = http
        self._ttl = ttl
        self._bundles: RefreshingCache[_BundleKey, Bundle | None] = RefreshingCache(limit=limit)
        self._pools: dict[str, PoolRef] = {}
        self._signers: dict[tuple[tuple[str, ...], ...], DkimSigner] = {}

    async def get(self, org_id: str, sandbox_id: str, campaign_id: str, version: int) -> Bundle | None:
        """The bundle of a campaign version, or None when the campaign (or its configuration) is gone.

        Concurrent callers of a missing entry share one load (a worker starts dozens of jobs of the same
        campaign at once; each loading it would be a stampede on the database).
        """
        key = (org_id, sandbox_id, campaign_id, version)

        async def load() -> tuple[Bundle | None, float]:
            return await self._load(key), self._ttl

        return await self._bundles.get(key, load)

    async def close(self) -> None:
        """Close every SMTP pool."""
        pools, self._pools = self._pools, {}
        for ref in pools.values():
            await ref.pool.close()

    async def _load(self, key: _BundleKey) -> Bundle | None:
        org_id, sandbox_id, campaign_id, _ = key
        async with self._unit_of_work() as uow:
            settings = await campaigns.delivery_settings(
                uow, org_id=org_id, sandbox_id=sandbox_id, campaign_id=campaign_id
            )
        if settings is None:
            return None
        return Bundle(settings, await self._channel(settings, tenant_tag(self._secrets, org_id, sandbox_id)))

    async def _channel(self, settings: DeliverySettings, message_id_tag: str) -> Channel:
        """The adapter of the campaign's channel (the only place that tells the channels apart)."""
        content = settings.content.get(settings.channel) or {}
        configuration = settings.configuration
        if settings.channel == "email":
            pool = await self._pool(settings)
            return EmailChannel(
                configuration,
                content,
                pool,
                message_id_tag=message_id_tag,
                tokens=self._tokens,
                dkim=self._dkim(configuration),
                base_url=self._base_url,
                category=settings.category,
                track_opens=settings.track_opens,
                track_clicks=settings.track_clicks,
            )
        if settings.channel == "sms":
            return SmsChannel(content, self._sms(configuration))
        return PushChannel(content, self._push(configuration))

    async def _pool(self, settings: DeliverySettings) -> PoolRef | None:
        """The IP pool's shared reference, pointed at a new SMTP pool (the old one closed) when the IP pool
        has a newer version than the one in use."""
        if settings.pool_id is None:
            return None
        ref = self._pools.get(settings.pool_id)
        if ref is None:
            ref = self._pools[settings.pool_id] = PoolRef(self._smtp(settings), settings.pool_version)
        elif settings.pool_version > ref.version:  # a load that read an older version changes nothing
            replaced = ref.pool
            ref.pool, ref.version = self._smtp(settings), settings.pool_version
            await replaced.close()  # a changed pool: new connections from now on
        return ref

    def _dkim(self, configuration: Mapping[str, Any]) -> DkimSigner | None:
        """The configuration's DKIM signer, if it has keys; kept across bundle reloads while the stored keys
        stay the same, since loading an RSA key (its checks) costs tens of milliseconds of CPU."""
        stored = configuration.get("dkim") or ()
        if not stored:
            return None
        identity = tuple(
            (
                entry["privateKeySealed"],
                entry["algorithm"],
                entry["domain"],
                entry["selector"],
                *(entry.get("headers") or ()),
            )
            for entry in stored
        )
        signer = self._signers.get(identity)
        if signer is None:
            if len(self._signers) >= MAX_BUNDLES:  # keys replaced many times over: start over
                self._signers.clear()
            signer = self._signers[identity] = DkimSigner(load_keys(stored, self._secrets.open))
        return signer

    def _smtp(self, settings: DeliverySettings) -> SmtpPool:
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
        return SmtpPool(
            relays, bind_addresses=settings.bind_addresses, max_connections=settings.max_connections
        )

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
