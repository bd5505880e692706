"""``clarion_message_events_total{kind, channel}``: every message event counted where it is produced.

The counter belongs to delivery, which produces the events (the worker's attempt outcomes,
``feedback.record_feedback``), and is registered by ``ops.metrics.Metrics`` in each application's registry:
domains never import ``ops``, and ``ops`` already reads domains. It is a ``prometheus_client`` counter rather
than a tally of our own so that ``clarion serve --workers N`` (``PROMETHEUS_MULTIPROC_DIR``) merges every
process's counts like the other counters. ``kind`` is the wire name (``deferred``, ``bounced``, …).
"""

from __future__ import annotations

from typing import Any

from prometheus_client import Counter

MESSAGE_EVENTS = Counter(
    "clarion_message_events",
    "Message events recorded, by kind (sent, deferred, failed, expired, suppressed, bounced, complained, "
    "unsubscribed, opened, clicked, resent) and channel",
    ["kind", "channel"],
    registry=None,  # registered by each application's ``Metrics``
)
_children: dict[tuple[str, str], Any] = {}


def count_event(kind: str, channel: str, amount: int = 1) -> None:
    """Count ``amount`` events of a kind on a channel (label children cached: the worker's hot path)."""
    key = (kind, channel)
    child = _children.get(key)
    if child is None:
        child = _children[key] = MESSAGE_EVENTS.labels(kind, channel)
    child.inc(amount)
