from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

import messaging.tasks

SECRET = "security-webhook-secret"


@pytest.fixture(autouse=True)
def _quiet_settings(settings):
    """The offline model, no pacing in the sender, follow-ups on, Mon-Fri 10-19 Almaty."""
    settings.LLM_BACKEND = "offline"
    settings.API_THROTTLE_RATE = "10000/min"
    settings.ENABLE_FOLLOW_UPS = True
    settings.FOLLOW_UP_INTERVALS = [24.0, 72.0, 168.0, 336.0, 720.0]
    settings.FOLLOW_UP_SEND_DAYS = ["mon", "tue", "wed", "thu", "fri"]
    settings.FOLLOW_UP_SEND_START = 10
    settings.FOLLOW_UP_SEND_END = 19
    settings.FOLLOW_UP_JITTER_MINUTES = 0
    settings.FOLLOW_UP_MIN_GAP_HOURS = 20.0
    settings.PROACTIVE_DAILY_LIMIT = 100
    settings.SEND_MIN_GAP_SECONDS = 0
    settings.SEND_GAP_JITTER_SECONDS = 0
    settings.POST_PURCHASE_ENABLED = True
    settings.MANAGER_PHONES = []


@pytest.fixture
def handed_over(settings, monkeypatch) -> list[Any]:
    """Payloads the webhook view hands to the ingest task (nothing reaches the broker)."""
    settings.WAPPI_WEBHOOK_SECRET = SECRET
    payloads: list[Any] = []

    def delay(payload: Any) -> None:
        payloads.append(payload)

    stand_in = SimpleNamespace(delay=delay, apply_async=lambda args=(), kwargs=None, **_options: delay(*args))
    monkeypatch.setattr(messaging.tasks, "ingest_webhook", stand_in)
    return payloads
