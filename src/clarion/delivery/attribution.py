"""Whose message is a captured mail? A tag in the Message-ID that only this instance can make or read.

Every email Clarion writes has the Message-ID ``<32 random hex.TAG@sender-domain>``, where ``TAG`` is
``SecretBox.tag`` of the organization and sandbox that sent it (HMAC-SHA256 under the instance's secret key,
20 base32 characters). A recipient sees only an opaque label: no organization id, nothing to link to one
without the key, and nobody without the key can forge another tenant's tag. The bundled SMTP capture keeps
each message's Message-ID in its index, so reading the outbox is a string comparison per message (no
database read per mail): ``/v1/outbox`` shows a caller only mail tagged with its organization and sandbox,
and mail whose tag is no tenant's (sent to the capture port by something else) only to the operator.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from clarion.devsmtp.outbox import CapturedMail
from clarion.kit.secretbox import SecretBox

PURPOSE = "clarion/message-id/tenant"
TAG_LENGTH = 20


def tenant_tag(secrets: SecretBox, org_id: str, sandbox_id: str) -> str:
    """The Message-ID tag of the messages an organization's sandbox sends."""
    return secrets.tag(PURPOSE, f"{org_id}/{sandbox_id}", length=TAG_LENGTH)


def tag_of(message_id: str) -> str:
    """The tag in a Message-ID Clarion wrote (``<hex.TAG@domain>``); ``""`` for any other Message-ID."""
    left = message_id.strip().lstrip("<").partition("@")[0]
    _, dot, tag = left.rpartition(".")
    return tag if dot and len(tag) == TAG_LENGTH else ""


_FEW_TAGS = 8
"""Up to this many tags, a substring search per tag beats parsing each Message-ID (one C-level scan)."""


@dataclass(frozen=True, slots=True)
class OutboxScope:
    """Which captured mail a reader may see: that of ``tags`` or, with ``exclude``, everything else."""

    tags: frozenset[str]
    exclude: bool = False
    _needles: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_needles", tuple(f".{tag}@" for tag in self.tags))

    def admits(self, mail: CapturedMail) -> bool:
        """True when ``mail`` is in this scope."""
        if len(self._needles) <= _FEW_TAGS:
            # ".TAG@" can only be the end of the left part: a Message-ID has one "@".
            ours = any(needle in mail.message_id for needle in self._needles)
        else:
            ours = tag_of(mail.message_id) in self.tags
        return ours != self.exclude


def tenant_scope(secrets: SecretBox, org_id: str, sandbox_ids: Iterable[str]) -> OutboxScope:
    """The mail of these sandboxes of an organization."""
    return OutboxScope(frozenset(tenant_tag(secrets, org_id, sandbox_id) for sandbox_id in sandbox_ids))


def unattributed_scope(secrets: SecretBox, tenants: Iterable[tuple[str, str]]) -> OutboxScope:
    """Mail that none of ``tenants`` (every ``(org_id, sandbox_id)`` of the instance) sent."""
    tags = frozenset(tenant_tag(secrets, org_id, sandbox_id) for org_id, sandbox_id in tenants)
    return OutboxScope(tags, exclude=True)
