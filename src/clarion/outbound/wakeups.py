"""'A call was just queued for throttling configuration X' inside one process.

The call intake rings; the dispatcher's lane for X listens and looks for calls at once instead of at its
next poll. ``services.py`` creates one ``LaneWakeups`` per process and hands it to both, so neither needs
the other (lanes in other processes find the call at their next poll).
"""

from __future__ import annotations

from collections.abc import Callable

Wake = Callable[[], None]


class LaneWakeups:
    """The lanes listening per throttling configuration, and the bell that wakes them."""

    def __init__(self) -> None:
        self._listeners: dict[str, list[Wake]] = {}

    def ring(self, config_uid: str) -> None:
        """A call was just queued for ``config_uid``: wake its lanes."""
        for wake in self._listeners.get(config_uid, ()):
            wake()

    def listen(self, config_uid: str, wake: Wake) -> None:
        """Call ``wake`` whenever a call is queued for ``config_uid``, until ``stop_listening``."""
        self._listeners.setdefault(config_uid, []).append(wake)

    def stop_listening(self, config_uid: str, wake: Wake) -> None:
        """Undo ``listen`` (the lane stopped)."""
        listeners = self._listeners.get(config_uid, [])
        if wake in listeners:
            listeners.remove(wake)
        if not listeners:
            self._listeners.pop(config_uid, None)
