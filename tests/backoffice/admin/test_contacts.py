"""The contacts admin (backoffice.admin.contacts), where operators work all day: the contact page
with its conversation, follow-up and calls, search, filters and actions, the whitelist, and a call
moved by hand."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from contacts.models import Contact, ScheduledCall, WhitelistEntry
from followups.models import FollowUp, FollowUpTouch
from messaging.models import Message
from tests.factories import (
    ContactFactory,
    FollowUpFactory,
    InboundMessageFactory,
    OutboundMessageFactory,
    ScheduledCallFactory,
    local,
    silent_client,
)

pytestmark = pytest.mark.django_db

ASTANA = ZoneInfo("Asia/Almaty")


def test_the_contact_page_shows_the_conversation_newest_first_in_pages(admin_client):
    contact = ContactFactory()
    start = timezone.now() - timedelta(hours=2)
    for i in range(45):
        InboundMessageFactory(contact=contact, text=f"сообщение номер {i:02d}", timestamp=start + timedelta(minutes=i))
    url = reverse("admin:contacts_contact_change", args=[contact.pk])

    first = admin_client.get(url).content.decode()
    assert "сообщение номер 44" in first
    assert "сообщение номер 15" in first
    assert "сообщение номер 14" not in first
    assert first.index("сообщение номер 44") < first.index("сообщение номер 43")
    assert "страница 1 из 2" in first

    second = admin_client.get(url, {"conv_page": 2}).content.decode()
    assert "сообщение номер 14" in second
    assert "сообщение номер 00" in second
    assert "сообщение номер 44" not in second


def test_the_contact_page_lists_its_follow_up_and_calls(admin_client):
    call = ScheduledCallFactory(notes="Обсудить тариф Бизнес")
    FollowUpFactory(contact=call.contact, touch_number=3)
    page = admin_client.get(reverse("admin:contacts_contact_change", args=[call.contact.pk])).content.decode()
    assert "Обсудить тариф Бизнес" in page
    assert re.search(r'class="field-touch_number">\s*<p>3</p>', page)


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


@pytest.mark.parametrize("term", ["+7 (701) 000-00-42", "87010000042", "77010000042"])
def test_contacts_are_found_by_phone_in_any_spelling(admin_client, term):
    wanted = ContactFactory(phone="77010000042", name="Искомый")
    ContactFactory(phone="77010000043", name="Другой")
    response = admin_client.get(reverse("admin:contacts_contact_changelist"), {"q": term})
    assert list(response.context["cl"].result_list) == [wanted]


def test_contacts_are_found_by_message_text_and_company(admin_client):
    wanted = ContactFactory(business_name="ТОО Алатау Логистик")
    InboundMessageFactory(contact=wanted, text="Нужна доставка в Шымкент")
    InboundMessageFactory(contact=wanted, text="И ещё в Актобе доставка")
    ContactFactory(business_name="ИП Другой")
    changelist = reverse("admin:contacts_contact_changelist")
    assert list(admin_client.get(changelist, {"q": "доставка"}).context["cl"].result_list) == [wanted]
    assert list(admin_client.get(changelist, {"q": "Алатау"}).context["cl"].result_list) == [wanted]


def test_contacts_filter_by_client_status_mode_and_opt_out(admin_client):
    client_ = ContactFactory(is_client=True)
    paused = ContactFactory(bot_mode=Contact.BotMode.HUMAN)
    opted = ContactFactory(opted_out_at=timezone.now())
    changelist = reverse("admin:contacts_contact_changelist")

    def result(params):
        return set(admin_client.get(changelist, params).context["cl"].result_list)

    assert result({"is_client__exact": "1"}) == {client_}
    assert result({"bot_mode__exact": "human"}) == {paused}
    assert result({"opted_out": "yes"}) == {opted}


def _run_action(client, model, action, objects):
    meta = model._meta
    return client.post(
        reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"),
        {"action": action, "_selected_action": [o.pk for o in objects]},
        follow=True,
    )


def test_mark_client_and_not_client_and_unknown_actions(admin_client):
    a, b = ContactFactory(), ContactFactory()
    followup = FollowUpFactory(contact=b)

    response = _run_action(admin_client, Contact, "mark_client", [a])
    a.refresh_from_db()
    assert a.is_client is True
    assert a.classified_at is not None
    assert "admin" in a.classification_reasoning
    assert "Отмечены как клиенты: 1" in response.content.decode()

    _run_action(admin_client, Contact, "mark_not_client", [b])
    b.refresh_from_db()
    followup.refresh_from_db()
    assert b.is_client is False
    assert followup.is_completed
    assert followup.stop_reason == FollowUp.StopReason.NOT_A_CLIENT

    _run_action(admin_client, Contact, "mark_unknown", [a, b])
    assert set(Contact.objects.filter(pk__in=[a.pk, b.pk]).values_list("is_client", flat=True)) == {None}


def test_pause_takes_the_conversation_from_the_bot_and_resume_gives_it_back(admin_client):
    contact = ContactFactory()
    followup = FollowUpFactory(contact=contact)

    _run_action(admin_client, Contact, "pause_bot", [contact])
    contact.refresh_from_db()
    followup.refresh_from_db()
    assert contact.bot_mode == Contact.BotMode.HUMAN
    assert contact.bot_is_paused()
    assert followup.is_completed
    assert followup.stop_reason == FollowUp.StopReason.HUMAN_TOOK_OVER

    _run_action(admin_client, Contact, "resume_bot", [contact])
    contact.refresh_from_db()
    assert contact.bot_mode == Contact.BotMode.AI
    assert not contact.bot_is_paused()


def test_stop_follow_ups_action_completes_only_the_selected_contacts(admin_client):
    stopped, untouched = FollowUpFactory(), FollowUpFactory()
    response = _run_action(admin_client, Contact, "stop_followups", [stopped.contact])
    stopped.refresh_from_db()
    untouched.refresh_from_db()
    assert stopped.is_completed
    assert stopped.stop_reason == FollowUp.StopReason.STOPPED_BY_OPERATOR
    assert stopped.next_touch_at is None
    assert not untouched.is_completed
    assert "Остановлено follow-up: 1" in response.content.decode()


def test_whitelist_add_normalises_the_number(admin_client):
    response = admin_client.post(
        reverse("admin:contacts_whitelistentry_add"), {"phone": "8 (701) 555-12-34", "note": "Жена"}
    )
    assert response.status_code == 302
    assert WhitelistEntry.objects.get(note="Жена").phone == "77015551234"


@pytest.mark.parametrize(
    ("phone", "error"),
    [
        ("не номер", "не номер телефона"),
        ("120363025246125486@g.us", "id группы WhatsApp"),
        ("+7 (775) 283-73-06", "уже существует"),  # seeded «Личный номер 1», other spelling
    ],
)
def test_whitelist_add_rejects_garbage_groups_and_duplicates_with_a_message(admin_client, phone, error):
    before = WhitelistEntry.objects.count()
    response = admin_client.post(reverse("admin:contacts_whitelistentry_add"), {"phone": phone, "note": "x"})
    assert response.status_code == 200
    assert error in response.content.decode()
    assert WhitelistEntry.objects.count() == before


def test_an_operator_moves_a_call_in_the_admin_and_the_client_is_told(admin_client):
    with time_machine.travel("2026-11-23 09:00 +05:00", tick=False):  # Monday morning
        call = ScheduledCall.objects.create(
            contact=ContactFactory(), scheduled_at=datetime(2026, 11, 24, 11, 0, tzinfo=ASTANA), created_by="ai"
        )
        url = reverse("admin:contacts_scheduledcall_change", args=[call.pk])

        def move(day, time):
            return admin_client.post(
                url,
                {
                    "contact": call.contact_id,
                    "scheduled_at_0": day,
                    "scheduled_at_1": time,
                    "timezone": "Asia/Almaty",
                    "status": "scheduled",
                    "notes": "",
                    "created_by": "ai",
                },
            )

        saturday = move("28.11.2026", "11:00:00")
        assert saturday.status_code == 200
        assert "Нельзя назначить на это время: weekend" in saturday.content.decode()

        moved = move("25.11.2026", "15:00:00")
        assert moved.status_code == 302
        call.refresh_from_db()
        assert call.scheduled_at == datetime(2026, 11, 25, 15, 0, tzinfo=ASTANA)
        told = Message.objects.get(contact=call.contact, purpose="booking")
        assert "Перенесли ваш созвон" in told.text
