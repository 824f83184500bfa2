"""Ingest against random batches, by webhook and by poll: every usable message stored exactly
once, a rejected event stores nothing, and nothing crashes. Each example runs in a savepoint
that is rolled back, so examples do not see each other's rows."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.db import transaction
from hypothesis import given
from hypothesis import strategies as st

from contacts.models import Contact, WhitelistEntry
from messaging.ingest import ingest_events
from messaging.models import Message
from messaging.wire import Ignored, Origin, WappiMessage, parse_sync_message, parse_webhook
from tests.factories import wappi_incoming
from tests.system.fuzz.strategies import FUZZ_DB, structured_logs, wappi_events

pytestmark = pytest.mark.django_db

WHITELISTED = "79161234567"  # one of the fuzzers' phones


@contextmanager
def rolled_back() -> Iterator[None]:
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


def _expected_rows(events) -> dict[str, WappiMessage]:
    """Provider id -> the event that stores it: the first usable message with that id."""
    expected: dict[str, WappiMessage] = {}
    for event in events:
        if isinstance(event, WappiMessage) and event.phone != WHITELISTED:
            expected.setdefault(event.provider_id, event)
    return expected


@FUZZ_DB
@given(items=st.lists(wappi_events(hazards=True), max_size=6), poll_too=st.booleans())
def test_a_random_batch_stores_each_usable_message_exactly_once_and_nothing_else(items, poll_too):
    with rolled_back():
        WhitelistEntry.objects.create(phone=WHITELISTED)
        events = parse_webhook({"messages": items})
        # The same objects again, by the other road: the safety net never doubles anything. (The
        # poll parser knows no webhook types, so it may find a message the webhook did not.)
        again = [parse_sync_message(item) for item in items] if poll_too else events
        expected = _expected_rows([*events, *again])

        ingest_events(events=events, via=Message.Via.WEBHOOK)
        ingest_events(events=again, via=Message.Via.POLL)

        stored = {m.provider_message_id: m for m in Message.objects.select_related("contact")}
        assert set(stored) == set(expected)
        for provider_id, event in expected.items():
            row = stored[provider_id]
            assert row.contact.phone == event.phone
            assert row.direction == ("in" if event.origin == Origin.CUSTOMER else "out")
            if event.origin == Origin.CUSTOMER:
                assert row.text == event.text
        assert not Contact.objects.filter(phone=WHITELISTED).exists()
        contacts = set(Contact.objects.values_list("phone", flat=True))
        usable = {e.phone for e in [*events, *again] if isinstance(e, WappiMessage)}
        assert {e.phone for e in expected.values()} <= contacts <= usable - {WHITELISTED}


REJECTED = {
    "without-id": {"id": ""},
    "unusable-chat-id": {"chatId": "abc@c.us", "from": "abc@c.us"},
    "hidden-number-chat": {"chatId": "1234567890123@lid", "from": "1234567890123@lid"},
    "group-chat": {"chatId": "120363025246125486@g.us", "chat_type": "group"},
    "broadcast": {"chatId": "status@broadcast"},
    "reaction": {"type": "reaction", "body": "👍"},
    "unknown-webhook-type": {"wh_type": "something_new"},
    "unreadable-delivery-status": {"wh_type": "delivery_status", "status": "?"},
}


@pytest.mark.parametrize("change", REJECTED.values(), ids=REJECTED.keys())
def test_every_rejected_event_leaves_a_structured_log_line_with_its_reason(change):
    event = {**wappi_incoming(msg_id="3EB0REJECTED"), **change}
    [parsed] = parse_webhook([event])
    assert isinstance(parsed, Ignored)

    with structured_logs() as logs:
        ingest_events(events=[parsed], via=Message.Via.WEBHOOK)

    assert not Message.objects.exists()
    assert any(parsed.reason in map(str, line.values()) for line in logs), logs


POISONED = {
    "nul-in-text": {"body": "Здравствуйте\x00"},
    "nul-in-id": {"id": "3EB0\x00"},
    "nul-in-sender-name": {"senderName": "Айгерим\x00"},
    "lone-surrogate-in-text": {"body": "привет \ud83d"},
    "lone-surrogate-in-contact-name": {"contact": {"FullName": "\udfff"}},
    "id-longer-than-128": {"id": "3EB0" + "A" * 200},
    "type-longer-than-32": {"type": "chat" + "x" * 40, "body": "текст"},
}


@pytest.mark.parametrize("change", POISONED.values(), ids=POISONED.keys())
def test_one_poisoned_event_neither_crashes_the_batch_nor_loses_its_neighbours(change):
    before = wappi_incoming(msg_id="3EB0BEFORE", phone="77012345678", text="первое")
    poisoned = {**wappi_incoming(msg_id="3EB0POISON", phone="77025550101"), **change}
    after = wappi_incoming(msg_id="3EB0AFTER", phone="77475550202", text="третье")

    ingest_events(events=parse_webhook([before, poisoned, after]), via=Message.Via.WEBHOOK)

    texts = dict(Message.objects.values_list("provider_message_id", "text"))
    assert (texts.get("3EB0BEFORE"), texts.get("3EB0AFTER")) == ("первое", "третье")
