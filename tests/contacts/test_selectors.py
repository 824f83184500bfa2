"""What the dashboard reads of contacts and their calls: new contacts per local day, the wait
for a first answer, calls booked and cancelled, and the funnel's first steps."""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime, timedelta

import pytest
import time_machine

from contacts.models import Contact, ScheduledCall
from contacts.selectors import (
    contact_first_reply_waits,
    contact_funnel,
    contact_new_by_day,
    scheduled_call_counts_by_day,
)
from tests.factories import ContactFactory, ScheduledCallFactory

pytestmark = pytest.mark.django_db

ALMATY = zoneinfo.ZoneInfo("Asia/Almaty")
SUNDAY = datetime(2026, 11, 22, tzinfo=ALMATY)
TUESDAY = datetime(2026, 11, 24, tzinfo=ALMATY)


def test_new_contacts_are_counted_per_local_day_by_their_verdict_now():
    with time_machine.travel(datetime(2026, 11, 23, 0, 30, tzinfo=ALMATY), tick=False):  # Sunday in UTC
        ContactFactory(is_client=True)
        ContactFactory(is_client=False)
        ContactFactory()
    with time_machine.travel(datetime(2026, 11, 22, 9, 0, tzinfo=ALMATY), tick=False):
        ContactFactory(is_client=True)

    assert contact_new_by_day(since=SUNDAY, until=TUESDAY) == {
        date(2026, 11, 22): {"new": 1, "clients": 1, "not_clients": 0, "unknown": 0},
        date(2026, 11, 23): {"new": 3, "clients": 1, "not_clients": 1, "unknown": 1},
    }


def test_first_reply_waits_are_for_contacts_who_first_wrote_in_the_window_and_got_an_answer():
    wrote = datetime(2026, 11, 23, 10, 0, tzinfo=ALMATY)
    ContactFactory(first_inbound_at=wrote, first_outbound_at=wrote + timedelta(minutes=2))
    ContactFactory(first_inbound_at=wrote)  # never answered
    ContactFactory(first_inbound_at=wrote, first_outbound_at=wrote - timedelta(days=3))  # we wrote first, long ago
    ContactFactory(first_inbound_at=wrote - timedelta(days=5), first_outbound_at=wrote)  # before the window

    assert contact_first_reply_waits(since=SUNDAY, until=TUESDAY) == [(wrote, 120.0)]


def test_calls_are_counted_per_local_day_they_were_booked_with_the_cancelled_ones():
    with time_machine.travel(datetime(2026, 11, 23, 11, 0, tzinfo=ALMATY), tick=False):
        ScheduledCallFactory()
        ScheduledCallFactory(status=ScheduledCall.Status.CANCELLED)

    assert scheduled_call_counts_by_day(since=SUNDAY, until=TUESDAY) == {
        date(2026, 11, 23): {"booked": 2, "cancelled": 1}
    }


def test_the_funnel_follows_contacts_first_seen_in_the_window_to_a_booked_call():
    with time_machine.travel(datetime(2026, 11, 23, 11, 0, tzinfo=ALMATY), tick=False):
        booked = ContactFactory(is_client=True)
        ScheduledCallFactory(contact=booked)
        ScheduledCallFactory(contact=booked)  # two calls, one contact
        ContactFactory(is_client=True)
        ContactFactory(is_client=False)
    with time_machine.travel(datetime(2026, 11, 1, 11, 0, tzinfo=ALMATY), tick=False):
        ScheduledCallFactory(contact=ContactFactory(is_client=True))  # first seen before the window

    assert contact_funnel(since=SUNDAY, until=TUESDAY) == {"contacts": 3, "clients": 2, "calls": 1}
    assert Contact.objects.count() == 4
