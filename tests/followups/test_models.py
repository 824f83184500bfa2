"""The database itself rejects follow-ups that must never be stored, whatever code path writes them."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction
from django.utils.timezone import now

from followups.models import FollowUp
from tests.factories import FollowUpFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("touch", [0, 6])
def test_a_follow_up_touch_outside_1_to_5_is_rejected(touch):
    with pytest.raises(IntegrityError), transaction.atomic():
        FollowUpFactory(touch_number=touch)


def test_a_contact_has_at_most_one_active_follow_up():
    active = FollowUpFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        FollowUpFactory(contact=active.contact)


def test_a_new_follow_up_may_start_after_the_previous_one_completed():
    done = FollowUpFactory(is_completed=True, stop_reason=FollowUp.StopReason.CLIENT_RESPONDED, completed_at=now())
    FollowUpFactory(contact=done.contact)
    assert done.contact.followups.count() == 2


def test_a_completed_follow_up_must_say_why():
    with pytest.raises(IntegrityError), transaction.atomic():
        FollowUpFactory(is_completed=True, stop_reason="", completed_at=now())
