"""An operator's message to a number that never wrote to us is checked with Wappi's contact/check
first (the fake Wappi over HTTP): a number without WhatsApp is refused up front, in the API and
in the admin, because writing to such numbers gets the business's number restricted."""

from __future__ import annotations

import pytest
from django.urls import reverse

from contacts.models import Contact
from messaging.models import Message
from tests.api.conftest import error_of
from tests.factories import ContactFactory, InboundMessageFactory
from tests.fakes.wappi import PROFILE, TOKEN

pytestmark = pytest.mark.django_db


@pytest.fixture
def wappi(fake_wappi, settings):
    settings.WAPPI_SANDBOX = False
    settings.WAPPI_BASE_URL = fake_wappi.server.url_for("/").rstrip("/")
    settings.WAPPI_TOKEN = TOKEN
    settings.WAPPI_PROFILE_ID = PROFILE
    return fake_wappi


def test_a_number_without_whatsapp_is_refused_and_nothing_is_stored(api, wappi):
    wappi.not_on_whatsapp.add("77021112233")

    response = api.post("/api/messages/send", {"phone": "+7 702 111 22 33", "text": "Здравствуйте!"}, format="json")

    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "not_on_whatsapp"
    assert "not on WhatsApp" in error["message"]
    assert error["details"] == {"phone": "77021112233"}
    assert not Message.objects.exists()
    assert not Contact.objects.filter(phone="77021112233").exists()
    assert [c[2]["phone"] for c in wappi.calls_to("/contact/check")] == ["77021112233"]


def test_a_new_number_on_whatsapp_is_checked_once_and_queued(api, wappi):
    response = api.post("/api/messages/send", {"phone": "+7 702 111 22 33", "text": "Здравствуйте!"}, format="json")

    assert response.status_code == 202, response.content
    assert len(wappi.calls_to("/contact/check")) == 1
    assert Message.objects.get().contact.phone == "77021112233"


def test_a_customer_who_wrote_to_us_is_not_checked(api, wappi):
    contact = ContactFactory(phone="77021112233")
    InboundMessageFactory(contact=contact)
    wappi.not_on_whatsapp.add("77021112233")  # whatever Wappi would say: they wrote to us

    response = api.post("/api/messages/send", {"phone": "77021112233", "text": "Перезвоню через час"}, format="json")

    assert response.status_code == 202
    assert wappi.calls_to("/contact/check") == []


def test_when_wappi_cannot_answer_the_check_the_message_is_still_queued(api, wappi):
    wappi.fail_next = [503]

    response = api.post("/api/messages/send", {"phone": "+7 702 111 22 33", "text": "Здравствуйте!"}, format="json")

    assert response.status_code == 202


def test_the_admin_refuses_an_operator_message_to_a_number_without_whatsapp(admin_client, wappi):
    contact = ContactFactory(phone="77021112233")
    wappi.not_on_whatsapp.add("77021112233")

    response = admin_client.post(reverse("admin:messaging_message_add"), {"contact": contact.pk, "text": "Добрый день"})

    assert response.status_code == 200  # the form again, with the error
    assert "нет WhatsApp" in response.content.decode()
    assert not Message.objects.exists()
