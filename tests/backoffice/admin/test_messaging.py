"""The message admin (backoffice.admin.messaging): an operator's message goes to the outbox,
stored messages are read-only history, and purposes read in Russian."""

from __future__ import annotations

import pytest
from django.urls import reverse

from messaging.models import Message
from tests.factories import ContactFactory, InboundMessageFactory, OutboundMessageFactory

pytestmark = pytest.mark.django_db

HANDOFF_TEXT = "Передал ваш вопрос менеджеру — он напишет вам здесь в ближайшее время 🙏"


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


def test_operators_read_the_purpose_in_russian_in_the_admin_and_the_api_schema(admin_client):
    contact = ContactFactory()
    OutboundMessageFactory(contact=contact, purpose=Message.Purpose.HANDOFF, text=HANDOFF_TEXT)

    changelist = admin_client.get("/admin/messaging/message/?purpose__exact=handoff").content.decode()
    schema = admin_client.get("/api/schema/?format=json").json()

    assert "Передача менеджеру" in changelist  # the filter's choice
    assert "Передал ваш вопрос менеджеру" in changelist  # the row it finds
    message_purpose = schema["components"]["schemas"]["Message"]["properties"]["purpose"]["description"]
    assert "`handoff` - Передача менеджеру" in message_purpose
