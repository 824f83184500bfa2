"""The admin as a whole (backoffice.admin registers every app's): every page renders for a superuser
and for a staff operator with our apps' permissions, and beat's schedule is editable."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.urls import reverse
from django_celery_beat.models import PeriodicTask

from contacts.models import Contact, ScheduledCall, WhitelistEntry
from followups.models import FollowUp
from messaging.models import Message
from tests.factories import (
    ContactFactory,
    FollowUpFactory,
    HandOffFactory,
    InboundMessageFactory,
    OutboundMessageFactory,
    ScheduledCallFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, django_user_model):
    """A staff member (not a superuser) with every permission of our apps and the beat app."""
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


def test_periodic_tasks_are_editable_in_the_admin(admin_client):
    task = PeriodicTask.objects.get(name="project.heartbeat")
    page = admin_client.get(reverse("admin:django_celery_beat_periodictask_change", args=[task.pk]))
    assert page.status_code == 200
    assert "project.heartbeat" in page.content.decode()


def test_a_contact_handed_to_a_manager_shows_when_the_assistant_resumes_and_its_hand_offs(admin_client, settings):
    settings.TIME_ZONE = "Asia/Almaty"
    resumes = datetime(2026, 12, 4, 9, 30, tzinfo=ZoneInfo("Asia/Almaty"))
    contact = ContactFactory(bot_mode=Contact.BotMode.HUMAN, paused_until=resumes)
    HandOffFactory(
        contact=contact,
        opened_at=resumes - timedelta(hours=13),
        due_at=resumes - timedelta(hours=12),
        answered_at=resumes - timedelta(hours=12, minutes=5),
    )

    page = admin_client.get(reverse("admin:contacts_contact_change", args=[contact.pk])).content.decode()
    listing = admin_client.get(reverse("admin:contacts_contact_changelist")).content.decode()

    assert "Ассистент вернётся 04.12.2026 09:30 (после тишины менеджеров)" in page
    assert "Передачи менеджерам" in page
    assert "клиент просит человека" in page
    assert "ассистент вернётся 04.12 09:30" in listing


def test_an_unanswered_hand_off_says_in_hours_when_the_assistant_would_resume(admin_client, settings):
    """The operator reads hours, not the name of a setting."""
    settings.BOT_PAUSE_AFTER_OPERATOR = 6
    contact = ContactFactory(bot_mode=Contact.BotMode.HUMAN, paused_until=None)
    HandOffFactory(contact=contact, reason="Передача менеджеру: жалоба")

    page = admin_client.get(reverse("admin:contacts_contact_change", args=[contact.pk])).content.decode()

    assert "ассистент вернётся через 6 ч после последнего сообщения менеджера" in page
    assert "BOT_PAUSE_AFTER_OPERATOR" not in page
