"""The admin is where operators work all day: every page renders, actions do what they say."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib import admin
from django.urls import reverse
from django.utils import timezone

from contacts.models import Contact, ScheduledCall, WhitelistEntry
from followups.models import FollowUp
from messaging.models import Message
from tests.factories import (
    ContactFactory,
    FollowUpFactory,
    InboundMessageFactory,
    OutboundMessageFactory,
    ScheduledCallFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, django_user_model):
    """A staff member (not a superuser) with every permission of our apps and the beat app."""
    from django.contrib.auth.models import Permission

    user = django_user_model.objects.create_user(username="operator", password="pw", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label__in=["contacts", "messaging", "followups", "django_celery_beat"]
        )
    )
    client.force_login(user)
    return client


@pytest.fixture
def one_of_each():
    contact = ContactFactory(business_name="ТОО Стройком", is_client=True)
    InboundMessageFactory(contact=contact)
    OutboundMessageFactory(contact=contact)
    FollowUpFactory(contact=contact)
    ScheduledCallFactory(contact=contact)
    return contact


def test_every_admin_changelist_add_and_change_page_renders(admin_client, admin_user, rf, one_of_each):
    request = rf.get("/admin/")
    request.user = admin_user
    opened = 0
    for model, model_admin in admin.site._registry.items():
        meta = model._meta
        urls = [reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")]
        if model_admin.has_add_permission(request):
            urls.append(reverse(f"admin:{meta.app_label}_{meta.model_name}_add"))
        obj = model._default_manager.order_by("pk").first()
        if obj is not None:
            urls.append(reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk]))
        for url in urls:
            assert admin_client.get(url).status_code == 200, url
            opened += 1
    # Our five models with all three pages, plus auth and the beat schedules.
    assert opened >= 3 * 5 + 4


def test_a_staff_operator_can_open_every_page_of_our_apps(staff_client, one_of_each):
    for model in (Contact, WhitelistEntry, ScheduledCall, Message, FollowUp):
        meta = model._meta
        obj = model.objects.order_by("pk").first()
        for url in (
            reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"),
            reverse(f"admin:{meta.app_label}_{meta.model_name}_add"),
            reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk]),
        ):
            assert staff_client.get(url).status_code == 200, url


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


def test_stop_action_on_the_follow_up_list(admin_client):
    followup = FollowUpFactory()
    _run_action(admin_client, FollowUp, "stop", [followup])
    followup.refresh_from_db()
    assert followup.is_completed


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


def test_an_operator_message_written_in_the_admin_goes_to_the_outbox(admin_client):
    contact = ContactFactory()
    response = admin_client.post(
        reverse("admin:messaging_message_add"), {"contact": contact.pk, "text": "  Добрый день! Перезвоню через час.  "}
    )
    assert response.status_code == 302
    message = Message.objects.get(contact=contact)
    assert message.direction == Message.Direction.OUT
    assert message.author == Message.Author.OPERATOR
    assert message.status == Message.Status.QUEUED
    assert message.text == "Добрый день! Перезвоню через час."


def test_existing_messages_are_read_only_history(admin_client):
    message = InboundMessageFactory(text="оригинал")
    admin_client.post(reverse("admin:messaging_message_change", args=[message.pk]), {"text": "подделка"})
    message.refresh_from_db()
    assert message.text == "оригинал"


def test_periodic_tasks_are_editable_in_the_admin(admin_client):
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(name="project.heartbeat")
    page = admin_client.get(reverse("admin:django_celery_beat_periodictask_change", args=[task.pk]))
    assert page.status_code == 200
    assert "project.heartbeat" in page.content.decode()
