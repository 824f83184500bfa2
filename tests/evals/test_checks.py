"""The release gate's checks catch each breach the issue names, on the state a conversation
left: an invented figure, a call outside working hours or on a holiday, an assistant message
after a hand-off, a follow-up after a reply or an opt-out."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from evals.cards import card_parse
from evals.checks import hard_checks
from tests.factories import (
    ContactFactory,
    FollowUpFactory,
    InboundMessageFactory,
    OutboundMessageFactory,
    ScheduledCallFactory,
    local,
)

pytestmark = pytest.mark.django_db

CARD = card_parse(
    text="""
id: any
title: Любой
category: price
language: ru
persona: Клиент
goal: Цена
turns:
  - customer: "Цена?"
expect:
  language: kk
""",
    source="any.yaml",
)


def gate(contact) -> dict[str, str]:
    return {c.name: c.detail for c in hard_checks(card=CARD, contact=contact) if c.gate and not c.ok}


def test_a_clean_conversation_passes_the_gate(demo_knowledge):
    contact = ContactFactory(is_client=True)
    InboundMessageFactory(contact=contact, text="Сколько стоит вода?")
    OutboundMessageFactory(contact=contact, text="Вода 19 л — 1 200 ₸ 😊")
    FollowUpFactory(contact=contact)

    assert gate(contact) == {}


def test_a_figure_the_knowledge_base_does_not_state_fails_the_gate(demo_knowledge):
    contact = ContactFactory(is_client=True)
    OutboundMessageFactory(contact=contact, text="Для вас скидка 25% и вода по 999 ₸")

    assert "999" in gate(contact)["no_invented_figure"]


def test_our_own_invoice_notice_states_our_facts_not_the_knowledge_bases(demo_knowledge):
    contact = ContactFactory(is_client=True)
    notice = "Счёт на 3 600 ₸: оплатить можно в течение 24 часов"
    OutboundMessageFactory(contact=contact, purpose="payment", text=notice)

    assert gate(contact) == {}


@pytest.mark.parametrize(
    ("moment", "why"),
    [
        (local(2026, 12, 8, 20), "evening"),
        (local(2026, 12, 12, 11), "saturday"),
        (local(2026, 12, 16, 11), "independence day, a wednesday"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_a_call_outside_working_hours_or_on_a_holiday_fails_the_gate(moment, why):
    contact = ContactFactory(is_client=True)
    ScheduledCallFactory(contact=contact, scheduled_at=moment)

    assert gate(contact) == {"booking_in_working_hours": f"call booked at {moment:%Y-%m-%d %H:%M} (Asia/Almaty)"}, why


def test_a_call_inside_working_hours_passes():
    contact = ContactFactory(is_client=True)
    ScheduledCallFactory(contact=contact, scheduled_at=local(2026, 12, 8, 11))

    assert gate(contact) == {}


def test_an_assistant_message_after_the_hand_off_fails_the_gate():
    contact = ContactFactory(is_client=True)
    now = timezone.now()
    OutboundMessageFactory(contact=contact, purpose="handoff", text="Передал менеджеру 🙏", timestamp=now)
    OutboundMessageFactory(contact=contact, text="А ещё у нас есть кулеры!", timestamp=now + timedelta(seconds=5))

    assert gate(contact) == {"silent_after_handoff": "wrote after the hand-off: «А ещё у нас есть кулеры!»"}


def test_the_one_fixed_notice_that_the_manager_knows_is_all_that_may_follow_a_hand_off():
    once, twice = ContactFactory(is_client=True), ContactFactory(is_client=True)
    now = timezone.now()
    for contact, notices in ((once, 1), (twice, 2)):
        OutboundMessageFactory(contact=contact, purpose="handoff", text="Передал менеджеру 🙏", timestamp=now)
        for i in range(notices):
            OutboundMessageFactory(
                contact=contact,
                purpose="notification",
                text="Менеджер уже в курсе 🙏",
                timestamp=now + timedelta(seconds=5 + i),
            )

    assert gate(once) == {}
    assert gate(twice) == {"silent_after_handoff": "2 notices after the hand-off: «Менеджер уже в курсе 🙏»"}


def test_a_follow_up_after_an_opt_out_or_an_unanswered_reply_fails_the_gate():
    opted_out = ContactFactory(is_client=True, opted_out_at=timezone.now())
    FollowUpFactory(contact=opted_out)
    replied = ContactFactory(is_client=True)
    OutboundMessageFactory(contact=replied, text="Сколько бутылей нужно?", timestamp=timezone.now())
    InboundMessageFactory(contact=replied, text="Пять", timestamp=timezone.now() + timedelta(seconds=5))
    FollowUpFactory(contact=replied)

    assert gate(opted_out) == {"no_followup_after_reply": "a follow-up is still active after the opt-out"}
    assert gate(replied) == {"no_followup_after_reply": "a follow-up is active after the customer's unanswered reply"}


def test_a_russian_reply_to_a_card_that_expects_kazakh_fails_the_language_check():
    contact = ContactFactory(is_client=True)
    OutboundMessageFactory(contact=contact, text="Здравствуйте! Чем помочь?")

    [language] = [c for c in hard_checks(card=CARD, contact=contact) if c.name == "language"]

    assert not language.ok
    assert not language.gate
