"""The email channel: a campaign version's compiled content, its MIME skeleton, and the IP pool's SMTP pool.

The fast path does per message only what differs per recipient: the address, the rendered subject and
bodies, and the bytes of the ``To``/``Subject``/``Date``/``Message-ID`` lines around the skeleton built once
per version. Only a configuration whose sender fields are personalized (``{{…}}`` in ``fromAddress`` …)
renders them and builds a skeleton per message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from clarion.delivery.channels.base import Attempt, SendResult, template_variables
from clarion.delivery.channels.email.html_text import html_to_text
from clarion.delivery.channels.email.mime import MessageSkeleton, RenderedMessage, build_skeleton
from clarion.delivery.channels.email.smtp import SmtpPool
from clarion.delivery.schemas import Recipient
from clarion.delivery.tokens import MessageTokens
from clarion.templating import Template, compile_template

_SENDER_FIELDS = ("fromAddress", "fromName", "replyTo", "errorAddress")
_NO_ADDRESS = Attempt(SendResult("failed", "no email address: set channelData.emailAddress"), "", 0)
_NO_POOL = SendResult("failed", "the channel configuration has no IP pool")


class PoolRef:
    """The SMTP pool an IP pool has now. The bundle cache swaps ``pool`` in place when the IP pool changes, so
    every bundle built earlier (still cached, or served while it is being reloaded) sends through the new one
    and never through the pool it closed."""

    __slots__ = ("pool", "version")

    def __init__(self, pool: SmtpPool, version: int) -> None:
        self.pool = pool
        self.version = version


class RenderedEmail(NamedTuple):
    """A recipient's subject and bodies (``None`` for a body the content has not)."""

    subject: str
    html: str | None
    text: str | None


class EmailTemplates:
    """An email version's compiled subject, HTML and text: what every message of it is rendered with.

    The text alternative, when the content has none, is derived from the HTML *template* once per version,
    not per message. The console's preview renders with this same class (``delivery/preview.py``).
    """

    __slots__ = ("html", "subject", "text")

    def __init__(self, content: Mapping[str, Any]) -> None:
        self.subject = compile_template(content["subject"], autoescape=False)
        html = content.get("html")
        self.html = compile_template(html, autoescape=True) if html else None
        text = content.get("text") or (html_to_text(html) if html else None)
        self.text = compile_template(text, autoescape=False) if text else None

    def render(self, variables: Mapping[str, Any]) -> RenderedEmail:
        """The subject and bodies for one recipient's ``{"context": …, "profile": …}``."""
        return RenderedEmail(
            self.subject.render(variables),
            None if self.html is None else self.html.render(variables),
            None if self.text is None else self.text.render(variables),
        )


class EmailChannel:
    """An email campaign version ready to send."""

    __slots__ = (
        "_configuration",
        "_html",
        "_mail_from",
        "_message_id_tag",
        "_pool",
        "_sender",
        "_skeleton",
        "_subject",
        "_text",
        "_tokens",
        "_verp",
    )

    def __init__(
        self,
        configuration: Mapping[str, Any],
        content: Mapping[str, Any],
        pool: PoolRef | None,
        *,
        message_id_tag: str = "",
        tokens: MessageTokens | None = None,
    ) -> None:
        self._configuration = configuration
        self._tokens = tokens
        """Signs each message's bounce address and links (``delivery/tokens.py``); None in test sends."""
        templates = EmailTemplates(content)
        self._subject, self._html, self._text = templates.subject, templates.html, templates.text
        self._sender = _sender_templates(configuration)
        self._message_id_tag = message_id_tag
        self._skeleton = None if self._sender else skeleton_for(configuration, {}, message_id_tag)
        self._mail_from: str = (
            "" if self._sender else configuration.get("errorAddress") or configuration["fromAddress"]
        )
        self._pool = pool
        bounce_domain = configuration.get("bounceDomain") or ""
        self._verp = (tokens, bounce_domain) if tokens is not None and bounce_domain else None
        """With a bounce domain each message's envelope sender names the message (``b-<token>@domain``)."""

    async def send(self, recipient: Recipient, message_id: str = "") -> Attempt:
        """Write the recipient's message and hand it to the SMTP pool (bounces go to the message's VERP
        address on the configuration's ``bounceDomain``, else to ``errorAddress``)."""
        address = email_address(recipient)
        if not address:
            return _NO_ADDRESS
        if self._pool is None:
            return Attempt(_NO_POOL, address, 0)
        message, mail_from = self.write(recipient, address)
        if self._verp is not None and message_id:
            tokens, bounce_domain = self._verp
            mail_from = tokens.bounce_address(message_id, bounce_domain)
        result = await self._pool.pool.send(mail_from, [address], message.raw)
        return Attempt(result, address, len(message.raw), message.message_id)

    def write(self, recipient: Recipient, address: str) -> tuple[RenderedMessage, str]:
        """The recipient's message to ``address`` and its envelope sender (``ValueError``: unwritable)."""
        variables = template_variables(recipient)
        skeleton, mail_from = self._skeleton, self._mail_from
        if skeleton is None:
            skeleton, mail_from = self._personalized_sender(variables)
        message = skeleton.render(
            to=address,
            subject=self._subject.render(variables),
            html=None if self._html is None else self._html.render(variables),
            text=None if self._text is None else self._text.render(variables),
        )
        return message, mail_from

    def _personalized_sender(self, variables: Mapping[str, Any]) -> tuple[MessageSkeleton, str]:
        """The skeleton and envelope sender of one recipient when the sender fields are templates."""
        sender = {name: template.render(variables) for name, template in self._sender.items()}
        configuration = self._configuration
        mail_from = (
            sender["errorAddress"]
            or configuration.get("errorAddress")
            or sender["fromAddress"]
            or configuration["fromAddress"]
        )
        return skeleton_for(configuration, sender, self._message_id_tag), mail_from


def email_address(recipient: Recipient) -> str:
    """``channelData.emailAddress``, else the profile's ``personalEmail.address``, else an email user id."""
    channel_data = recipient.channelData
    if channel_data is not None and channel_data.emailAddress:
        return channel_data.emailAddress
    profile = recipient.profile or {}
    personal = profile.get("personalEmail")
    address = personal.get("address") if isinstance(personal, dict) else None
    if address:
        return str(address)
    if recipient.namespace.lower() == "email" or "@" in recipient.userId:
        return recipient.userId
    return ""


def _sender_templates(configuration: Mapping[str, Any]) -> dict[str, Template]:
    """Compiled sender fields when any is personalized (standard mode only); empty when all are fixed."""
    fields = {name: configuration.get(name) or "" for name in _SENDER_FIELDS}
    if not any("{{" in value or "{%" in value for value in fields.values()):
        return {}
    return {name: compile_template(value, autoescape=False) for name, value in fields.items()}


def skeleton_for(
    configuration: Mapping[str, Any], sender: Mapping[str, str], message_id_tag: str = ""
) -> MessageSkeleton:
    """The MIME skeleton of a configuration, with rendered sender fields when they are personalized."""
    from_address = sender.get("fromAddress") or configuration["fromAddress"]
    return build_skeleton(
        from_address=from_address,
        from_name=(sender.get("fromName") if sender else configuration.get("fromName")) or None,
        reply_to=(sender.get("replyTo") if sender else configuration.get("replyTo")) or None,
        headers=configuration.get("headers") or {},
        list_unsubscribe=configuration.get("listUnsubscribe"),
        message_id_domain=from_address.rpartition("@")[2] or "clarion.local",
        message_id_tag=message_id_tag,
    )
