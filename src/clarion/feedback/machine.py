"""Is an open or a click a person, or a machine fetching on their behalf? The heuristics, in one place.

Opens and clicks are counted apart when a machine made them (``data.machine``, with ``machineReason``):

- **Apple Mail Privacy Protection** (iOS 15+, macOS 12+): Apple's proxies download every remote image of a
  message as it reaches the device, read or not. Their requests carry the bare user agent ``Mozilla/5.0``
  (a real browser or mail client always says more) and come from Apple's network (17.0.0.0/8) →
  ``appleProxy``. Seen through a reverse proxy that hides the client address, the user agent alone decides.
- **Security scanners and link checkers** (Microsoft Defender Safe Links, Proofpoint, Mimecast, Barracuda,
  Cisco IronPort, Symantec, Trend Micro, Sophos…), **previewers and bots** (Slack, Teams, Facebook,
  Google's crawlers, ``curl``, ``python-requests``, headless browsers) → ``userAgent``: a user agent naming
  one of them. Gmail's and Yahoo's image proxies are NOT machines: they fetch when the person opens the mail.
- **Prefetch on arrival**: an open within ``PREFETCH_SECONDS`` of the relay taking the message, or a click
  within ``SCAN_SECONDS``, is faster than a person reads → ``prefetch`` / ``scan``.
- **Every link at once**: a click on a second, different link of the same message within
  ``BURST_SECONDS`` of the previous one is a scanner following every link → ``burst`` (the first of the
  burst cannot be told apart in time and stays as it was recorded).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from functools import lru_cache

PREFETCH_SECONDS = 2.0
SCAN_SECONDS = 2.0
BURST_SECONDS = 1.0
_REMEMBERED_CLICKS = 20_000
"""Messages whose last click is remembered for the burst rule (bounded: the oldest are forgotten)."""

_BOTS = re.compile(
    r"bot\b|bot/|crawler|spider|scanner|preview|headless|phantomjs|python|curl/|wget/|go-http-client|"
    r"java/|okhttp|libwww|httpclient|axios|node-fetch|safelinks|proofpoint|mimecast|barracuda|ironport|"
    r"symantec|trendmicro|trend micro|sophos|fortiguard|forcepoint|zscaler|messagelabs|linkchecker|"
    r"slackbot|facebookexternalhit|skypeuripreview|microsoft office|ms-office|outlook-ios-linkpreview|"
    r"google-read-aloud|googleother|bingpreview|yandex",
    re.IGNORECASE,
)
_APPLE_NETWORK = "17."


@lru_cache(maxsize=8192)
def _robot(user_agent: str) -> bool:
    """Whether a user agent names a scanner, previewer or bot (cached: a few agents make most traffic)."""
    return not user_agent or _BOTS.search(user_agent) is not None


def machine_open(user_agent: str, client: str, seconds_since_sent: float | None) -> str:
    """Why an open is a machine's (``appleProxy``, ``userAgent``, ``prefetch``), or "" for a person."""
    if user_agent.strip() == "Mozilla/5.0" or (not user_agent and client.startswith(_APPLE_NETWORK)):
        return "appleProxy"
    if _robot(user_agent):
        return "userAgent"
    if seconds_since_sent is not None and 0 <= seconds_since_sent < PREFETCH_SECONDS:
        return "prefetch"
    return ""


def machine_click(user_agent: str, seconds_since_sent: float | None) -> str:
    """Why a click is a machine's (``userAgent``, ``scan``), or "" (see ``ClickBursts`` for ``burst``)."""
    if _robot(user_agent):
        return "userAgent"
    if seconds_since_sent is not None and 0 <= seconds_since_sent < SCAN_SECONDS:
        return "scan"
    return ""


class ClickBursts:
    """The last click of recent messages, to tell a scanner following every link from a person."""

    __slots__ = ("_last", "_window")

    def __init__(self, window: float = BURST_SECONDS) -> None:
        self._window = window
        self._last: OrderedDict[str, tuple[float, str]] = OrderedDict()

    def burst(self, message_id: str, url: str, at: float) -> bool:
        """Whether this click follows a click on another link of the message within the window."""
        previous = self._last.get(message_id)
        self._last[message_id] = (at, url)
        self._last.move_to_end(message_id)
        if len(self._last) > _REMEMBERED_CLICKS:
            self._last.popitem(last=False)
        return previous is not None and previous[1] != url and 0 <= at - previous[0] < self._window
