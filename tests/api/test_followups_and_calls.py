from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.api.conftest import error_of
from tests.factories import ContactFactory, FollowUpFactory, ScheduledCallFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def followups():
    now = timezone.now()
    return {
        "due": FollowUpFactory(next_touch_at=now - timedelta(minutes=5), contact__phone="77010000001"),
        "later": FollowUpFactory(next_touch_at=now + timedelta(hours=5), contact__phone="77010000002"),
        "done": FollowUpFactory(
            is_completed=True, completed_at=now, stop_reason="client_responded", next_touch_at=now - timedelta(hours=1)
        ),
    }


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def test_active_follow_ups_are_the_running_ones_soonest_first(api, followups):
    rows = api.get("/api/follow-ups/active").json()["results"]

    assert [r["id"] for r in rows] == [followups["due"].pk, followups["later"].pk]
    assert rows[0]["contact"]["phone"] == "77010000001"
    assert rows[0]["touch_number"] == 1


def test_pending_follow_ups_are_the_active_ones_due_now(api, followups):
    assert ids(api.get("/api/follow-ups/pending")) == [followups["due"].pk]
    assert ids(api.get("/api/follow-ups/active?phone=%2B7 701 000 00 02")) == [followups["later"].pk]


def test_scheduled_calls_filter_by_status_and_number(api):
    contact = ContactFactory(phone="77012345678")
    ahead = ScheduledCallFactory(contact=contact)
    ScheduledCallFactory(status="cancelled", contact=contact)
    other = ScheduledCallFactory(scheduled_at=timezone.now() + timedelta(days=2))

    assert ids(api.get("/api/scheduled-calls?status=scheduled")) == [ahead.pk, other.pk]
    assert ids(api.get("/api/scheduled-calls?status=scheduled&phone=87012345678")) == [ahead.pk]
    assert len(ids(api.get("/api/scheduled-calls"))) == 3
    assert error_of(api.get("/api/scheduled-calls?status=someday"))["details"].keys() == {"status"}
