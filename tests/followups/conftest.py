from __future__ import annotations

import random
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from contacts.models import Contact
from followups.models import FollowUp
from messaging.models import Message
from tests.factories import ContactFactory, FollowUpFactory, InboundMessageFactory, OutboundMessageFactory

ALMATY = ZoneInfo("Asia/Almaty")


def local(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=ALMATY)


@pytest.fixture(autouse=True)
def _followup_settings(settings):
    """The product's defaults, stated here so a test reads them; no pacing in the sender."""
    settings.LLM_BACKEND = "offline"
    settings.ENABLE_FOLLOW_UPS = True
    settings.FOLLOW_UP_INTERVALS = [24.0, 72.0, 168.0, 336.0, 720.0]
    settings.FOLLOW_UP_SEND_DAYS = ["mon", "tue", "wed", "thu", "fri"]
    settings.FOLLOW_UP_SEND_START = 10
    settings.FOLLOW_UP_SEND_END = 19
    settings.FOLLOW_UP_JITTER_MINUTES = 7
    settings.FOLLOW_UP_MIN_GAP_HOURS = 20.0
    settings.FOLLOW_UP_BATCH_SIZE = 200
    settings.PROACTIVE_DAILY_LIMIT = 100
    settings.SEND_MIN_GAP_SECONDS = 0
    settings.SEND_GAP_JITTER_SECONDS = 0


def client_contact(**fields) -> Contact:
    return ContactFactory(**{"is_client": True, "classified_by": "model", **fields})


def silent_client(*, due: datetime, touch_number: int = 1, quiet_hours: float = 24, **contact_fields) -> FollowUp:
    """A client who asked, got the bot's answer `quiet_hours` before `due`, and went silent;
    their chain's touch `touch_number` is due at `due`."""
    contact = client_contact(**contact_fields)
    answered_at = due - timedelta(hours=quiet_hours)
    InboundMessageFactory(
        contact=contact,
        text="Здравствуйте, сколько стоит доставка воды в офис?",
        timestamp=answered_at - timedelta(minutes=5),
        received_at=answered_at - timedelta(minutes=5),
    )
    reply = OutboundMessageFactory(
        contact=contact,
        text="Здравствуйте! Доставим в любой район Алматы. Сколько бутылей нужно в неделю? 😊",
        status=Message.Status.SENT,
        timestamp=answered_at,
        sent_at=answered_at,
    )
    return FollowUpFactory(
        contact=contact, touch_number=touch_number, next_touch_at=due, anchor_message=reply, anchor_at=answered_at
    )


def follow_up_messages(contact: Contact | None = None):
    rows = Message.objects.filter(purpose=Message.Purpose.FOLLOW_UP)
    if contact is not None:
        rows = rows.filter(contact=contact)
    return rows.order_by("timestamp", "pk")


@pytest.fixture
def rng() -> random.Random:
    return random.Random(20261207)


def now() -> datetime:
    return timezone.now()
