"""The in-process signal from the call intake to the lanes of the throttle dispatcher."""

from __future__ import annotations

from clarion.outbound.wakeups import LaneWakeups


def test_ringing_wakes_the_lanes_of_that_configuration_only() -> None:
    wakeups = LaneWakeups()
    woken: list[str] = []
    wakeups.listen("a", lambda: woken.append("a1"))
    wakeups.listen("a", lambda: woken.append("a2"))
    wakeups.listen("b", lambda: woken.append("b"))
    wakeups.ring("a")
    wakeups.ring("nobody")
    assert woken == ["a1", "a2"]


def test_a_lane_that_stopped_listening_is_not_woken() -> None:
    wakeups = LaneWakeups()
    woken: list[str] = []

    def wake() -> None:
        woken.append("a")

    wakeups.listen("a", wake)
    wakeups.stop_listening("a", wake)
    wakeups.stop_listening("a", wake)  # twice is harmless
    wakeups.ring("a")
    assert woken == []
