"""The follow-up admin (backoffice.admin.followups): the list in Astana time, stop / restart / send
now, the touches sent, and one running chain per contact."""

from __future__ import annotations

import pytest
from django.urls import reverse

from followups.models import FollowUp
from tests.factories import FollowUpFactory, local, silent_client

pytestmark = pytest.mark.django_db


def run_action(admin_client, action: str, objects, query: str = ""):
    return admin_client.post(
        reverse("admin:followups_followup_changelist") + query,
        {"action": action, "_selected_action": [o.pk for o in objects]},
        follow=True,
    )


def test_the_list_shows_active_chains_with_the_next_touch_in_astana_time(admin_client):
    running = silent_client(due=local(2026, 12, 8, 11, 0), touch_number=2)
    finished = silent_client(due=local(2026, 12, 8, 12, 0))
    FollowUp.objects.filter(pk=finished.pk).update(
        is_completed=True, stop_reason="client_said_no", completed_at=local(2026, 12, 7, 12, 0), next_touch_at=None
    )
    page = admin_client.get(reverse("admin:followups_followup_changelist")).content.decode()
    assert "08.12.2026 11:00" in page  # 06:00 UTC shown as the business reads it
    assert "2/5" in page
    assert str(running.contact.full_name) in page
    assert str(finished.contact.full_name) not in page  # active ones by default
    everything = admin_client.get(reverse("admin:followups_followup_changelist") + "?state=all").content.decode()
    assert str(finished.contact.full_name) in everything


def test_stop_restart_and_send_now_actions(admin_client):
    a = silent_client(due=local(2026, 12, 9, 11, 0), touch_number=3)
    b = silent_client(due=local(2026, 12, 9, 11, 0), touch_number=2)

    response = run_action(admin_client, "send_now", [b])
    assert "Касаний к отправке: 1" in response.content.decode()
    b.refresh_from_db()
    assert b.next_touch_at < local(2026, 12, 9, 11, 0)

    run_action(admin_client, "stop", [a])
    a.refresh_from_db()
    assert (a.is_completed, a.stop_reason) == (True, "stopped_by_operator")

    response = run_action(admin_client, "restart", [a], query="?state=completed")
    assert "Перезапущено follow-up: 1" in response.content.decode()
    fresh = FollowUp.objects.get(contact=a.contact, is_completed=False)
    assert fresh.touch_number == 1


def test_stop_action_on_the_follow_up_list(admin_client):
    followup = FollowUpFactory()
    run_action(admin_client, "stop", [followup])
    followup.refresh_from_db()
    assert followup.is_completed


def test_adding_a_second_active_follow_up_in_the_admin_is_refused_with_a_message(admin_client):
    active = FollowUpFactory()
    response = admin_client.post(
        reverse("admin:followups_followup_add"),
        {
            "contact": active.contact.pk,
            "touch_number": 1,
            "reason": "no_reply",
            "next_touch_at_0": "01.12.2026",
            "next_touch_at_1": "10:00:00",
        },
    )
    assert response.status_code == 200
    assert FollowUp.objects.filter(contact=active.contact).count() == 1
    assert "уже есть активный follow-up" in response.content.decode()
