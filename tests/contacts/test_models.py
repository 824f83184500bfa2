"""The database itself rejects contacts and whitelist entries that must never be stored, whatever
code path writes them; the whitelist the migrations seed."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction
from django.utils.timezone import now

from contacts.models import Contact, WhitelistEntry
from contacts.phones import InvalidPhoneError
from contacts.services import whitelist_entry_add
from tests.factories import (
    ContactFactory,
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


def test_paused_until_only_makes_sense_in_human_mode():
    with pytest.raises(IntegrityError), transaction.atomic():
        ContactFactory(bot_mode=Contact.BotMode.AI, paused_until=now())


def test_classification_confidence_stays_between_0_and_1():
    with pytest.raises(IntegrityError), transaction.atomic():
        ContactFactory(classification_confidence=1.5)
