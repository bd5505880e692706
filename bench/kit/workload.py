"""The workload: the research sample email (``bench/workload/sample_email.html``, 2.6 KB of HTML) and the
same page in Clarion's template syntax, one recipient's ``context``, and the HT request body."""

from __future__ import annotations

from typing import Any

from bench.kit.paths import WORKLOAD_DIR

SAMPLE_HTML = (WORKLOAD_DIR / "sample_email.html").read_text(encoding="utf-8")
"""The research bench's ``sample_email.html`` (2,631 bytes): what every template here renders to."""

CSS = (
    "body{font-family:Arial,sans-serif;color:#333}.btn{background:#0a66c2;color:#fff;padding:12px 20px;"
    "border-radius:4px;text-decoration:none}"
) * 3
"""The page's style sheet (one rule set, three times, as in the sample)."""

SUBJECT = "Your order {{context.order.id}} is confirmed"
TEMPLATE_HTML = (
    '<!DOCTYPE html><html><head><meta charset="utf-8"><title>Your order {{context.order.id}}</title>'
    f"<style>{CSS}</style></head>\n"
    '<body><table width="100%" cellpadding="0" cellspacing="0"><tr><td align="center">'
    '<table width="600" style="border:1px solid #eee">\n'
    '<tr><td style="padding:24px"><h1 style="font-size:22px">'
    "Hi {{context.user.firstName}} {{context.user.lastName}},</h1>\n"
    "<p>Thanks for your order <strong>{{context.order.id}}</strong>. We are getting it ready. "
    "Your plan: {{context.user.plan}}.</p>\n"
    '{{#if context.flags.vip}}<p style="color:#b8860b">As a VIP customer you get free express shipping on '
    "this and every future order.</p>{{else}}<p>Upgrade to VIP for free express shipping.</p>{{/if}}\n"
    '<table width="100%" style="border-collapse:collapse"><tr><th align="left">Item</th><th>Qty</th>'
    '<th align="right">Price</th></tr>\n'
    '{{#each context.order.items}}<tr><td style="padding:4px 0;border-bottom:1px solid #f0f0f0">'
    '{{this.name}} <span style="color:#999">({{this.sku}})</span></td><td align="center">{{this.qty}}</td>'
    '<td align="right">{{this.price}}</td></tr>\n{{/each}}</table>\n'
    '<p style="font-size:18px">Total: <strong>{{context.order.total}} '
    "{{context.order.currency}}</strong></p>\n"
    "{{#if context.flags.firstOrder}}<p>Welcome aboard! Here is 10% off your next order.</p>{{/if}}\n"
    '<p><a class="btn" href="https://example.com/orders/{{context.order.id}}'
    '?utm_campaign={{context.campaign}}">'
    "View your order</a></p>\n"
    '<p style="font-size:12px;color:#999">You receive this email because you are a customer of Example Ltd, '
    "1 Example Street, London. We respect your privacy and will never share your data with third parties. "
    "If you no longer wish to receive these emails you can\n"
    '<a href="{{context.unsubscribeUrl}}">unsubscribe here</a>. Sent to {{context.user.email}}.</p>\n'
    "</td></tr></table></td></tr></table></body></html>"
)
"""``sample_email.html`` of the research bench in Clarion's syntax: 12 ``{{context.*}}`` variables (10
distinct), one ``{{#each}}`` over 5 items, two ``{{#if}}`` blocks; renders to ~2.6 KB."""

ITEMS = [
    {"sku": "SKU-1", "name": "Analytical Engine Manual", "qty": 1, "price": 79.99},
    {"sku": "SKU-2", "name": "Punch Cards (100)", "qty": 2, "price": 25.0},
] + [{"sku": f"SKU-{i}", "name": f"Item <{i}> & co", "qty": i, "price": 9.5 + i} for i in range(3, 6)]


def context(index: int = 0) -> dict[str, Any]:
    """The ``context`` of one recipient (top-level values are objects or strings, as the API requires)."""
    return {
        "user": {
            "firstName": "Ada",
            "lastName": "Lovelace",
            "email": f"ada.{index}@example.org",
            "plan": "pro",
            "locale": "en-GB",
        },
        "order": {"id": f"ORD-2024-{index:06d}", "total": "129.99", "currency": "EUR", "items": ITEMS},
        "campaign": "welcome-series-2024-q4",
        "unsubscribeUrl": "https://example.com/u/abcdef0123456789",
        "flags": {"vip": True, "firstOrder": False},
    }


def ht_body(campaign_id: str, index: int = 0) -> dict[str, Any]:
    """A high-throughput request with one external recipient (its userId is its email address)."""
    return {
        "requestId": f"bench-{index:08d}",
        "campaignId": campaign_id,
        "recipients": [
            {
                "type": "external",
                "userId": f"ada.{index}@example.org",
                "namespace": "email",
                "context": context(index),
            }
        ],
    }
