"""Re-classifying a contact means one thing wherever an operator asks for it: the API's
`POST /api/contacts/{phone}/classify` and the contacts admin's action both let the model decide
again, even over an operator's verdict, and the audit trail names who asked for it and when.

The API is driven over HTTP with a token; the admin through its action form, and the task the
action queues is run the way a worker runs it (its arguments after the broker's JSON)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest
from celery.signals import before_task_publish
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from ai.models import ClassificationRecord
from assistant.tasks import reclassify
from contacts.models import Contact
from contacts.services import contact_set_client_status
from tests.factories import ContactFactory, InboundMessageFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator():
    return get_user_model().objects.create_user("aigul", password="not-used-1234", is_staff=True, is_superuser=True)


@pytest.fixture
def decided_by_an_operator() -> Contact:
    """A contact an operator marked "not a client" who then asks for two coolers."""
    contact = ContactFactory(phone="77012345678")
    contact_set_client_status(contact=contact, is_client=False, reasoning="знакомый владельца", by="operator")
    InboundMessageFactory(contact=contact, text="Здравствуйте! Сколько стоит кулер? Хочу купить два")
    return contact


def via_api(contact: Contact, user, capture) -> None:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    response = api.post(f"/api/contacts/{contact.phone}/classify")
    # 503 is the documented answer when the model gives no usable verdict.
    assert response.status_code in (200, 503), response.content


def via_admin(contact: Contact, user, capture) -> None:
    queued: list[tuple[list, dict]] = []

    def record(sender=None, body=None, **_kwargs):
        if sender == "ai.reclassify":
            args, kwargs, _embed = json.loads(json.dumps(body))  # what the broker carries
            queued.append((args, kwargs))

    browser = Client()
    browser.force_login(user)
    before_task_publish.connect(record, weak=False)
    try:
        with capture(execute=True):
            response = browser.post(
                reverse("admin:contacts_contact_changelist"),
                {"action": "reclassify", "_selected_action": [contact.pk]},
            )
    finally:
        before_task_publish.disconnect(record)
    assert response.status_code == 302, response.content
    assert len(queued) == 1
    for args, kwargs in queued:  # the worker's turn
        reclassify.apply(args=args, kwargs=kwargs).get()


INTERFACES = [pytest.param(via_api, id="api"), pytest.param(via_admin, id="admin")]


@pytest.mark.parametrize("reclassify_via", INTERFACES)
def test_reclassifying_lets_the_model_decide_again_over_an_operators_verdict_and_records_who_asked(
    reclassify_via: Callable, decided_by_an_operator, operator, django_capture_on_commit_callbacks, settings
):
    settings.LLM_BACKEND = "offline"
    contact = decided_by_an_operator
    asked_at = timezone.now()

    reclassify_via(contact, operator, django_capture_on_commit_callbacks)

    contact.refresh_from_db()
    assert (contact.is_client, contact.classified_by, contact.request_type) == (True, "model", "sales")
    latest = ClassificationRecord.objects.filter(contact=contact).latest("created_at", "pk")
    assert (latest.source, latest.is_client) == ("model", True)
    assert latest.forced_by == operator
    assert asked_at <= latest.forced_at <= timezone.now()
    operators_own = ClassificationRecord.objects.get(contact=contact, source="operator")
    assert (operators_own.is_client, operators_own.forced_by, operators_own.forced_at) == (False, None, None)
    browser = Client()
    browser.force_login(operator)
    trail = browser.get(reverse("admin:ai_classificationrecord_changelist")).content.decode()
    assert re.search(r'class="field-forced_by[^"]*">aigul<', trail)  # the audit trail in the admin


@pytest.mark.parametrize("reclassify_via", INTERFACES)
def test_when_the_model_gives_no_verdict_the_operators_verdict_stands_and_the_failure_names_who_asked(
    reclassify_via: Callable, decided_by_an_operator, operator, django_capture_on_commit_callbacks, fake_gemini
):
    contact = decided_by_an_operator
    fake_gemini.reply_text("Это клиент, я уверен")  # not the JSON the moderator asks for

    reclassify_via(contact, operator, django_capture_on_commit_callbacks)

    contact.refresh_from_db()
    assert (contact.is_client, contact.classified_by) == (False, "operator")
    assert contact.classification_reasoning == "знакомый владельца"
    failed = ClassificationRecord.objects.filter(contact=contact).latest("created_at", "pk")
    assert (failed.source, failed.is_client, failed.forced_by) == ("model", None, operator)
    assert failed.error


def test_a_reclassification_queued_before_who_asked_was_recorded_still_lets_the_model_decide(
    decided_by_an_operator, settings
):
    settings.LLM_BACKEND = "offline"
    contact = decided_by_an_operator

    reclassify.apply(args=[contact.pk]).get()  # as an older release queued it: the id alone

    contact.refresh_from_db()
    assert (contact.is_client, contact.classified_by) == (True, "model")
    latest = ClassificationRecord.objects.filter(contact=contact).latest("created_at", "pk")
    assert (latest.source, latest.forced_by) == ("model", None)
    assert latest.forced_at is not None
