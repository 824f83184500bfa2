"""A hand-off no manager can miss, end to end through the real AI step: the managers' brief (the
model's through the number guard, the template without it) reaching Wappi, the deadline in
working minutes with its reminder and the owner's escalation, a human answer from the phone or
the API, the one "the manager knows" line, and the assistant's return after the humans' silence.
The real database, google-genai against the fake Gemini, the fake Wappi; nothing of ours patched."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone

from ai.models import ModelCall
from ai.rules.language import KAZAKH, RUSSIAN
from ai.rules.texts import fixed_text
from assistant.handoff import handoff_brief_deliver
from assistant.pipeline import HANDOFF_WAITING_TEXT, incoming_process
from assistant.tasks import check_handoffs
from contacts.models import Contact
from followups.models import FollowUp
from messaging.handoffs import handoffs_check
from messaging.ingest import ingest_events
from messaging.models import HandOff, Message
from messaging.proactive import Hold, proactive_gate
from messaging.sender import outbox_send
from messaging.wire import parse_webhook
from tests.factories import ContactFactory, FollowUpFactory, OutboundMessageFactory, customer_says, wappi_incoming
from tests.fakes.gemini import function_call_response

pytestmark = pytest.mark.django_db

ALMATY = ZoneInfo("Asia/Almaty")
MANAGERS = ["77019990011", "77019990022"]
OWNER = "77017770000"
# Friday 27 November 2026, 17:50 in Almaty: ten working minutes left in the week.
FRIDAY_EVENING = datetime(2026, 11, 27, 17, 50, tzinfo=ALMATY)
MONDAY = datetime(2026, 11, 30, tzinfo=ALMATY)
MODEL_BRIEF = (
    "Хочет: кулеры для офиса на 40 человек\n"
    "Ситуация: офис в Алматы, сейчас бутыли возят раз в неделю\n"
    "Проблема: вода заканчивается к среде\n"
    "Потребность: доставка два раза в неделю\n"
    "Суммы и товары: бюджет 500 000 ₸, кулер Aqua Pro\n"
    "Возражения: дорого обслуживание\n"
    "Звонок: завтра после 15:00"
)


@pytest.fixture
def managers(settings):
    settings.MANAGER_PHONES = MANAGERS
    settings.HANDOFF_ESCALATION_PHONES = [OWNER]
    settings.HANDOFF_ANSWER_MINUTES = 15
    settings.BOT_PAUSE_AFTER_OPERATOR = 12.0
    settings.PUBLIC_BASE_URL = "https://crm.example.kz"
    settings.TIME_ZONE = "Asia/Almaty"
    settings.WORKING_HOURS_START, settings.WORKING_HOURS_END = 10, 18
    return settings


def to(phone: str) -> list[Message]:
    return list(Message.objects.filter(contact__phone=phone, direction="out").order_by("id"))


def customer_texts(contact: Contact) -> list[str]:
    return list(Message.objects.filter(contact=contact, direction="out").order_by("id").values_list("text", flat=True))


def asks_for_a_person(fake_gemini, contact: Contact) -> HandOff:
    """The customer explains and asks for a person; the model hands off through its tool."""
    customer_says(contact, "Здравствуйте, нужны кулеры в офис на 40 человек, бюджет 500 000 тенге", seconds_ago=60)
    OutboundMessageFactory(contact=contact, text="Понял 😊 Как часто вам нужна доставка?")
    message = customer_says(contact, "Два раза в неделю. Дорого обслуживание. Позвоните мне, хочу обсудить с человеком")
    fake_gemini.enqueue(function_call_response("handoff_to_manager", {"reason": "клиент просит звонок менеджера"}))
    fake_gemini.reply_text("Передал ваш вопрос менеджеру, он скоро свяжется с вами 👍")
    assert incoming_process(message_id=message.pk).status == "handed off"
    return HandOff.objects.get(contact=contact, closed_at__isnull=True)


def test_each_manager_gets_one_brief_the_model_wrote_and_wappi_delivers_it(
    fake_gemini, fake_wappi, managers, django_capture_on_commit_callbacks, published_calls
):
    contact = ContactFactory(is_client=True, full_name="Асель Нурланова", phone="77011234567")

    with django_capture_on_commit_callbacks(execute=True):
        handoff = asks_for_a_person(fake_gemini, contact)
    # The brief is written on the model queue, not inside the customer's answer.
    assert ("assistant.handoff_brief", handoff.pk) in published_calls
    assert to(MANAGERS[0]) == []
    fake_gemini.reply_text(MODEL_BRIEF)
    assert handoff_brief_deliver(handoff_id=handoff.pk) == "sent"
    assert handoff_brief_deliver(handoff_id=handoff.pk) == "skipped"  # a redelivered task briefs nobody again

    [first], [second] = to(MANAGERS[0]), to(MANAGERS[1])
    assert first.text == second.text
    brief = first.text
    assert brief.startswith("🔔 Передача менеджеру: клиент просит звонок менеджера")
    assert "Асель Нурланова, +7 701 123 45 67" in brief
    for line in MODEL_BRIEF.splitlines():
        assert line in brief
    assert f"Карточка: https://crm.example.kz/admin/contacts/contact/{contact.pk}/change/" in brief
    # The model read the conversation as data, and the call is on the books as a brief.
    brief_request = fake_gemini.last_request()
    assert "бюджет 500 000 тенге" in "\n".join(brief_request.texts())
    assert ModelCall.objects.filter(purpose="handoff", contact=contact).count() == 1
    handoff.refresh_from_db()
    assert (handoff.brief, handoff.brief_by) == (brief, "model")

    for message in (first, second):
        assert outbox_send(message_id=message.pk, client=fake_wappi.client()).status == "sent"
    delivered = {(call["recipient"], call["body"]) for call in fake_wappi.sent}
    assert delivered == {(MANAGERS[0], brief), (MANAGERS[1], brief)}


def test_a_brief_that_keeps_inventing_figures_is_replaced_by_the_template(fake_gemini, managers):
    contact = ContactFactory(is_client=True, full_name="Ержан Касымов")
    handoff = asks_for_a_person(fake_gemini, contact)
    fake_gemini.reply_text("Хочет: кулеры со скидкой 30%")
    fake_gemini.reply_text("Хочет: кулеры, обещали скидку 30%")

    assert handoff_brief_deliver(handoff_id=handoff.pk) == "template"

    [notice] = to(MANAGERS[0])
    assert "30%" not in notice.text
    assert "Позвоните мне, хочу обсудить с человеком" in notice.text  # the customer's own words
    assert "500000" in notice.text  # the amount the customer named
    assert "Созвон: не назначен" in notice.text
    assert HandOff.objects.get(pk=handoff.pk).brief_by == "template"


def test_when_the_model_is_down_the_managers_get_the_template_brief_at_once(fake_gemini, managers):
    contact = ContactFactory(is_client=True)
    handoff = asks_for_a_person(fake_gemini, contact)
    for _ in range(3):
        fake_gemini.reply_error(503)

    assert handoff_brief_deliver(handoff_id=handoff.pk) == "template"
    assert len(to(MANAGERS[0])) == len(to(MANAGERS[1])) == 1


def test_without_the_model_the_template_brief_goes_out_with_the_hand_off(settings, managers):
    settings.LLM_BACKEND = "offline"
    contact = ContactFactory(is_client=True, full_name="Ержан Касымов")
    message = customer_says(contact, "Соедините с менеджером, пожалуйста")

    assert incoming_process(message_id=message.pk).status == "handed off"

    [notice] = to(MANAGERS[0])
    assert notice.text.startswith("🔔 ")
    assert "Ержан" in notice.text
    assert "Соедините с менеджером, пожалуйста" in notice.text
    assert f"/admin/contacts/contact/{contact.pk}/change/" in notice.text
    assert not ModelCall.objects.filter(purpose="handoff").exists()


def test_a_customer_who_writes_again_hears_once_that_the_manager_knows_and_never_a_sales_reply(fake_gemini, managers):
    contact = ContactFactory(is_client=True)
    asks_for_a_person(fake_gemini, contact)
    handed = len(customer_texts(contact))

    first = customer_says(contact, "Алло, есть кто?", seconds_ago=20)
    assert incoming_process(message_id=first.pk).status == "operator mode"
    second = customer_says(contact, "Сколько стоит кулер?", seconds_ago=10)
    assert incoming_process(message_id=second.pk).status == "operator mode"

    assert customer_texts(contact)[handed:] == [HANDOFF_WAITING_TEXT]
    assert fake_gemini.pending == 0  # no model call for either


@pytest.mark.parametrize(
    ("text", "language"),
    [("Больше не пишите мне", RUSSIAN), ("Маған енді жазбаңызшы", KAZAKH)],
)
def test_an_opt_out_during_a_hand_off_is_recorded_and_confirmed_not_answered_with_the_manager_knows(
    fake_gemini, fake_wappi, managers, text, language
):
    contact = ContactFactory(is_client=True)
    asks_for_a_person(fake_gemini, contact)
    handed = len(customer_texts(contact))

    stop = customer_says(contact, text, seconds_ago=10)
    assert incoming_process(message_id=stop.pk).status == "opted out"

    contact.refresh_from_db()
    assert contact.opted_out_at is not None
    [confirmation] = Message.objects.filter(contact=contact, direction="out").order_by("id")[handed:]
    assert confirmation.text == fixed_text("opt_out_confirmation", language)
    assert HANDOFF_WAITING_TEXT not in customer_texts(contact)
    assert fake_gemini.pending == 0  # no model call
    # The human still holds the chat, but the customer's explicit instruction is confirmed.
    assert outbox_send(message_id=confirmation.pk, client=fake_wappi.client()).status == "sent"
    assert [call["body"] for call in fake_wappi.sent] == [confirmation.text]
    # When the assistant gets the chat back, it starts nothing with this customer.
    Contact.objects.filter(pk=contact.pk).update(bot_mode=Contact.BotMode.AI, paused_until=None)
    contact.refresh_from_db()
    for purpose in (Message.Purpose.FOLLOW_UP, Message.Purpose.POST_PURCHASE):
        assert proactive_gate(contact=contact, purpose=purpose, now=timezone.now()).hold == Hold.OPTED_OUT


def test_a_hand_off_stops_the_follow_ups(fake_gemini, managers):
    contact = ContactFactory(is_client=True)
    follow_up = FollowUpFactory(contact=contact)

    asks_for_a_person(fake_gemini, contact)

    follow_up.refresh_from_db()
    assert (follow_up.is_completed, follow_up.stop_reason) == (True, FollowUp.StopReason.HUMAN_TOOK_OVER)


def test_nobody_answers_within_the_working_minutes_the_managers_are_reminded_then_the_owner(fake_gemini, managers):
    contact = ContactFactory(is_client=True, full_name="Ержан Касымов")
    with time_machine.travel(FRIDAY_EVENING, tick=True):
        handoff = asks_for_a_person(fake_gemini, contact)
    fake_gemini.reply_text(MODEL_BRIEF)
    handoff_brief_deliver(handoff_id=handoff.pk)
    # Ten minutes on Friday, five on Monday morning: the weekend does not count.
    assert abs(handoff.due_at - MONDAY.replace(hour=10, minute=5)) < timedelta(seconds=5)

    assert handoffs_check(now=MONDAY.replace(hour=10, minute=4)).reminded == 0
    assert handoffs_check(now=MONDAY.replace(hour=10, minute=6)).reminded == 1
    assert handoffs_check(now=MONDAY.replace(hour=10, minute=7)).reminded == 0  # once
    _brief, reminder = to(MANAGERS[0])
    assert reminder.text.startswith("⏰ Клиент ждёт ответа менеджера")
    assert "Ержан" in reminder.text
    assert to(OWNER) == []

    assert handoffs_check(now=MONDAY.replace(hour=10, minute=19)).escalated == 0
    assert handoffs_check(now=MONDAY.replace(hour=10, minute=21)).escalated == 1
    assert handoffs_check(now=MONDAY.replace(hour=10, minute=40)).escalated == 0  # once
    [escalation] = to(OWNER)
    assert escalation.text.startswith("‼️ Клиенту никто не ответил")
    assert f"/admin/contacts/contact/{contact.pk}/change/" in escalation.text
    assert len(to(MANAGERS[1])) == 2  # the brief and the reminder, nothing more
    handoff.refresh_from_db()
    assert handoff.reminded_at is not None
    assert handoff.escalated_at is not None


def test_an_answer_typed_on_the_phone_stops_the_reminders_and_the_assistant_returns_after_the_silence(
    fake_gemini, managers
):
    with time_machine.travel(MONDAY.replace(hour=11), tick=True):
        contact = ContactFactory(is_client=True, phone="77011234567")
        handoff = asks_for_a_person(fake_gemini, contact)
        answered = timezone.now()

        typed = wappi_incoming(
            "OP1",
            phone=contact.phone,
            text="Добрый день! Это Алия, менеджер",
            wh_type="outgoing_message_phone",
            **{"from": "77000000000@c.us", "to": f"{contact.phone}@c.us"},
        )
        assert ingest_events(events=parse_webhook([typed]), via="webhook").operator == 1

        handoff.refresh_from_db()
        contact.refresh_from_db()
        assert handoff.answered_at is not None
        # The hand-off's open-ended pause became the humans' silence timer.
        assert contact.paused_until is not None
        assert abs(contact.paused_until - (answered + timedelta(hours=12))) < timedelta(minutes=1)
        # Past the deadline, but a person answered: no reminder.
        assert handoffs_check(now=contact.paused_until - timedelta(minutes=1)).reminded == 0
        later = customer_says(contact, "Спасибо, жду звонка", seconds_ago=5)
        assert incoming_process(message_id=later.pk, now=timezone.now() + timedelta(seconds=10)).status == (
            "operator mode"
        )
        assert HANDOFF_WAITING_TEXT not in customer_texts(contact)  # a person already answered

        back = contact.paused_until + timedelta(seconds=1)
        assert handoffs_check(now=back).closed == 1
        handoff.refresh_from_db()
        assert (handoff.closed_at, handoff.closed_reason) == (contact.paused_until, HandOff.Closed.RESUMED)
        fake_gemini.reply_text("С возвращением 😊 Чем ещё помочь?")
        again = customer_says(contact, "А ещё вопрос по доставке", seconds_ago=5)
        assert incoming_process(message_id=again.pk, now=back + timedelta(seconds=10)).status == "answered"


def test_resuming_the_assistant_by_hand_closes_the_hand_off_at_the_next_check(fake_gemini, managers):
    contact = ContactFactory(is_client=True)
    handoff = asks_for_a_person(fake_gemini, contact)
    Contact.objects.filter(pk=contact.pk).update(bot_mode=Contact.BotMode.AI, paused_until=None)

    assert check_handoffs.apply().get().startswith("closed=1 ")

    handoff.refresh_from_db()
    assert handoff.closed_reason == HandOff.Closed.OPERATOR


def test_a_brief_whose_task_was_lost_is_started_again_by_the_periodic_check(fake_gemini, managers, published_calls):
    contact = ContactFactory(is_client=True)
    handoff = asks_for_a_person(fake_gemini, contact)  # its commit (and the brief's task) never happened
    assert check_handoffs.apply().get().endswith("briefs=0")  # the normal path still has time

    with time_machine.travel(timezone.now() + timedelta(minutes=3)):
        assert check_handoffs.apply().get().endswith("briefs=1")

    assert ("assistant.handoff_brief", handoff.pk) in published_calls
