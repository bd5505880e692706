"""The plain-text alternative made from an HTML template."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clarion.delivery.channels.email.html_text import html_to_text


def test_invisible_elements_are_dropped() -> None:
    html = (
        "<html><head><title>Title</title><meta charset='utf-8'><style>p{color:red}</style></head>"
        "<body><script>var s = '<p>no</p>';</script><p>Visible</p></body></html>"
    )
    assert html_to_text(html) == "Visible"


def test_an_unclosed_head_ends_at_body() -> None:
    assert html_to_text("<head><title>T</title><body><p>Shown</p>") == "Shown"


def test_blocks_become_line_breaks_and_paragraphs_blank_lines() -> None:
    html = "<h1>Title</h1><p>One\n   two</p><div>Three</div><div>Four<br>Five<br/><br>Six</div><p>End</p>"
    assert html_to_text(html) == "Title\n\nOne two\n\nThree\nFour\nFive\n\nSix\n\nEnd"


def test_lists_and_tables() -> None:
    html = (
        "<ul><li>Apples</li><li>Pears</li></ul>"
        "<table><tr><th>Item</th><th>Qty</th></tr><tr><td>Tea</td><td>2</td></tr></table>"
    )
    assert html_to_text(html) == "- Apples\n- Pears\n\nItem Qty\nTea 2"


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ('<a href="https://ex.example/o/1">View order</a>', "View order (https://ex.example/o/1)"),
        ('<a href="https://ex.example">https://ex.example</a>', "https://ex.example"),
        ('<a href="mailto:help@ex.example">help@ex.example</a>', "help@ex.example"),
        ('<a href="mailto:help@ex.example">Write to us</a>', "Write to us (mailto:help@ex.example)"),
        ('<a href="https://ex.example/x"><img src="l.png" alt="Logo"></a>', "Logo (https://ex.example/x)"),
        ('<a href="https://ex.example/x"><img src="l.png"></a>', "https://ex.example/x"),
        ('<a href="#top">Top</a>', "Top"),
        ("<a>No href</a>", "No href"),
        ('<a href="https://a.example/?x=1&amp;y=2">Go</a>', "Go (https://a.example/?x=1&y=2)"),
    ],
)
def test_links_and_images(html: str, text: str) -> None:
    assert html_to_text(html) == text


def test_entities_are_decoded() -> None:
    html = "<p>Fish &amp; chips &lt;3 &eacute;t&#233; &#x1F389; &quot;q&quot; a&nbsp;&nbsp;b</p>"
    assert html_to_text(html) == 'Fish & chips <3 été 🎉 "q" a b'


def test_preheader_padding_is_removed() -> None:
    assert html_to_text("<div>Preview&zwnj;&nbsp;&zwnj;&nbsp;&#8203;</div><p>Body</p>") == "Preview\n\nBody"


def test_template_expressions_survive_in_text_and_links() -> None:
    html = (
        "<p>Hi {{profile.person.name.firstName}},&nbsp;order <b>{{context.order.id}}</b></p>"
        "{%#if profile.age > 18 && a<b%}<p>Adult</p>{%else%}<p>Kid</p>{%/if%}"
        '<p><a href="https://ex.example/o/{{context.order.id}}?t={%= token %}">Track</a></p>'
        "<p>{{{raw.html}}} {{!-- a <p> comment --}} {{  spaced   expr  }}</p>"
    )
    assert html_to_text(html) == (
        "Hi {{profile.person.name.firstName}}, order {{context.order.id}}\n\n"
        "{%#if profile.age > 18 && a<b%}\n\nAdult\n\n{%else%}\n\nKid\n\n{%/if%}\n\n"
        "Track (https://ex.example/o/{{context.order.id}}?t={%= token %})\n\n"
        "{{{raw.html}}} {{!-- a <p> comment --}} {{  spaced   expr  }}"
    )


def test_expression_as_the_whole_link() -> None:
    html = '<a href="{{context.url}}">{{context.url}}</a> <a href="{{context.url}}">Open</a>'
    assert html_to_text(html) == "{{context.url}} Open ({{context.url}})"


def test_pre_keeps_its_line_breaks() -> None:
    assert (
        html_to_text("<p>Code:</p><pre>line 1\nline 2</pre><p>After</p>")
        == "Code:\n\nline 1\nline 2\n\nAfter"
    )


SAMPLE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>Your order ORD-2024-000123</title>
<style>body{font-family:Arial,sans-serif;color:#333}.btn{background:#0a66c2;color:#fff}</style></head>
<body><table width="100%" cellpadding="0" cellspacing="0"><tr><td align="center"><table width="600">
<tr><td style="padding:24px"><h1 style="font-size:22px">Hi Ada Lovelace,</h1>
<p>Thanks for your order <strong>ORD-2024-000123</strong>. We are getting it ready. Your plan: pro.</p>
<table width="100%"><tr><th align="left">Item</th><th>Qty</th><th>Price</th></tr>
<tr><td>Analytical Engine Manual <span style="color:#999">(SKU-1)</span></td><td>1</td><td>79.99</td></tr>
<tr><td>Item &lt;3&gt; &amp; co <span style="color:#999">(SKU-3)</span></td><td>3</td><td>12.5</td></tr>
</table>
<p style="font-size:18px">Total: <strong>129.99 EUR</strong></p>

<p><a href="https://example.com/orders/ORD-2024-000123?utm_campaign=welcome">View your order</a></p>
<p style="font-size:12px;color:#999">If you no longer wish to receive these emails you can
<a href="https://example.com/u/abcdef0123456789">unsubscribe here</a>. Sent to ada.lovelace@example.com.</p>
</td></tr></table></td></tr></table></body></html>"""


def test_sample_campaign_email() -> None:
    assert html_to_text(SAMPLE) == (
        "Hi Ada Lovelace,\n\n"
        "Thanks for your order ORD-2024-000123. We are getting it ready. Your plan: pro.\n\n"
        "Item Qty Price\n"
        "Analytical Engine Manual (SKU-1) 1 79.99\n"
        "Item <3> & co (SKU-3) 3 12.5\n\n"
        "Total: 129.99 EUR\n\n"
        "View your order (https://example.com/orders/ORD-2024-000123?utm_campaign=welcome)\n\n"
        "If you no longer wish to receive these emails you can unsubscribe here "
        "(https://example.com/u/abcdef0123456789). Sent to ada.lovelace@example.com."
    )


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_any_input_gives_text_without_markup_artifacts(html: str) -> None:
    text = html_to_text(html)
    for mark in "\ue002\ue003":  # the private-use characters marking line breaks never leak
        assert mark not in text or mark in html
    assert "\n\n\n" not in text
    assert text == text.strip("\n ")


@settings(max_examples=200, deadline=None)
@given(st.from_regex(r"[a-z.]{1,20}", fullmatch=True))
def test_any_expression_is_kept_verbatim(path: str) -> None:
    expression = "{{" + path + "}}"
    assert html_to_text(f"<p>x {expression} y</p>") == f"x {expression} y"
