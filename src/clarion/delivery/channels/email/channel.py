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
from clarion.delivery.channels.email.dkim import DkimSigner
from clarion.delivery.channels.email.html_text import html_to_text
from clarion.delivery.channels.email.links import Tracker, mark_links
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

    def __init__(self, content: Mapping[str, Any], *, opens: bool = False, clicks: bool = False) -> None:
        self.subject = compile_template(content["subject"], autoescape=False)
        html = content.get("html")
        # Tracking marks (``links.py``) go into the HTML only; the text is derived from the unmarked source.
        marked = mark_links(html, clicks=clicks, opens=opens) if html and (opens or clicks) else html
        self.html = compile_template(marked, autoescape=True) if marked else None
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
        "_dkim",
        "_html",
        "_list_unsubscribe",
        "_mail_from",
        "_message_id_tag",
        "_pool",
        "_sender",
        "_skeleton",
        "_subject",
        "_text",
        "_tokens",
        "_tracker",
        "_unsubscribe_prefix",
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
        dkim: DkimSigner | None = None,
        base_url: str = "",
        category: str = "Transactional",
        track_opens: bool = False,
        track_clicks: bool = False,
    ) -> None:
        self._configuration = configuration
        self._tokens = tokens
        """Signs each message's bounce address and links (``delivery/tokens.py``); None in test sends."""
        base = base_url.rstrip("/")
        signing = tokens is not None and bool(base)
        tracked = signing and (track_opens or track_clicks)
        templates = EmailTemplates(content, opens=tracked and track_opens, clicks=tracked and track_clicks)
        self._subject, self._html, self._text = templates.subject, templates.html, templates.text
        self._tracker = Tracker(tokens, base) if tracked and tokens is not None else None
        # Marketing mail carries its own one-click unsubscribe link (RFC 8058) before the configuration's.
        self._unsubscribe_prefix = f"{base}/u/" if signing and category == "Marketing" else ""
        listed = (configuration.get("listUnsubscribe") or "").strip()
        self._list_unsubscribe = listed if not listed or listed.startswith("<") else f"<{listed}>"
        self._sender = _sender_templates(configuration)
        self._message_id_tag = message_id_tag
        self._skeleton = None if self._sender else skeleton_for(configuration, {}, message_id_tag)
        self._mail_from: str = (
            "" if self._sender else configuration.get("errorAddress") or configuration["fromAddress"]
        )
        self._pool = pool
        self._dkim = dkim if dkim is None or self._skeleton is None else dkim.for_head(self._skeleton.head)
        """Signs each message after ``write`` (``dkim.py``); None when the configuration has no DKIM key."""
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
        message, mail_from = self.write(recipient, address, message_id)
        if self._verp is not None and message_id:
            tokens, bounce_domain = self._verp
            mail_from = tokens.bounce_address(message_id, bounce_domain)
        raw = message.raw if self._dkim is None else self._dkim.sign(message.raw)
        result = await self._pool.pool.send(mail_from, [address], raw)
        return Attempt(result, address, len(raw), message.message_id)

    def write(self, recipient: Recipient, address: str, message_id: str = "") -> tuple[RenderedMessage, str]:
        """The recipient's message to ``address`` and its envelope sender (``ValueError``: unwritable).

        ``message_id`` (the ledger id) names the message in its unsubscribe and tracking links; without
        one (a test send, a re-render) links stay as written and no one-click header is added."""
        variables = template_variables(recipient)
        skeleton, mail_from = self._skeleton, self._mail_from
        if skeleton is None:
            skeleton, mail_from = self._personalized_sender(variables)
        html = None if self._html is None else self._html.render(variables)
        if html is not None and self._tracker is not None:
            html = self._tracker.apply(html, message_id) if message_id else Tracker.strip(html)
        unsubscribe = None
        if self._unsubscribe_prefix and message_id and self._tokens is not None:
            own = f"<{self._unsubscribe_prefix}{self._tokens.unsubscribe(message_id)}>"
            unsubscribe = f"{own}, {self._list_unsubscribe}" if self._list_unsubscribe else own
        message = skeleton.render(
            to=address,
            subject=self._subject.render(variables),
            html=html,
            text=None if self._text is None else self._text.render(variables),
            list_unsubscribe=unsubscribe,
            one_click=unsubscribe is not None and self._unsubscribe_prefix.startswith("https://"),
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
