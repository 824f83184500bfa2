"""Operator messages through the outbox, and the message log."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from assistant.pipeline import incoming_process
from contacts.models import Contact
from messaging.models import HandOff, Message
from tests.api.conftest import error_of
from tests.factories import ContactFactory, InboundMessageFactory, OutboundMessageFactory, WhitelistEntryFactory

pytestmark = pytest.mark.django_db


def test_an_operator_message_is_queued_in_the_outbox_as_the_operators(api, django_capture_on_commit_callbacks):
    contact = ContactFactory(phone="77012345678")

    with django_capture_on_commit_callbacks() as callbacks:
        response = api.post(
            "/api/messages/send", {"phone": "8 (701) 234-56-78", "text": "  Добрый день! Это Марат.  "}, format="json"
        )

    assert response.status_code == 202, response.content
    body = response.json()
    message = Message.objects.get(pk=body["id"])
    assert (message.contact_id, message.direction, message.author) == (contact.pk, "out", "operator")
    assert (message.status, message.purpose, message.text) == ("queued", "reply", "Добрый день! Это Марат.")
    assert body["status"] == "queued"
    assert len(callbacks) == 1  # the send task is enqueued once the row is committed


def test_a_new_number_becomes_a_contact_and_the_same_idempotency_key_sends_once(api):
    payload = {"phone": "+7 702 111 22 33", "text": "Здравствуйте!", "idempotency_key": "crm-1"}

    first = api.post("/api/messages/send", payload, format="json")
    second = api.post("/api/messages/send", payload, format="json")

    assert first.status_code == second.status_code == 202
    assert first.json()["id"] == second.json()["id"]
    contact = Contact.objects.get(phone="77021112233")
    assert Message.objects.filter(contact=contact).count() == 1


def test_a_whitelisted_number_is_refused_up_front_and_nothing_is_stored(api):
    WhitelistEntryFactory(phone="77001112233")

    response = api.post("/api/messages/send", {"phone": "+7 700 111 22 33", "text": "Привет"}, format="json")

    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "whitelisted_number"
    assert error["details"] == {"phone": "77001112233"}
    assert not Message.objects.exists()
    assert not Contact.objects.filter(phone="77001112233").exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"phone": "не номер", "text": "Привет"}, "phone"),
        ({"phone": "77012345678", "text": "   "}, "text"),
        ({"phone": "77012345678"}, "text"),
        ({"text": "Привет"}, "phone"),
    ],
)
def test_an_invalid_send_is_a_400_naming_the_field(api, payload, field):
    response = api.post("/api/messages/send", payload, format="json")

    assert response.status_code == 400
    assert field in error_of(response)["details"]
    assert not Message.objects.exists()


def test_a_malformed_json_body_is_a_400_in_the_error_shape(api):
    response = api.post("/api/messages/send", "{not json", content_type="application/json")

    assert response.status_code == 400
    assert error_of(response)["code"] == "parse_error"


def test_the_message_log_shows_the_latest_messages_of_all_chats_up_to_the_limit(api):
    now = timezone.now()
    rows = [
        InboundMessageFactory(timestamp=now - timedelta(minutes=10 - i))
        if i % 2
        else OutboundMessageFactory(timestamp=now - timedelta(minutes=10 - i))
        for i in range(6)
    ]

    latest = api.get("/api/logs/messages?limit=3").json()
    inbound = api.get("/api/logs/messages?direction=in").json()
    default = api.get("/api/logs/messages").json()

    assert [m["id"] for m in latest] == [rows[5].pk, rows[4].pk, rows[3].pk]
    assert {m["direction"] for m in inbound} == {"in"}
    assert len(inbound) == 3
    assert len(default) == 6
    assert error_of(api.get("/api/logs/messages?limit=0"))["details"].keys() == {"limit"}
    assert api.get("/api/logs/messages?limit=1001").status_code == 400


def test_an_operator_message_through_the_api_answers_an_open_hand_off(api):
    # Given a conversation the assistant handed to the managers (the offline model hands off)
    contact = ContactFactory(phone="77012345678", is_client=True)
    asked = InboundMessageFactory(
        contact=contact, text="Соедините с менеджером", timestamp=timezone.now() - timedelta(minutes=1)
    )
    Message.objects.filter(pk=asked.pk).update(received_at=asked.timestamp)
    assert incoming_process(message_id=asked.pk).status == "handed off"
    handoff = HandOff.objects.get(contact=contact)
    assert handoff.answered_at is None

    # When an operator answers through the API
    response = api.post(
        "/api/messages/send", {"phone": "77012345678", "text": "Здравствуйте, я менеджер"}, format="json"
    )

    # Then the hand-off is answered (no reminder comes) and the assistant returns after the humans' silence
    assert response.status_code == 202
    handoff.refresh_from_db()
    contact.refresh_from_db()
    assert handoff.answered_at is not None
    assert contact.paused_until is not None
    assert timedelta(hours=11) < contact.paused_until - timezone.now() <= timedelta(hours=12)
