"""Enrolment after a bot message, and what the client's reply does to the chain."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from followups.models import FollowUp, FollowUpTouch, ReplyIntent
from followups.runner import followups_run_due
from followups.services import (
    followup_after_bot_message,
    followup_on_customer_reply,
    followup_restart,
    followup_send_now,
)
from messaging.models import Message
from tests.factories import (
    ClientFactory,
    ContactFactory,
    InboundMessageFactory,
    OutboundMessageFactory,
    ScheduledCallFactory,
    local,
    silent_client,
)
from tests.followups.conftest import follow_up_messages
from tests.statements import Statements

pytestmark = pytest.mark.django_db

MONDAY_11 = local(2026, 12, 7, 11, 0)


def bot_says(contact, at, *, text="Здравствуйте! Сколько бутылей нужно в неделю? 😊", purpose="reply") -> Message:
    return OutboundMessageFactory(contact=contact, text=text, purpose=purpose, status="sent", timestamp=at, sent_at=at)


def client_says(contact, at, text: str) -> Message:
    return InboundMessageFactory(contact=contact, text=text, timestamp=at, received_at=at)


def active(contact) -> FollowUp | None:
    return FollowUp.objects.filter(contact=contact, is_completed=False).first()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_enrolling_after_every_sent_reply_costs_three_statements():
    """Every reply that goes out passes here (outbound_sent): lock the contact reading what
    stands in the way (whitelist, a booked call, the last reply's intent) with it, read the
    running chain, write it. (Six before those reads joined the lock's.)"""
    contact = ClientFactory()
    reply = bot_says(contact, MONDAY_11)
    with Statements() as statements:
        followup = followup_after_bot_message(message=reply, now=MONDAY_11)
    assert followup is not None
    assert statements.count <= 3


def test_a_bot_reply_to_a_client_enrols_touch_1_due_24_hours_later_once():
    contact = ClientFactory()
    reply = bot_says(contact, MONDAY_11)
    followup = followup_after_bot_message(message=reply, now=MONDAY_11)
    assert (followup.touch_number, followup.reason) == (1, "no_reply")
    assert followup.next_touch_at == MONDAY_11 + timedelta(hours=24)
    assert followup.anchor_message_id == reply.pk
    before = FollowUp.objects.values().get(pk=followup.pk)

    again = followup_after_bot_message(message=reply, now=MONDAY_11 + timedelta(minutes=5))

    assert again.pk == followup.pk
    assert FollowUp.objects.values().get(pk=followup.pk) == before  # not even updated_at moved
    assert FollowUp.objects.filter(contact=contact).count() == 1


def test_fractional_intervals_are_honoured(settings):
    settings.FOLLOW_UP_INTERVALS = [0.5, 1.5, 2, 3, 4]
    contact = ClientFactory()
    followup = followup_after_bot_message(message=bot_says(contact, MONDAY_11))
    assert followup.next_touch_at == MONDAY_11 + timedelta(minutes=30)


def test_a_newer_bot_reply_moves_the_chain_and_an_older_one_does_not():
    contact = ClientFactory()
    first, second = bot_says(contact, MONDAY_11), bot_says(contact, MONDAY_11 + timedelta(hours=2))
    followup_after_bot_message(message=second)
    followup_after_bot_message(message=first)  # a late hook call for an older message
    assert active(contact).next_touch_at == MONDAY_11 + timedelta(hours=26)


@pytest.mark.parametrize(
    "contact_fields",
    [
        {"is_client": False},
        {"is_client": None},
        {"opted_out_at": MONDAY_11 - timedelta(days=1)},
        {"bot_mode": "human"},
    ],
    ids=["not-a-client", "unknown", "opted-out", "human-mode"],
)
def test_nobody_but_a_reachable_client_is_enrolled(contact_fields):
    contact = ClientFactory(**contact_fields)
    assert followup_after_bot_message(message=bot_says(contact, MONDAY_11), now=MONDAY_11) is None
    assert not FollowUp.objects.filter(contact=contact).exists()


def test_a_client_with_a_booked_call_is_not_enrolled():
    contact = ClientFactory()
    ScheduledCallFactory(contact=contact, scheduled_at=MONDAY_11 + timedelta(days=2))
    assert followup_after_bot_message(message=bot_says(contact, MONDAY_11), now=MONDAY_11) is None


def test_follow_ups_switched_off_enrol_nobody(settings):
    settings.ENABLE_FOLLOW_UPS = False
    contact = ClientFactory()
    assert followup_after_bot_message(message=bot_says(contact, MONDAY_11)) is None


def test_notifications_and_operator_messages_do_not_enrol():
    contact = ClientFactory()
    assert followup_after_bot_message(message=bot_says(contact, MONDAY_11, purpose="notification")) is None
    operator = OutboundMessageFactory(contact=contact, author="operator", status="sent", sent_at=MONDAY_11)
    assert followup_after_bot_message(message=operator) is None
    assert not FollowUp.objects.filter(contact=contact).exists()


def test_a_sent_touch_points_the_chain_at_the_next_touch_and_touch_5_completes_it():
    followup = silent_client(due=MONDAY_11, touch_number=4)
    touch_4 = bot_says(followup.contact, MONDAY_11, purpose="follow_up", text="Касание 4")
    FollowUpTouch.objects.create(followup=followup, touch_number=4, message=touch_4)
    followup_after_bot_message(message=touch_4)
    followup.refresh_from_db()
    assert (followup.touch_number, followup.next_touch_at) == (5, MONDAY_11 + timedelta(hours=720))
    assert followup.last_touch_at == MONDAY_11

    touch_5 = bot_says(followup.contact, followup.next_touch_at, purpose="follow_up", text="Касание 5")
    FollowUpTouch.objects.create(followup=followup, touch_number=5, message=touch_5)
    assert followup_after_bot_message(message=touch_5) is None
    assert followup_after_bot_message(message=touch_5) is None  # twice: still nothing new
    followup.refresh_from_db()
    assert (followup.is_completed, followup.stop_reason) == (True, "completed_5_touches")
    assert FollowUp.objects.filter(contact=followup.contact).count() == 1


def test_a_touch_sent_after_its_chain_was_stopped_does_not_restart_anything():
    followup = silent_client(due=MONDAY_11, touch_number=2)
    touch = bot_says(followup.contact, MONDAY_11, purpose="follow_up", text="Касание 2")
    FollowUpTouch.objects.create(followup=followup, touch_number=2, message=touch)
    followup_on_customer_reply(contact=followup.contact, intent="other", now=MONDAY_11 - timedelta(minutes=1))
    assert followup_after_bot_message(message=touch) is None
    assert active(followup.contact) is None


@pytest.mark.parametrize(
    ("intent", "reason"),
    [
        ("yes", "client_said_yes"),
        ("no", "client_said_no"),
        ("uncertain", "client_responded"),
        ("other", "client_responded"),
    ],
)
def test_any_reply_stops_the_running_chain_at_once(intent, reason):
    followup = silent_client(due=MONDAY_11, touch_number=3)
    assert followup_on_customer_reply(contact=followup.contact, intent=intent, now=MONDAY_11) == 1
    followup.refresh_from_db()
    assert (followup.is_completed, followup.stop_reason, followup.next_touch_at) == (True, reason, None)


def test_a_reply_after_touch_2_stops_the_chain_and_no_more_touches_go_out(rng):
    followup = silent_client(due=MONDAY_11, touch_number=3)
    client_says(followup.contact, MONDAY_11 - timedelta(hours=5), "Да, расскажите подробнее")
    followup_on_customer_reply(contact=followup.contact, intent="other", now=MONDAY_11 - timedelta(hours=5))
    with time_machine.travel(MONDAY_11, tick=False):
        assert followups_run_due(rng=rng).sent == []
    assert not follow_up_messages().exists()


def test_a_clear_no_means_no_re_enrolment_until_the_client_writes_something_else():
    contact = ClientFactory()
    followup_after_bot_message(message=bot_says(contact, MONDAY_11))
    client_says(contact, MONDAY_11 + timedelta(hours=1), "Нет, не интересно")
    followup_on_customer_reply(contact=contact, intent="no", now=MONDAY_11 + timedelta(hours=1))
    goodbye = bot_says(contact, MONDAY_11 + timedelta(hours=1, minutes=1), text="Понял, спасибо! Хорошего дня 😊")

    assert followup_after_bot_message(message=goodbye) is None
    assert active(contact) is None
    assert ReplyIntent.objects.get(contact=contact).intent == "no"

    # A week later the client writes again; the bot's answer enrols them once more.
    client_says(contact, MONDAY_11 + timedelta(days=7), "Здравствуйте, а доставка в Есик есть?")
    followup_on_customer_reply(contact=contact, intent="other", now=MONDAY_11 + timedelta(days=7))
    answer = bot_says(contact, MONDAY_11 + timedelta(days=7, minutes=1))
    followup = followup_after_bot_message(message=answer)
    assert (followup.touch_number, followup.reason) == (1, "no_reply")


def test_a_clear_yes_blocks_re_enrolment_too():
    contact = ClientFactory()
    followup_on_customer_reply(contact=contact, intent="yes", now=MONDAY_11)
    assert followup_after_bot_message(message=bot_says(contact, MONDAY_11 + timedelta(minutes=1))) is None


def test_an_uncertain_answer_re_enrols_with_reason_uncertain_answer():
    contact = ClientFactory()
    followup_after_bot_message(message=bot_says(contact, MONDAY_11))
    client_says(contact, MONDAY_11 + timedelta(hours=2), "Подумаю")
    followup_on_customer_reply(contact=contact, intent="uncertain", now=MONDAY_11 + timedelta(hours=2))
    answer = bot_says(contact, MONDAY_11 + timedelta(hours=2, minutes=1), text="Конечно! Пишите, если что 😊")

    followup = followup_after_bot_message(message=answer)

    assert (followup.touch_number, followup.reason) == (1, "uncertain_answer")
    assert followup.next_touch_at == answer.sent_at + timedelta(hours=24)
    old = FollowUp.objects.filter(contact=contact, is_completed=True).get()
    assert old.stop_reason == "client_responded"


def test_an_unknown_intent_is_refused():
    with pytest.raises(ValueError, match="unknown reply intent"):
        followup_on_customer_reply(contact=ClientFactory(), intent="maybe")


def test_restart_starts_again_from_touch_1_and_send_now_makes_the_touch_due():
    followup = silent_client(due=MONDAY_11 + timedelta(days=3), touch_number=4)
    FollowUp.objects.filter(pk=followup.pk).update(reason="uncertain_answer")
    restarted = followup_restart(contact=followup.contact, now=MONDAY_11)
    followup.refresh_from_db()
    assert (followup.is_completed, followup.stop_reason) == (True, "stopped_by_operator")
    assert (restarted.touch_number, restarted.reason) == (1, "uncertain_answer")
    assert restarted.next_touch_at == MONDAY_11 + timedelta(hours=24)

    assert followup_send_now(followup=restarted, now=MONDAY_11 + timedelta(minutes=2)) is True
    restarted.refresh_from_db()
    assert restarted.next_touch_at == MONDAY_11 + timedelta(minutes=2)
    assert followup_send_now(followup=followup) is False  # a finished chain stays finished


def test_a_hand_off_message_starts_no_follow_up_chain():
    # Even once an operator gave the chat back to the bot: a hand-off is not a question of ours.
    contact = ContactFactory(is_client=True, classified_by="model")
    now = timezone.now()
    told = OutboundMessageFactory(
        contact=contact, purpose=Message.Purpose.HANDOFF, status=Message.Status.SENT, timestamp=now, sent_at=now
    )

    assert followup_after_bot_message(message=told, now=now) is None
    assert not FollowUp.objects.filter(contact=contact).exists()
