"""The database itself rejects messages that must never be stored, whatever code path writes them."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from messaging.models import Message
from tests.factories import ContactFactory, InboundMessageFactory, OutboundMessageFactory

pytestmark = pytest.mark.django_db


def test_a_provider_message_id_is_stored_once():
    first = InboundMessageFactory(provider_message_id="3EB0128AE55B5D222DD0")
    with pytest.raises(IntegrityError), transaction.atomic():
        InboundMessageFactory(contact=first.contact, provider_message_id="3EB0128AE55B5D222DD0")
    assert Message.objects.filter(provider_message_id="3EB0128AE55B5D222DD0").count() == 1


def test_many_messages_may_have_no_provider_id_yet():
    contact = ContactFactory()
    OutboundMessageFactory.create_batch(3, contact=contact, provider_message_id=None)
    assert contact.messages.count() == 3


def test_an_empty_provider_id_is_rejected_rather_than_deduplicated():
    with pytest.raises(IntegrityError), transaction.atomic():
        InboundMessageFactory(provider_message_id="")


def test_an_idempotency_key_is_used_once():
    OutboundMessageFactory(idempotency_key="reply:42")
    with pytest.raises(IntegrityError), transaction.atomic():
        OutboundMessageFactory(idempotency_key="reply:42")


def test_an_inbound_message_cannot_carry_outbox_state():
    with pytest.raises(IntegrityError), transaction.atomic():
        InboundMessageFactory(status=Message.Status.QUEUED)


def test_an_outbound_message_needs_a_status_and_a_purpose():
    with pytest.raises(IntegrityError), transaction.atomic():
        OutboundMessageFactory(status="")
    with pytest.raises(IntegrityError), transaction.atomic():
        OutboundMessageFactory(purpose="")


def test_a_customer_cannot_author_an_outbound_message():
    with pytest.raises(IntegrityError), transaction.atomic():
        OutboundMessageFactory(author=Message.Author.CUSTOMER)
