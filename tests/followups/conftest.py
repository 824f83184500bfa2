from __future__ import annotations

import random

import pytest

from contacts.models import Contact
from messaging.models import Message


@pytest.fixture(autouse=True)
def _followup_settings(settings, send_window):
    """The product's defaults, stated here so a test reads them (the send window and no pacing
    in the sender come from the shared `send_window`)."""
    settings.LLM_BACKEND = "offline"
    settings.ENABLE_FOLLOW_UPS = True
    settings.FOLLOW_UP_INTERVALS = [24.0, 72.0, 168.0, 336.0, 720.0]
    settings.FOLLOW_UP_MIN_GAP_HOURS = 20.0
    settings.FOLLOW_UP_BATCH_SIZE = 200


def follow_up_messages(contact: Contact | None = None):
    rows = Message.objects.filter(purpose=Message.Purpose.FOLLOW_UP)
    if contact is not None:
        rows = rows.filter(contact=contact)
    return rows.order_by("timestamp", "pk")


@pytest.fixture
def rng() -> random.Random:
    return random.Random(20261207)
