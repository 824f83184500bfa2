"""The follow-up runner under the number-safety governor: a paused number moves every touch on
(nothing is written meanwhile), and a contact who left our proactive messages unanswered has
their chain stopped."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine

from followups.models import FollowUp
from followups.runner import followups_run_due
from messaging.models import Message, NumberState
from tests.factories import OutboundMessageFactory, local, silent_client
from tests.followups.conftest import follow_up_messages

pytestmark = pytest.mark.django_db

DUE = local(2026, 12, 8, 11, 0)  # a Tuesday, inside the send window


def test_a_paused_number_defers_the_due_touch_and_writes_nothing(rng):
    followup = silent_client(due=DUE)
    NumberState.objects.create(pk=1, paused_reason=NumberState.Reason.LOGGED_OUT, paused_at=DUE - timedelta(hours=1))

    with time_machine.travel(DUE, tick=False):
        report = followups_run_due(rng=rng)

    assert report.sent == []
    [deferred] = report.deferred
    assert deferred.reason == "the number is paused (its safety)"
    assert deferred.until >= DUE + timedelta(minutes=30)
    assert not follow_up_messages(followup.contact).exists()
    followup.refresh_from_db()
    assert not followup.is_completed


def test_a_contact_who_left_our_proactive_messages_unanswered_gets_no_more_touches(rng, settings):
    settings.PROACTIVE_MAX_UNANSWERED = 2
    followup = silent_client(due=DUE, touch_number=3, quiet_hours=24 * 5)
    for days_ago in (4, 2):
        OutboundMessageFactory(
            contact=followup.contact,
            purpose=Message.Purpose.FOLLOW_UP,
            status=Message.Status.SENT,
            timestamp=DUE - timedelta(days=days_ago),
        )

    with time_machine.travel(DUE, tick=False):
        followups_run_due(rng=rng)

    followup.refresh_from_db()
    assert (followup.is_completed, followup.stop_reason) == (True, FollowUp.StopReason.UNANSWERED)
    assert not follow_up_messages(followup.contact).filter(status=Message.Status.QUEUED).exists()
