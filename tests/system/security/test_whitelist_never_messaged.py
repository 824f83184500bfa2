"""The owners' personal numbers (the whitelist) never receive a message, whoever tries: the API
refuses up front with a clear error, and a row that reaches the outbox anyway (the admin's add
form, or forced into the table) is refused by the sender, so the fake Wappi hears nothing."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from contacts.models import Contact
from messaging.models import Message
from messaging.sender import outbox_send
from tests.factories import ContactFactory, OutboundMessageFactory, WhitelistEntryFactory

pytestmark = pytest.mark.django_db

OWNER = "77077770707"


@pytest.fixture
def owner_number():
    return WhitelistEntryFactory(phone=OWNER)


@pytest.fixture
def api():
    user = get_user_model().objects.create_user("operator", password="not-used-1234", is_staff=True)
    user.user_permissions.add(Permission.objects.get(content_type__app_label="messaging", codename="add_message"))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


@pytest.mark.parametrize("spelling", ["77077770707", "+7 (707) 777-07-07", "8 707 777 07 07", "7077770707"])
def test_an_operator_sending_through_the_api_gets_a_clear_422_and_nothing_is_queued(
    api, owner_number, fake_wappi, spelling
):
    response = api.post("/api/messages/send", {"phone": spelling, "text": "Добрый день!"}, format="json")

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "whitelisted_number"
    assert "whitelist" in error["message"]
    assert "+7 707 777 07 07" in error["message"]
    assert not Message.objects.exists()
    assert not Contact.objects.filter(phone=OWNER).exists()
    assert fake_wappi.sent == []


def _add_through_admin(admin_client, contact):
    return admin_client.post("/admin/messaging/message/add/", {"contact": contact.pk, "text": "Привет от оператора"})


def test_an_operator_writing_through_the_admin_add_form_never_reaches_the_number(
    admin_client, owner_number, fake_wappi
):
    # A contact from before the number was whitelisted.
    contact = ContactFactory(phone=OWNER)

    _add_through_admin(admin_client, contact)
    for row in Message.objects.filter(status=Message.Status.QUEUED):
        assert outbox_send(message_id=row.pk, client=fake_wappi.client()).status == "skipped"

    assert fake_wappi.sent == []
    assert not fake_wappi.calls_to("message/send")
    assert not Message.objects.exclude(status=Message.Status.FAILED).exists()


def test_the_admin_add_form_refuses_a_whitelisted_contact_with_a_form_error(admin_client, owner_number):
    contact = ContactFactory(phone=OWNER)

    response = _add_through_admin(admin_client, contact)

    assert response.status_code == 200  # the form again, with its error
    assert "белом списке" in response.content.decode() or "whitelist" in response.content.decode()
    assert not Message.objects.exists()


@pytest.mark.parametrize("purpose", list(Message.Purpose), ids=[p.value for p in Message.Purpose])
@pytest.mark.parametrize("author", [Message.Author.BOT, Message.Author.OPERATOR], ids=["bot", "operator"])
def test_a_row_forced_into_the_outbox_for_a_whitelisted_number_is_refused_by_the_sender(
    owner_number, fake_wappi, purpose, author
):
    row = OutboundMessageFactory(contact=ContactFactory(phone=OWNER), purpose=purpose, author=author)

    outcome = outbox_send(message_id=row.pk, client=fake_wappi.client())

    assert (outcome.status, outcome.detail) == ("skipped", "whitelisted number: never messaged")
    row.refresh_from_db()
    assert (row.status, row.last_error) == ("failed", "whitelisted number: never messaged")
    assert fake_wappi.sent == []
