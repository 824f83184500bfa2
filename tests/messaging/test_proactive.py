"""The proactive gate: a message we start ourselves (a follow-up touch, a post-purchase thank-you)
goes out only inside the send window, to an eligible contact, checked when it is planned and
again when the sender takes it. Real PostgreSQL, the fake Wappi over HTTP, time moved with
time-machine."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from contacts.models import CallReminder
from messaging.models import Message, NumberState
from messaging.number import number_pause, number_resume
from messaging.sender import SendLater, outbox_due, outbox_send
from tests.factories import ContactFactory, OutboundMessageFactory, ScheduledCallFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("send_window")]

ALMATY = ZoneInfo("Asia/Almaty")


def local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=ALMATY)  # 7 Dec 2026 is a Monday


@pytest.mark.parametrize("purpose", [Message.Purpose.FOLLOW_UP, Message.Purpose.POST_PURCHASE])
def test_a_proactive_message_queued_before_the_window_closed_waits_for_the_next_opening(fake_wappi, purpose):
    # Given a touch queued on Wednesday at 18:59, whose send was held up past 19:00
    contact = ContactFactory(phone="77012345678", is_client=True, first_inbound_at=local(1, 9))
    with time_machine.travel(local(9, 18, 59), tick=False):
        row = OutboundMessageFactory(contact=contact, purpose=purpose, text="Добрый день! Остались вопросы?")

    # When the sender takes it at 19:05
    with time_machine.travel(local(9, 19, 5), tick=False), pytest.raises(SendLater):
        outbox_send(message_id=row.pk, client=fake_wappi.client())

    # Then nothing reaches WhatsApp tonight; the row waits, queued, for Thursday's opening
    assert fake_wappi.sent == []
    row.refresh_from_db()
    assert row.status == Message.Status.QUEUED
    assert local(10, 10) <= row.next_attempt_at <= local(10, 10, 7)
    assert row.attempts == 0
    with time_machine.travel(local(10, 9, 59), tick=False):
        assert row.pk not in outbox_due()[0]
    with time_machine.travel(row.next_attempt_at + timedelta(seconds=31), tick=False):
        assert row.pk in outbox_due()[0]
        assert outbox_send(message_id=row.pk, client=fake_wappi.client()).status == "sent"
    assert [m["body"] for m in fake_wappi.sent] == ["Добрый день! Остались вопросы?"]


def test_a_reply_is_not_held_by_the_send_window(fake_wappi):
    contact = ContactFactory(phone="77012345678", is_client=True)
    with time_machine.travel(local(9, 23, 30), tick=False):
        row = OutboundMessageFactory(contact=contact, text="Да, доставим завтра 😊")
        assert outbox_send(message_id=row.pk, client=fake_wappi.client()).status == "sent"


def test_a_follow_up_queued_at_18_55_whose_worker_was_down_goes_out_at_the_next_opening_not_at_2_am(fake_wappi):
    contact = ContactFactory(phone="77012345678", is_client=True, first_inbound_at=local(1, 9))
    with time_machine.travel(local(9, 18, 55), tick=False):
        row = OutboundMessageFactory(contact=contact, purpose=Message.Purpose.FOLLOW_UP, text="Остались вопросы?")

    # The worker comes back at 02:00 and takes the queue
    with time_machine.travel(local(10, 2), tick=False), pytest.raises(SendLater):
        outbox_send(message_id=row.pk, client=fake_wappi.client())

    assert fake_wappi.sent == []
    row.refresh_from_db()
    assert local(10, 10) <= row.next_attempt_at <= local(10, 10, 7)
    with time_machine.travel(row.next_attempt_at + timedelta(seconds=31), tick=False):
        assert outbox_send(message_id=row.pk, client=fake_wappi.client()).status == "sent"
    assert [m["body"] for m in fake_wappi.sent] == ["Остались вопросы?"]


def test_a_call_reminder_goes_out_before_the_call_but_never_after_it_started(fake_wappi):
    contact = ContactFactory(phone="77012345678", is_client=True)
    reminders = []
    for text in ("Напоминаю: созвон в 10:00", "Напоминаю: созвон в 10:00, второй"):
        with time_machine.travel(local(10, 9), tick=False):
            call = ScheduledCallFactory(contact=contact, scheduled_at=local(10, 10))
            reminder = CallReminder.objects.create(
                call=call, audience=CallReminder.Audience.CLIENT, due_at=local(10, 9)
            )
            reminders.append(
                OutboundMessageFactory(
                    contact=contact,
                    purpose=Message.Purpose.BOOKING,
                    text=text,
                    idempotency_key=f"call-reminder:{reminder.pk}",
                )
            )

    # One hour before the call it goes out; the other, taken by a worker that was down, after
    # the call began, does not.
    with time_machine.travel(local(10, 9, 1), tick=False):
        assert outbox_send(message_id=reminders[0].pk, client=fake_wappi.client()).status == "sent"
    with time_machine.travel(local(10, 10, 5), tick=False):
        late = outbox_send(message_id=reminders[1].pk, client=fake_wappi.client())

    assert late.status == "skipped"
    assert [m["body"] for m in fake_wappi.sent] == ["Напоминаю: созвон в 10:00"]
    reminders[1].refresh_from_db()
    assert reminders[1].status == Message.Status.FAILED
    assert "the call has already started" in reminders[1].last_error


def test_a_call_reminder_waits_while_whatsapp_restricts_the_number_and_goes_out_once_the_pause_is_lifted(fake_wappi):
    # The customer booked the call (not an unsolicited message), but while WhatsApp restricts
    # the number nothing it does not have to send goes out.
    contact = ContactFactory(phone="77012345678", is_client=True)
    with time_machine.travel(local(10, 9), tick=False):
        call = ScheduledCallFactory(contact=contact, scheduled_at=local(10, 11))
        reminder = CallReminder.objects.create(call=call, audience=CallReminder.Audience.CLIENT, due_at=local(10, 10))
        row = OutboundMessageFactory(
            contact=contact,
            purpose=Message.Purpose.BOOKING,
            text="Напоминаю: созвон в 11:00",
            idempotency_key=f"call-reminder:{reminder.pk}",
        )
        number_pause(reason=NumberState.Reason.RESTRICTED, detail="temporary ban", until=local(10, 10, 20))

    with time_machine.travel(local(10, 10, 1), tick=False), pytest.raises(SendLater):
        outbox_send(message_id=row.pk, client=fake_wappi.client())

    assert fake_wappi.sent == []
    row.refresh_from_db()
    assert row.status == Message.Status.QUEUED
    assert row.next_attempt_at >= local(10, 10, 20)

    # The restriction's cooling-off time passes and the status check lifts the pause.
    with time_machine.travel(local(10, 10, 21), tick=False):
        assert number_resume()
    with time_machine.travel(row.next_attempt_at + timedelta(seconds=1), tick=False):
        assert outbox_send(message_id=row.pk, client=fake_wappi.client()).status == "sent"
    assert [m["body"] for m in fake_wappi.sent if m["body"].startswith("Напоминаю")] == ["Напоминаю: созвон в 11:00"]
