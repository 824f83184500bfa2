"""contact_forget: what it erases, what it keeps anonymised, and that it is all or nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from ai.models import ClassificationRecord, ModelCall, PendingReply, ReplyDecision
from contacts.forget import REDACTED, contact_forget
from contacts.models import CallReminder, Contact, ScheduledCall
from contacts.signals import contact_forgetting_messages
from followups.models import FollowUp, FollowUpTouch, ReplyIntent
from messaging.models import Message
from payments.models import Payment, PostPurchaseMessage
from tests.factories import (
    ContactFactory,
    FollowUpFactory,
    InboundMessageFactory,
    OutboundMessageFactory,
    ScheduledCallFactory,
)

pytestmark = pytest.mark.django_db
PHONE = "77012345678"


@pytest.fixture
def person():
    """A contact with something in every app: a conversation with a follow-up touch and a
    reply waiting for the model, a verdict, a model call, a booked call with a reminder, a
    reply intent, a paid invoice, a Kaspi Shop order, and a manager notice naming it."""
    now = timezone.now()
    contact = ContactFactory(phone=PHONE, name="Асель", full_name="Асель Нурланова", is_client=True)
    question = InboundMessageFactory(contact=contact, text="Сколько стоит кулер?")
    touch = OutboundMessageFactory(contact=contact, purpose="follow_up", reply_to=question)
    followup = FollowUpFactory(contact=contact, anchor_message=touch)
    FollowUpTouch.objects.create(followup=followup, touch_number=1, message=touch)
    PendingReply.objects.create(contact=contact, message=question, due_at=now)
    ReplyIntent.objects.create(contact=contact, intent="uncertain", replied_at=now)
    call = ScheduledCallFactory(contact=contact)
    CallReminder.objects.create(call=call, audience="client", due_at=call.scheduled_at - timedelta(hours=1))
    ClassificationRecord.objects.create(contact=contact, source="model", is_client=True)
    ReplyDecision.objects.create(
        contact=contact,
        message=question,
        tool_calls=[{"name": "book_call", "args": {"topic": "Созвон: «Сколько стоит кулер?»"}, "response": {}}],
    )
    ModelCall.objects.create(backend="offline", purpose="classify", model="rules", contact=contact)
    payment = Payment.objects.create(
        contact=contact, amount=25000, description="Кулер Aqua Pro", phone=PHONE, requested_in=question,
        status=Payment.Status.PROCESSED, created_by=Payment.CreatedBy.AI, last_error=f"нет ответа для {PHONE}",
    )  # fmt: skip
    PostPurchaseMessage.objects.create(
        order_id="A1", order_status="COMPLETED", kind="thanks", phone=PHONE, customer_name="Асель Н.",
        contact=contact, due_at=now,
    )  # fmt: skip
    manager = ContactFactory(phone="77019990011", name="Менеджер")
    notice = OutboundMessageFactory(contact=manager, purpose="notification", text="🔔 Асель, +7 701 234 56 78")
    return {"contact": contact, "payment": payment, "notice": notice}


def test_forgetting_counts_every_kind_of_row_it_erased_or_anonymised(person):
    removed = contact_forget(contact=person["contact"])

    assert removed == {
        "messages": 2,
        "followups": 1,
        "followup_touches": 1,
        "calls": 1,
        "call_reminders": 1,
        "classifications": 1,
        "reply_decisions": 1,
        "pending_replies": 1,
        "reply_intents": 1,
        "model_calls_unlinked": 1,
        "notices_redacted": 1,
        "chat_cursors": 0,
        "admin_log_entries": 0,
        "post_purchase_anonymised": 1,
        "payments_anonymised": 1,
        "card_drafts": 0,
        "contact_deleted": 1,
    }
    assert not Contact.objects.filter(phone=PHONE).exists()
    assert not Message.objects.exclude(purpose="notification").exists()
    erased = (
        FollowUp,
        FollowUpTouch,
        ReplyIntent,
        PendingReply,
        ClassificationRecord,
        ReplyDecision,
        ScheduledCall,
        CallReminder,
    )
    for model in erased:
        assert not model.objects.exists(), model.__name__
    assert ModelCall.objects.get().contact_id is None
    person["notice"].refresh_from_db()
    assert person["notice"].text == REDACTED
    payment = Payment.objects.get()
    assert (payment.contact_id, payment.requested_in_id, payment.phone) == (None, None, "")
    assert PHONE not in payment.last_error
    assert (payment.amount, payment.description) == (25000, "Кулер Aqua Pro")


def test_forgetting_is_all_or_nothing(person):
    """Each app erases its own rows from a receiver; a failure in any of them leaves the
    person exactly as they were, not half forgotten."""

    def fail(**_kwargs):
        raise RuntimeError("disk full")

    contact_forgetting_messages.connect(fail, dispatch_uid="tests.fail_while_forgetting")
    try:
        with pytest.raises(RuntimeError, match="disk full"):
            contact_forget(contact=person["contact"])
    finally:
        contact_forgetting_messages.disconnect(dispatch_uid="tests.fail_while_forgetting")

    contact = Contact.objects.get(phone=PHONE)
    assert contact.messages.count() == 2
    assert (contact.followups.count(), FollowUpTouch.objects.count(), ReplyIntent.objects.count()) == (1, 1, 1)
    assert (contact.pending_replies.count(), contact.classifications.count(), contact.calls.count()) == (1, 1, 1)
    assert ModelCall.objects.get().contact_id == contact.pk
    payment = Payment.objects.get()
    assert (payment.contact_id, payment.phone) == (contact.pk, PHONE)
    assert PostPurchaseMessage.objects.get().phone == PHONE
    person["notice"].refresh_from_db()
    assert "234 56 78" in person["notice"].text
