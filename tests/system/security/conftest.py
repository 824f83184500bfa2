from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _quiet_settings(settings, send_window):
    """The offline model, follow-ups on, the send window of `send_window` (Mon-Fri 10-19 Almaty,
    no pacing in the sender) without its jitter."""
    settings.LLM_BACKEND = "offline"
    settings.API_THROTTLE_RATE = "10000/min"
    settings.ENABLE_FOLLOW_UPS = True
    settings.FOLLOW_UP_INTERVALS = [24.0, 72.0, 168.0, 336.0, 720.0]
    settings.FOLLOW_UP_JITTER_MINUTES = 0
    settings.FOLLOW_UP_MIN_GAP_HOURS = 20.0
    settings.POST_PURCHASE_ENABLED = True
    settings.MANAGER_PHONES = []
