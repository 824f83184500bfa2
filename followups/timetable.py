"""The follow-up timetable: pure functions of their inputs (no database, no clock, no settings).

Touch 1 is due `intervals[0]` hours after the bot's last message; touch k+1 is due
`intervals[k]` hours after touch k went out. When a touch may actually go out (the send window,
the per-contact gap, the daily cap) is the proactive gate's business (messaging.proactive,
messaging.window), the same for every message we start ourselves.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from messaging.window import aware

MAX_TOUCHES = 5


def touch_due_at(*, touch_number: int, after: datetime, intervals: Sequence[float]) -> datetime:
    """When touch `touch_number` (1..5) is due: `intervals[touch_number - 1]` hours after
    `after`, which is the bot's last message for touch 1 and touch k's send time for touch
    k+1. Fractions of hours are honoured to the second."""
    if not 1 <= touch_number <= MAX_TOUCHES:
        raise ValueError(f"touch number {touch_number} is not 1..{MAX_TOUCHES}")
    if len(intervals) < touch_number:
        raise ValueError(f"{len(intervals)} intervals given, touch {touch_number} needs its own")
    aware(after)
    return after + timedelta(seconds=round(float(intervals[touch_number - 1]) * 3600))
