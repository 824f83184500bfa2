"""The calls' beat task: registered under its stable name, it sends the reminders that are due."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from calls.services import call_book
from calls.tasks import send_call_reminders
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

ASTANA = ZoneInfo("Asia/Almaty")
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=ASTANA).astimezone(UTC)  # Friday noon in Astana


def test_the_beat_task_sends_the_due_reminders():
    call_book(contact=ContactFactory(), start_text="2026-11-23T11:00", topic="", now=NOW)
    with time_machine.travel(datetime(2026, 11, 23, 10, 5, tzinfo=ASTANA), tick=False):
        assert send_call_reminders.name == "contacts.send_call_reminders"
        assert send_call_reminders() == 2
        assert send_call_reminders() == 0
