"""The offline assistant through the real assistant step (incoming_process) with the demo
company's knowledge base: its function calls run the product's own tools, so a call is booked by
calls.booking's rules and an invoice issued by payments at the list price, and every reply passes
ai.compose. Time is the business's (Asia/Almaty); the clock stands still on a Wednesday morning."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from ai.models import ReplyDecision
from ai.rules.language import KAZAKH
from ai.rules.texts import fixed_text
from assistant.pipeline import incoming_process
from contacts.models import Contact, ScheduledCall
from messaging.models import Message
from payments.models import Payment
from tests.factories import ClientFactory, customer_says

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("demo_knowledge", "payment_settings")]

ALMATY = ZoneInfo("Asia/Almaty")
WEDNESDAY_MORNING = datetime(2026, 11, 25, 9, 0, tzinfo=ALMATY)


@pytest.fixture(autouse=True)
def business_hours(settings):
    settings.TIME_ZONE = "Asia/Almaty"
    settings.WORKING_HOURS_START = 10
    settings.WORKING_HOURS_END = 18
    settings.CALL_SLOT_MINUTES = 30
    settings.CALL_MIN_LEAD_MINUTES = 60
    settings.MANAGER_CAPACITY = 1


@pytest.fixture
def contact() -> Contact:
    return ClientFactory(phone="77017654321", name="Ерлан")


def says(contact: Contact, text: str, *, at: datetime = WEDNESDAY_MORNING) -> str:
    """The customer writes `text`; the assistant step answers it. Returns the reply's text."""
    with time_machine.travel(at, tick=False):
        message = customer_says(contact, text)
        incoming_process(message_id=message.pk)
    return Message.objects.filter(contact=contact, direction="out", reply_to=message).get().text


def tools_called(contact: Contact) -> list[str]:
    return [call["name"] for call in ReplyDecision.objects.filter(contact=contact).latest("id").tool_calls]


def test_a_price_answer_is_short_names_the_list_prices_and_asks_one_question(contact):
    reply = says(contact, "Здравствуйте! Сколько стоит бутыль 19 литров с доставкой по Алматы?")

    assert len(reply) <= 300, reply
    assert "Вода 19 л (бутыль) — 1 200 ₸" in reply
    assert "Доставка по Алматы — 1 500 ₸" in reply
    assert reply.count("?") == 1
    assert reply.endswith("?")
    assert "|" not in reply, "a pasted table row"
    decision = ReplyDecision.objects.get(contact=contact)
    assert (decision.compose_result, decision.tool_calls, decision.handed_off) == ("clean", [], False)


@pytest.mark.parametrize(
    ("text", "slot"),
    [
        pytest.param(
            "А кулер в аренду есть? Хочу созвониться с менеджером в пятницу в 11:00",
            datetime(2026, 11, 27, 11, 0, tzinfo=ALMATY),
            id="friday-at-11",
        ),
        pytest.param(
            "Можно созвониться завтра после обеда?", datetime(2026, 11, 26, 14, 0, tzinfo=ALMATY), id="after-lunch"
        ),
        pytest.param("Давайте созвонимся послезавтра в 15", datetime(2026, 11, 27, 15, 0, tzinfo=ALMATY), id="at-15"),
        pytest.param(
            "Сәлеметсіз бе! Менеджермен ертең сағат 11-де сөйлескім келеді",
            datetime(2026, 11, 26, 11, 0, tzinfo=ALMATY),
            id="kazakh",
        ),
    ],
)
def test_a_call_at_a_named_day_and_time_is_booked_and_confirmed_in_astana_time(contact, text, slot):
    reply = says(contact, text)

    call = ScheduledCall.objects.get(contact=contact)
    assert call.scheduled_at == slot
    assert call.created_by == ScheduledCall.CreatedBy.AI
    confirmation = Message.objects.get(contact=contact, purpose=Message.Purpose.BOOKING).text
    # The booking confirmation is a fixed text in the customer's language (ai.rules.texts).
    if "ертең" in text:
        expected = f"{slot:%d.%m}, {slot:%H:%M} (Астана уақыты)"
    else:
        expected = f"{slot:%d.%m} в {slot:%H:%M} (время Астаны)"
    assert expected in confirmation
    assert tools_called(contact) == ["check_availability", "book_call"]
    assert "созвон назначен" in reply
    assert not Message.objects.filter(contact=contact, purpose=Message.Purpose.HANDOFF).exists()


def test_a_weekend_time_gets_the_nearest_free_slots_and_yes_books_the_first(contact):
    offer = says(contact, "Давайте созвонимся в субботу в 11:00")

    assert not ScheduledCall.objects.exists()
    assert "выходные" in offer
    offered = re.search(r"Записать Вас на \w+, (\d{2})\.(\d{2}) в (\d{2}):(\d{2})\?", offer)
    assert offered, offer

    says(contact, "Да, давайте", at=WEDNESDAY_MORNING + timedelta(minutes=5))

    day, month, hour, minute = (int(part) for part in offered.groups())
    assert ScheduledCall.objects.get(contact=contact).scheduled_at == datetime(
        2026, month, day, hour, minute, tzinfo=ALMATY
    )


def test_a_call_outside_working_hours_is_not_booked(contact):
    reply = says(contact, "Созвонимся завтра в 20:00?")

    assert not ScheduledCall.objects.exists()
    assert "вне рабочих часов" in reply
    assert reply.endswith("?")


def test_an_invoice_for_a_named_item_goes_to_kaspi_at_the_list_price(contact, fake_kaspi):
    reply = says(contact, "Выставьте счёт на 2 бутыли воды 19 л")

    payment = Payment.objects.get(contact=contact)
    assert payment.amount == 2400
    assert payment.status == Payment.Status.CREATED
    assert len(fake_kaspi.invoices) == 1
    assert "2 400 ₸" in reply
    assert tools_called(contact) == ["create_payment_link"]

    paid = says(contact, "Оплатил", at=WEDNESDAY_MORNING + timedelta(minutes=5))

    assert "оплат" in paid.lower()


def test_a_plain_question_is_answered_not_handed_off(contact):
    says(contact, "Сколько стоит аренда кулера?")

    assert not Message.objects.filter(contact=contact, purpose=Message.Purpose.HANDOFF).exists()
    assert not ReplyDecision.objects.get(contact=contact).handed_off


def test_a_request_for_a_manager_is_handed_off(contact):
    says(contact, "Позовите менеджера")

    assert Message.objects.filter(contact=contact, purpose=Message.Purpose.HANDOFF).exists()
    decision = ReplyDecision.objects.get(contact=contact)
    assert decision.handed_off
    assert [call["name"] for call in decision.tool_calls] == ["handoff_to_manager"]


@pytest.mark.parametrize(
    "text",
    [
        "Менеджерді шақырыңызшы",
        "Операторды шақырыңыз",
        "Адаммен сөйлескім келеді",
        "Менеджермен сөйлесуге болады ма?",
        "Тірі адаммен байланыстырыңыз",
    ],
)
def test_a_request_for_a_person_in_kazakh_is_handed_off(contact, text):
    reply = says(contact, text)

    assert reply == fixed_text("handoff", KAZAKH)

    decision = ReplyDecision.objects.get(contact=contact)
    assert decision.handed_off
    assert [call["name"] for call in decision.tool_calls] == ["handoff_to_manager"]
    assert Message.objects.filter(contact=contact, purpose=Message.Purpose.HANDOFF).exists()


@pytest.mark.parametrize(
    "text",
    [
        "Сіздерге шағым айтамын, су сасық болып келді, ақшамды қайтарыңыз",
        "Мен сіздердің қызметіңізге наразымын",
    ],
)
def test_a_complaint_in_kazakh_is_handed_off_never_answered_with_a_sales_question(contact, text):
    reply = says(contact, text)

    assert reply == fixed_text("handoff", KAZAKH)

    decision = ReplyDecision.objects.get(contact=contact)
    assert decision.handed_off
    assert [call["name"] for call in decision.tool_calls] == ["handoff_to_manager"]
    assert "Жалоба клиента" in decision.tool_calls[0]["args"]["reason"]


def test_a_kazakh_delivery_question_is_answered_about_delivery_not_handed_off(contact):
    reply = says(contact, "Сәлеметсіз бе! Жеткізу бар ма?")

    assert "доставк" in reply.lower(), reply
    assert not ReplyDecision.objects.get(contact=contact).handed_off


def test_a_price_question_asked_with_the_call_is_answered_with_the_booking(contact):
    reply = says(contact, "А кулер в аренду есть? Хочу созвониться с менеджером в пятницу в 11:00")

    assert "Аренда кулера «Тау-2» — 2 500 ₸" in reply
    assert "созвон назначен" in reply
    assert len(reply) <= 300, reply
    assert ReplyDecision.objects.get(contact=contact).compose_result == "clean"


def test_after_lunch_with_two_o_clock_taken_books_the_next_free_slot_that_afternoon(contact):
    taken = datetime(2026, 11, 26, 14, 0, tzinfo=ALMATY)
    ScheduledCall.objects.create(contact=ClientFactory(), scheduled_at=taken, created_by=ScheduledCall.CreatedBy.AI)

    says(contact, "Можно созвониться завтра после обеда?")

    assert ScheduledCall.objects.get(contact=contact).scheduled_at == taken + timedelta(minutes=30)


def test_after_the_booking_a_message_mentioning_a_number_is_not_another_booking(contact):
    says(contact, "Хочу созвониться с менеджером в пятницу в 11:00")

    reply = says(contact, "Хочу обсудить аренду кулера на 3 месяца", at=WEDNESDAY_MORNING + timedelta(minutes=5))

    assert tools_called(contact) == []
    assert "2 500 ₸" in reply
    assert ScheduledCall.objects.filter(contact=contact).count() == 1
