"""The call services announce a booking; follow-ups react. A missing connection fails here."""

from __future__ import annotations

from calls import signals
from tests.dispatch import receivers_of


def test_a_booked_call_reaches_the_follow_ups():
    assert receivers_of(signals.call_booked) == ["followups.stop_when_call_booked"]
