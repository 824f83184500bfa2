"""Classification and takeover: what the contact core records, and what the apps above do
about it in the same transaction."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from ai.models import ClassificationRecord, ModelCall
from contacts.models import Contact
from contacts.services import contact_pause_bot, contact_set_client_status
from followups.models import FollowUp
from tests.factories import ContactFactory, FollowUpFactory

pytestmark = pytest.mark.django_db
MONDAY_11 = datetime(2026, 11, 23, 11, 0, tzinfo=ZoneInfo("Asia/Almaty"))


def test_a_verdict_is_recorded_on_the_contact_and_in_its_audit_trail():
    contact = ContactFactory()
    call = ModelCall.objects.create(backend="offline", purpose="classify", model="rules", contact=contact)

    contact_set_client_status(
        contact=contact, is_client=True, confidence=0.9, reasoning="спрашивает цену", request_type="sales",
        by="model", model_call_id=call.pk, now=MONDAY_11,
    )  # fmt: skip

    contact.refresh_from_db()
    assert (contact.is_client, contact.classified_by, contact.classified_at) == (True, "model", MONDAY_11)
    assert contact.request_type == "sales"
    record = ClassificationRecord.objects.get(contact=contact)
    assert (record.source, record.is_client, record.confidence) == ("model", True, 0.9)
    assert record.reasoning == "спрашивает цену"
    assert (record.request_type, record.model_call_id) == ("sales", call.pk)


def test_a_contact_found_not_to_be_a_client_gets_no_more_follow_ups():
    followup = FollowUpFactory()

    contact_set_client_status(contact=followup.contact, is_client=False, reasoning="знакомый", now=MONDAY_11)

    followup.refresh_from_db()
    assert (followup.is_completed, followup.stop_reason) == (True, FollowUp.StopReason.NOT_A_CLIENT)
    assert followup.completed_at == MONDAY_11


def test_an_undecided_verdict_leaves_the_follow_ups_running():
    followup = FollowUpFactory()

    contact_set_client_status(contact=followup.contact, is_client=None, by="model")

    followup.refresh_from_db()
    assert not followup.is_completed
    assert ClassificationRecord.objects.get(contact=followup.contact).is_client is None


def test_the_model_never_overrides_an_operator_and_leaves_no_record():
    followup = FollowUpFactory(contact=ContactFactory(is_client=True, classified_by="operator"))

    contact_set_client_status(contact=followup.contact, is_client=False, by="model")

    followup.contact.refresh_from_db()
    followup.refresh_from_db()
    assert (followup.contact.is_client, followup.contact.classified_by) == (True, "operator")
    assert not ClassificationRecord.objects.exists()
    assert not followup.is_completed


def test_a_human_taking_over_stops_the_follow_ups():
    followup = FollowUpFactory()

    contact_pause_bot(contact=followup.contact, until=None, now=MONDAY_11)

    followup.refresh_from_db()
    followup.contact.refresh_from_db()
    assert followup.contact.bot_mode == Contact.BotMode.HUMAN
    assert (followup.is_completed, followup.stop_reason) == (True, FollowUp.StopReason.HUMAN_TOOK_OVER)
    assert followup.completed_at == MONDAY_11
