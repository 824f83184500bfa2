"""The follow-up admin (list in Astana time, stop / restart / send now, the contact's cadence)
and the follow-up numbers on /stats."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse

from followups.models import FollowUp, FollowUpTouch
from followups.selectors import followup_stats
from tests.factories import InboundMessageFactory, OutboundMessageFactory
from tests.followups.conftest import local, silent_client

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


def test_the_contact_page_shows_the_cadence(admin_client):
    followup = silent_client(due=local(2026, 12, 10, 15, 30), touch_number=2)
    touch = OutboundMessageFactory(contact=followup.contact, purpose="follow_up", status="sent")
    FollowUpTouch.objects.create(followup=followup, touch_number=1, message=touch)
    page = admin_client.get(reverse("admin:contacts_contact_change", args=[followup.contact.pk])).content.decode()
    assert re.search(r'class="field-touch_number">\s*<p>2</p>', page)
    assert re.search(r'class="field-next_touch_local">\s*<p>10.12.2026 15:30</p>', page)
    assert re.search(r'class="field-touches_sent">\s*<p>1</p>', page)
    assert "Не ответил" in page
    page = admin_client.get(reverse("admin:followups_followup_change", args=[followup.pk])).content.decode()
    assert touch.text in page  # the touches sent so far


def sent_touch(followup, number, sent_at, *, reply_after=None):
    message = OutboundMessageFactory(
        contact=followup.contact, purpose="follow_up", status="delivered", timestamp=sent_at, sent_at=sent_at
    )
    FollowUpTouch.objects.create(followup=followup, touch_number=number, message=message)
    if reply_after is not None:
        InboundMessageFactory(contact=followup.contact, text="Ок", timestamp=sent_at + reply_after)


def test_stats_count_active_chains_and_per_touch_sent_and_replied_within_48_hours(client):
    t0 = local(2026, 12, 1, 11, 0)
    one, two, three = (silent_client(due=t0 + timedelta(days=30)) for _ in range(3))
    sent_touch(one, 1, t0, reply_after=timedelta(hours=3))
    sent_touch(two, 1, t0, reply_after=timedelta(hours=49))  # too late to count
    sent_touch(three, 1, t0)
    sent_touch(three, 2, t0 + timedelta(days=3), reply_after=timedelta(hours=47))
    queued = OutboundMessageFactory(contact=one.contact, purpose="follow_up", status="queued")
    FollowUpTouch.objects.create(followup=one, touch_number=2, message=queued)  # not sent: not counted
    FollowUp.objects.filter(pk=two.pk).update(
        is_completed=True, stop_reason="client_responded", completed_at=t0, next_touch_at=None
    )

    stats = followup_stats()

    assert stats["active"] == 2
    assert stats["touches"]["1"] == {"sent": 3, "replied_48h": 1}
    assert stats["touches"]["2"] == {"sent": 1, "replied_48h": 1}
    assert stats["touches"]["5"] == {"sent": 0, "replied_48h": 0}
    body = client.get("/stats").json()
    assert body["followups"] == stats
    assert {"date", "contacts", "messages_today", "outbox_pending", "llm_today"} <= set(body)
