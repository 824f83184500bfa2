"""The database itself rejects what must never be stored, whatever code path writes it."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction
from django.utils.timezone import now

from contacts.models import Contact, WhitelistEntry
from contacts.phones import InvalidPhoneError
from contacts.services import whitelist_entry_add
from followups.models import FollowUp
from messaging.models import Message
from tests.factories import (
    ContactFactory,
    FollowUpFactory,
    InboundMessageFactory,
    OutboundMessageFactory,
)

pytestmark = pytest.mark.django_db


def test_the_spec_whitelist_is_seeded_by_migrations():
    assert dict(WhitelistEntry.objects.values_list("phone", "note")) == {
        "77752837306": "Личный номер 1",
        "77018855588": "Личный номер 2",
        "77088098009": "Личный номер 3",
    }


@pytest.mark.parametrize("spelling", ["+7 (775) 283-73-06", "87752837306", "77752837306@c.us"])
def test_a_whitelisted_number_cannot_be_added_twice_in_any_spelling(spelling):
    entry = whitelist_entry_add(phone=spelling, note="again")
    assert entry.note == "Личный номер 1"  # the existing row, not a second one
    assert WhitelistEntry.objects.filter(phone="77752837306").count() == 1
    with pytest.raises(IntegrityError), transaction.atomic():
        WhitelistEntry.objects.create(phone="77752837306")


def test_whitelist_add_rejects_garbage_and_stores_nothing():
    before = WhitelistEntry.objects.count()
    with pytest.raises(InvalidPhoneError):
        whitelist_entry_add(phone="not a number")
    assert WhitelistEntry.objects.count() == before


def test_a_phone_that_is_not_normalised_is_rejected_by_the_database():
    with pytest.raises(IntegrityError), transaction.atomic():
        Contact.objects.create(phone="+77012345678")
    with pytest.raises(IntegrityError), transaction.atomic():
        Contact.objects.create(phone="87012345678@c")


def test_two_contacts_cannot_share_a_phone():
    ContactFactory(phone="77012345678")
    with pytest.raises(IntegrityError), transaction.atomic():
        ContactFactory(phone="77012345678")


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


@pytest.mark.parametrize("touch", [0, 6])
def test_a_follow_up_touch_outside_1_to_5_is_rejected(touch):
    with pytest.raises(IntegrityError), transaction.atomic():
        FollowUpFactory(touch_number=touch)


def test_a_contact_has_at_most_one_active_follow_up():
    active = FollowUpFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        FollowUpFactory(contact=active.contact)


def test_a_new_follow_up_may_start_after_the_previous_one_completed():
    done = FollowUpFactory(is_completed=True, stop_reason=FollowUp.StopReason.CLIENT_RESPONDED, completed_at=now())
    FollowUpFactory(contact=done.contact)
    assert done.contact.followups.count() == 2


def test_a_completed_follow_up_must_say_why():
    with pytest.raises(IntegrityError), transaction.atomic():
        FollowUpFactory(is_completed=True, stop_reason="", completed_at=now())


def test_paused_until_only_makes_sense_in_human_mode():
    with pytest.raises(IntegrityError), transaction.atomic():
        ContactFactory(bot_mode=Contact.BotMode.AI, paused_until=now())


def test_classification_confidence_stays_between_0_and_1():
    with pytest.raises(IntegrityError), transaction.atomic():
        ContactFactory(classification_confidence=1.5)
