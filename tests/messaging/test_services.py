from __future__ import annotations

import threading

import pytest
from django.db import connection

from messaging.models import Message
from messaging.services import message_enqueue_outbound
from tests.factories import ContactFactory, InboundMessageFactory


@pytest.mark.django_db
def test_an_outbound_message_is_written_to_the_outbox_as_queued():
    inbound = InboundMessageFactory()
    row = message_enqueue_outbound(contact=inbound.contact, text=" Спасибо! 😊 ", reply_to=inbound)
    assert (row.direction, row.author, row.status, row.purpose) == ("out", "bot", "queued", "reply")
    assert row.text == "Спасибо! 😊"
    assert row.reply_to == inbound
    assert row.next_attempt_at is not None


@pytest.mark.django_db
def test_an_empty_message_is_refused_and_nothing_is_written():
    contact = ContactFactory()
    with pytest.raises(ValueError, match="needs text"):
        message_enqueue_outbound(contact=contact, text="   ")
    assert not Message.objects.exists()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_writers_with_one_idempotency_key_leave_one_row():
    contact = ContactFactory()
    barrier = threading.Barrier(2)
    results: list[int] = []

    def write():
        try:
            barrier.wait()
            results.append(message_enqueue_outbound(contact=contact, text="Ответ", idempotency_key="reply:77").pk)
        finally:
            connection.close()

    threads = [threading.Thread(target=write) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert Message.objects.filter(idempotency_key="reply:77").count() == 1
    assert len(results) == 2
    assert results[0] == results[1]
