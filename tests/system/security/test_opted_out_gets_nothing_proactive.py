"""A customer who opted out gets no proactive message (follow-up, post-purchase) by any road:
the follow-up runner, the post-purchase tick, the contacts admin's bulk actions; and a
proactive row forced into the outbox is refused by the sender. The fake Wappi hears nothing."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
import time_machine

import assistant.tasks
from backoffice.admin.contacts import ContactAdmin
from followups.models import FollowUp
from followups.runner import followups_run_due
from messaging.models import Message
from messaging.sender import PROACTIVE_PURPOSES, outbox_send
from payments.models import PostPurchaseMessage
from payments.post_purchase import post_purchase_poll, post_purchase_run_due
from tests.factories import ContactFactory, FollowUpFactory, InboundMessageFactory, OutboundMessageFactory

pytestmark = pytest.mark.django_db

ALMATY = ZoneInfo("Asia/Almaty")
WEDNESDAY_NOON = datetime(2026, 12, 9, 12, 0, tzinfo=ALMATY)  # inside the send window, no holiday
PHONE = "77012345678"


def opted_out_client_with_a_due_follow_up() -> FollowUp:
    contact = ContactFactory(
        phone=PHONE, is_client=True, classified_by="model", opted_out_at=WEDNESDAY_NOON - timedelta(days=1)
    )
    asked = WEDNESDAY_NOON - timedelta(days=2)
    InboundMessageFactory(contact=contact, timestamp=asked, received_at=asked)
    reply = OutboundMessageFactory(
        contact=contact, status=Message.Status.SENT, timestamp=asked + timedelta(minutes=1), sent_at=asked
    )
    return FollowUpFactory(
        contact=contact,
        next_touch_at=WEDNESDAY_NOON - timedelta(minutes=1),
        anchor_message=reply,
        anchor_at=reply.timestamp,
    )


def proactive_rows():
    return Message.objects.filter(purpose__in=PROACTIVE_PURPOSES)


def test_the_follow_up_runner_sends_an_opted_out_client_nothing_and_stops_the_chain(fake_wappi):
    followup = opted_out_client_with_a_due_follow_up()

    with time_machine.travel(WEDNESDAY_NOON, tick=False):
        report = followups_run_due(rng=random.Random(1))

    assert report.sent == []
    assert not proactive_rows().exists()
    followup.refresh_from_db()
    assert (followup.is_completed, followup.stop_reason) == (True, FollowUp.StopReason.OPTED_OUT)
    assert fake_wappi.sent == []


def test_the_post_purchase_tick_sends_an_opted_out_buyer_nothing(fake_kaspi_shop, fake_wappi):
    ContactFactory(phone=PHONE, opted_out_at=WEDNESDAY_NOON - timedelta(days=3))
    order = fake_kaspi_shop.add_order(
        status="ACCEPTED_BY_MERCHANT", created_at=WEDNESDAY_NOON - timedelta(hours=1), phone="8 701 234 56 78"
    )

    with time_machine.travel(WEDNESDAY_NOON, tick=False):
        post_purchase_poll()
        report = post_purchase_run_due(rng=random.Random(1))

    assert report.queued == []
    assert not proactive_rows().exists()
    row = PostPurchaseMessage.objects.get(order_id=order.id)
    assert row.state == PostPurchaseMessage.State.SKIPPED
    assert fake_wappi.sent == []


@pytest.mark.parametrize("action", ContactAdmin.actions)
def test_no_contacts_admin_bulk_action_sends_an_opted_out_client_anything(
    admin_client, fake_wappi, monkeypatch, action
):
    """None of the contacts admin's bulk actions writes a message at all (checked for each), so
    none can reach an opted-out client."""
    followup = opted_out_client_with_a_due_follow_up()
    before = set(Message.objects.values_list("pk", flat=True))
    # The reclassify action queues a task: run it here instead of on the shared broker.
    monkeypatch.setattr(assistant.tasks, "reclassify", SimpleNamespace(delay=assistant.tasks.reclassify.run))

    with time_machine.travel(WEDNESDAY_NOON, tick=False):
        response = admin_client.post(
            "/admin/contacts/contact/", {"action": action, "_selected_action": [followup.contact_id]}
        )
        followups_run_due(rng=random.Random(1))  # and the runner's next tick after it

    assert response.status_code == 302
    assert set(Message.objects.values_list("pk", flat=True)) == before
    assert fake_wappi.sent == []


@pytest.mark.parametrize("purpose", sorted(PROACTIVE_PURPOSES))
def test_a_proactive_row_forced_into_the_outbox_for_an_opted_out_client_is_refused(fake_wappi, purpose):
    contact = ContactFactory(phone=PHONE, is_client=True, opted_out_at=WEDNESDAY_NOON)
    row = OutboundMessageFactory(contact=contact, purpose=purpose)

    outcome = outbox_send(message_id=row.pk, client=fake_wappi.client())

    assert (outcome.status, outcome.detail) == ("skipped", "the customer opted out of proactive messages")
    row.refresh_from_db()
    assert row.status == Message.Status.FAILED
    assert fake_wappi.sent == []


def test_a_reply_to_an_opted_out_client_who_writes_in_still_goes_out(fake_wappi):
    """The opt-out is about messages we start: answering the customer is not refused."""
    contact = ContactFactory(phone=PHONE, is_client=True, opted_out_at=WEDNESDAY_NOON)
    row = OutboundMessageFactory(contact=contact, purpose=Message.Purpose.REPLY)

    assert outbox_send(message_id=row.pk, client=fake_wappi.client()).status == "sent"
    assert [sent["recipient"] for sent in fake_wappi.sent] == [PHONE]
