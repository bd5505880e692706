"""Tracked links and the open pixel: found once in the template, signed per message, escaped right."""

from __future__ import annotations

import email
import email.policy
from html.parser import HTMLParser

import pytest

from clarion.delivery.channels.email.channel import EmailChannel
from clarion.delivery.channels.email.links import LINK_OPEN, PIXEL, Tracker, mark_links
from clarion.delivery.schemas import Recipient
from clarion.delivery.tokens import MessageTokens
from clarion.kit.secretbox import SecretBox, new_key
from clarion.templating import compile_template

BASE = "https://clarion.example"
MESSAGE = "0b8f5e2a-8f55-4a57-9a55-0f5c0f5d6e7a:3"
TOKENS = MessageTokens(SecretBox(new_key()))


class Anchors(HTMLParser):
    """Every ``<a href>`` and ``<img src>`` of a document, decoded as a browser would."""

    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.images: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.hrefs.extend(value or "" for name, value in attrs if name == "href")
        if tag == "img":
            self.images.append(dict(attrs))


def parsed(document: str) -> Anchors:
    anchors = Anchors()
    anchors.feed(document)
    return anchors


def render(source: str, context: dict[str, object] | None = None, *, opens: bool = True) -> str:
    template = compile_template(mark_links(source, clicks=True, opens=opens), autoescape=True)
    return Tracker(TOKENS, BASE).apply(template.render({"context": context or {}}), MESSAGE)


def original(href: str) -> str:
    assert href.startswith(f"{BASE}/t/c/"), href
    click = TOKENS.read_click(href.removeprefix(f"{BASE}/t/c/"))
    assert click is not None
    assert click.message_id == MESSAGE
    return click.url


def test_every_web_link_is_signed_with_its_url_unescaped() -> None:
    html = (
        '<html><body><a href="https://shop.example/a?x=1&amp;y=2">A</a>'
        "<A class=big HREF='http://shop.example/b'>B</A>"
        "<a href=https://shop.example/c>C</a>"
        '<a title="x" href=" https://shop.example/d ">D</a></body></html>'
    )
    hrefs = parsed(render(html)).hrefs
    assert [original(href) for href in hrefs] == [
        "https://shop.example/a?x=1&y=2",
        "http://shop.example/b",
        "https://shop.example/c",
        "https://shop.example/d",
    ]


def test_personalized_links_sign_the_url_rendered_for_the_recipient() -> None:
    html = (
        '<a href="https://shop.example/o/{{context.order}}?u={{context.user}}">Order</a>'
        '<a href="{{context.link}}">Yours</a><a href="{{context.other}}">Other</a>'
    )
    context: dict[str, object] = {
        "order": "A 1",
        "user": "ada&bob",
        "link": "https://x.example/?q=<1>",
        "other": "mailto:a@b.c",
    }
    hrefs = parsed(render(html, context)).hrefs
    assert original(hrefs[0]) == "https://shop.example/o/A 1?u=ada&bob"
    assert original(hrefs[1]) == "https://x.example/?q=<1>"
    assert hrefs[2] == "mailto:a@b.c"  # rendered to another scheme: left as it was


def test_links_that_are_not_web_links_or_opted_out_are_left_alone() -> None:
    html = (
        '<a href="mailto:help@shop.example">m</a><a href="tel:+123">t</a><a href="#top">a</a>'
        '<a href="https://shop.example/private" data-clarion-track="off">p</a>'
        f'<a href="{BASE}/u/sometoken">unsubscribe</a><a name="anchor">no href</a>'
        '<a href="/relative">r</a><abbr href="https://shop.example/x">not a link</abbr>'
    )
    hrefs = parsed(render(html)).hrefs
    assert hrefs == [
        "mailto:help@shop.example",
        "tel:+123",
        "#top",
        "https://shop.example/private",
        f"{BASE}/u/sometoken",
        "/relative",
    ]
    assert LINK_OPEN not in render(html)


def test_the_pixel_goes_before_the_last_body_end_or_at_the_end() -> None:
    with_body = render("<html><body><p>Hi</p></body></html>")
    assert with_body.endswith("</body></html>")
    [image] = parsed(with_body).images
    assert image["width"] == "1"
    assert image["height"] == "1"
    assert image["alt"] == ""
    src = str(image["src"])
    assert src.startswith(f"{BASE}/t/o/")
    assert TOKENS.read_open(src.removeprefix(f"{BASE}/t/o/")) == MESSAGE
    fragment = render("<p>Hi</p>")
    assert fragment.startswith("<p>Hi</p><img ")
    assert PIXEL not in render("{{#each context.xs}}</body>{{/each}}", {"xs": [1, 2, 3]})


def test_raw_output_cannot_forge_a_marker() -> None:
    forged = f"{LINK_OPEN}https://evil.example"
    html = '<p>{{{context.raw}}}</p><a href="https://shop.example/">ok</a>'
    out = render(html, {"raw": forged}, opens=False)
    assert out.startswith(f"<p>{forged}</p>")  # left as text, never signed
    assert [original(href) for href in parsed(out).hrefs] == ["https://shop.example/"]


def test_a_message_without_an_id_keeps_its_links_as_written() -> None:
    template = compile_template(
        mark_links('<a href="https://shop.example/">x</a></body>', clicks=True, opens=True), autoescape=True
    )
    assert Tracker.strip(template.render({})) == '<a href="https://shop.example/">x</a></body>'


def channel(category: str, *, base: str = BASE, clicks: bool = True, **configuration: str) -> EmailChannel:
    return EmailChannel(
        {"fromAddress": "news@shop.example", **configuration},
        {"subject": "Hi", "html": '<p><a href="https://shop.example/a">Shop</a></p>'},
        None,
        tokens=TOKENS,
        base_url=base,
        category=category,
        track_opens=clicks,
        track_clicks=clicks,
    )


def mail(sender: EmailChannel, message_id: str = MESSAGE) -> email.message.EmailMessage:
    recipient = Recipient(index=3, userId="ada@example.com", namespace="email")
    message, _ = sender.write(recipient, "ada@example.com", message_id)
    parsed_mail = email.message_from_bytes(message.raw, policy=email.policy.default)
    assert isinstance(parsed_mail, email.message.EmailMessage)
    return parsed_mail


def test_marketing_mail_carries_its_one_click_unsubscribe_link() -> None:
    parsed_mail = mail(channel("Marketing", listUnsubscribe="mailto:leave@shop.example"))
    uris = [part.strip().strip("<>") for part in str(parsed_mail["List-Unsubscribe"]).split(",")]
    assert uris[1] == "mailto:leave@shop.example"
    assert uris[0].startswith(f"{BASE}/u/")
    assert TOKENS.read_unsubscribe(uris[0].removeprefix(f"{BASE}/u/")) == MESSAGE
    assert parsed_mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    html = parsed_mail.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert original(parsed(html).hrefs[0]) == "https://shop.example/a"
    text = parsed_mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "https://shop.example/a" in text
    assert "/t/c/" not in text


@pytest.mark.parametrize("category", ["Transactional", "Marketing"])
def test_transactional_mail_and_test_sends_have_no_unsubscribe_link_of_ours(category: str) -> None:
    message_id = MESSAGE if category == "Transactional" else ""  # "": a test send, no ledger id
    parsed_mail = mail(channel(category, clicks=False), message_id)
    assert parsed_mail["List-Unsubscribe"] is None
    assert parsed_mail["List-Unsubscribe-Post"] is None
    configured = mail(channel(category, clicks=False, listUnsubscribe="<mailto:x@shop.example>"), message_id)
    assert configured["List-Unsubscribe"] == "<mailto:x@shop.example>"  # the configuration's, as before
    assert configured["List-Unsubscribe-Post"] is None


def test_an_http_base_url_gets_the_link_but_no_one_click_claim() -> None:
    # RFC 8058 one-click needs an https URI: a development server's http link is only RFC 2369's.
    parsed_mail = mail(channel("Marketing", base="http://127.0.0.1:8080"))
    assert str(parsed_mail["List-Unsubscribe"]).startswith("<http://127.0.0.1:8080/u/")
    assert parsed_mail["List-Unsubscribe-Post"] is None


def test_unclosed_tags_cost_no_backtracking() -> None:
    # Each of these took exponential or quadratic time with overlapping patterns (a worker stuck compiling
    # one tenant's campaign); now they return at once, their broken tags untracked.
    for html in ("<a " + "{{x}}" * 40, '<a href="' + "{{x}}" * 40, "<a " * 20_000, '<a href="{{' * 20_000):
        assert mark_links(html, clicks=True, opens=False) == html
    assert LINK_OPEN in mark_links(
        '<a href="https://x.example/{{a}}" title="{{b}}">ok</a>', clicks=True, opens=False
    )
