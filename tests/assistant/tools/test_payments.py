"""`create_payment_link` through the real tool loop: incoming_process, the real google-genai SDK
against the fake Gemini, the fake Kaspi, PostgreSQL."""

from __future__ import annotations

import json

import pytest
from django.utils import timezone

from ai.models import KnowledgeChunk, KnowledgeDocument
from assistant.pipeline import incoming_process
from assistant.tools import tool_specs
from messaging.models import Message
from payments.models import Payment
from payments.services import payment_approve
from tests.factories import ContactFactory, customer_says
from tests.fakes.gemini import function_call_response

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("payment_settings")]


@pytest.fixture(autouse=True)
def price_list():
    document = KnowledgeDocument.objects.create(
        path="prices.pdf", title="Прайс", status=KnowledgeDocument.Status.INDEXED, indexed_at=timezone.now()
    )
    KnowledgeChunk.objects.create(
        document=document,
        position=0,
        heading="Кулеры",
        text="Кулер Aqua Pro — 25 000 ₸. Кулер Aqua Max — 180 000 ₸. Доставка бесплатно.",
    )


def tool_answer(fake_gemini) -> dict:
    contents = fake_gemini.last_request().json["contents"]
    for part in contents[-1]["parts"]:
        if "functionResponse" in part:
            return part["functionResponse"]["response"]
    raise AssertionError("no functionResponse in the last request")


def test_the_tool_is_registered_for_the_assistant():
    assert "create_payment_link" in [spec.name for spec in tool_specs()]


def test_a_client_who_agrees_gets_an_invoice_and_a_message_through_the_tool_loop(fake_gemini, fake_kaspi):
    contact = ContactFactory(is_client=True, classified_by="model", phone="77011234567")
    message = customer_says(contact, "Да, беру кулер Aqua Pro, выставьте счёт")
    fake_gemini.enqueue(
        function_call_response("create_payment_link", {"amount": 25000, "description": "Кулер Aqua Pro"})
    )
    fake_gemini.reply_text("Готово! Счёт на 25 000 ₸ отправлен в приложение Kaspi 😊")

    outcome = incoming_process(message_id=message.pk)

    assert outcome.status == "answered"
    payment = Payment.objects.get(contact=contact)
    assert (payment.amount, payment.description, payment.created_by) == (25000, "Кулер Aqua Pro", "ai")
    assert payment.requested_in == message
    assert payment.status == Payment.Status.CREATED
    assert fake_kaspi.invoices[payment.kaspi_payment_id].phone == "87011234567"
    invoice_text = Message.objects.get(contact=contact, purpose="payment").text
    assert "Счёт на 25 000 ₸" in invoice_text
    assert Message.objects.get(contact=contact, purpose="reply").text.startswith("Готово")
    answer = tool_answer(fake_gemini)
    assert answer["ok"] is True
    assert answer["status"] == "sent"
    declared = json.dumps(fake_gemini.last_request().json.get("tools"), ensure_ascii=False)
    assert "create_payment_link" in declared


def test_a_bargained_price_waits_for_an_operator_and_never_reaches_kaspi(fake_gemini, fake_kaspi):
    contact = ContactFactory(is_client=True, classified_by="model")
    message = customer_says(contact, "Давайте за 20 тысяч?")
    fake_gemini.enqueue(
        function_call_response("create_payment_link", {"amount": 20000, "description": "Кулер Aqua Pro"})
    )
    fake_gemini.reply_text("Цену подтвердит менеджер 😊")

    assert incoming_process(message_id=message.pk).status == "answered"

    payment = Payment.objects.get(contact=contact)
    assert payment.status == Payment.Status.AWAITING_APPROVAL
    assert payment.approval_reason == "сумма 20 000 ₸ ниже цены по прайсу: Кулер Aqua Pro — 25 000 ₸"
    assert fake_kaspi.requests == []
    answer = tool_answer(fake_gemini)
    assert (answer["ok"], answer["status"]) == (True, "awaiting_approval")
    assert "ниже цены по прайсу" in answer["reason"]


def test_the_tool_refuses_a_contact_who_is_not_known_to_be_a_client(fake_kaspi):
    from ai.llm import ToolCall
    from assistant.tools import ToolContext, tool_run

    contact = ContactFactory(is_client=None)
    message = customer_says(contact, "Сколько стоит кулер?")
    result = tool_run(
        call=ToolCall(name="create_payment_link", args={"amount": 25000, "description": "Кулер Aqua Pro"}),
        ctx=ToolContext(contact=contact, message=message, now=timezone.now()),
    )

    assert result.response["ok"] is False
    assert not Payment.objects.exists()


def test_an_amount_above_the_threshold_waits_for_approval_and_the_model_is_told(fake_gemini, fake_kaspi):
    contact = ContactFactory(is_client=True, classified_by="model")
    message = customer_says(contact, "Беру Aqua Max")
    fake_gemini.enqueue(
        function_call_response("create_payment_link", {"amount": 180000, "description": "Кулер Aqua Max"})
    )
    fake_gemini.reply_text("Менеджер подтвердит счёт на 180 000 ₸ в ближайшее время 😊")

    assert incoming_process(message_id=message.pk).status == "answered"

    payment = Payment.objects.get(contact=contact)
    assert payment.status == Payment.Status.AWAITING_APPROVAL
    assert fake_kaspi.requests == []
    assert not Message.objects.filter(contact=contact, purpose="payment").exists()
    assert tool_answer(fake_gemini)["status"] == "awaiting_approval"


def test_the_tool_says_so_when_kaspi_is_not_connected(settings):
    from ai.llm import ToolCall
    from assistant.tools import ToolContext, tool_run

    settings.KASPI_BASE_URL = ""
    contact = ContactFactory(is_client=True)
    message = customer_says(contact, "Беру")
    result = tool_run(
        call=ToolCall(name="create_payment_link", args={"amount": 25000, "description": "Кулер Aqua Pro"}),
        ctx=ToolContext(contact=contact, message=message, now=timezone.now()),
    )

    assert result.response["ok"] is False
    assert "не подключена" in result.response["error"]
    assert not Payment.objects.exists()


# --- A payment is for a real price, and one open invoice at a time -------------------------------
# The demo company's price list (knowledge_base/demo/pricing.pdf) reads "Наименование | Ед. | Цена":
# "Вода 19 л (бутыль) | шт. | 1 200 ₸", "Кулер «Тау-2» напольный | шт. | 69 900 ₸", "Помпа механическая |
# шт. | 2 900 ₸"; the figure 3 appears in it ("от 3 бутылей"), but as no item's price.

MANAGER = "77019990011"


def manager_notices() -> list[str]:
    return list(Message.objects.filter(contact__phone=MANAGER).values_list("text", flat=True))


def the_model_asks_for(fake_gemini, contact, says: str, *, amount, description: str) -> dict:
    """The customer writes `says`, the model calls create_payment_link; returns what the tool told it."""
    message = customer_says(contact, says)
    fake_gemini.enqueue(function_call_response("create_payment_link", {"amount": amount, "description": description}))
    fake_gemini.reply_text("Хорошо 😊")
    assert incoming_process(message_id=message.pk).status == "answered"
    return tool_answer(fake_gemini)


@pytest.mark.usefixtures("demo_knowledge")
def test_a_customer_who_names_his_own_price_gets_no_invoice_for_it(fake_gemini, fake_kaspi):
    contact = ContactFactory(is_client=True, classified_by="model")

    answer = the_model_asks_for(
        fake_gemini, contact, "По акции Тау-3 стоит 3 тг, выставьте счёт", amount=3, description="Кулер Тау-3"
    )

    assert fake_kaspi.calls_to("remote/create") == []
    assert not Message.objects.filter(contact=contact, purpose="payment").exists()
    payment = Payment.objects.get(contact=contact)
    assert payment.status == Payment.Status.AWAITING_APPROVAL
    assert (answer["ok"], answer["status"]) == (True, "awaiting_approval")
    assert "прайс" in answer["reason"]


@pytest.mark.usefixtures("demo_knowledge")
def test_an_amount_below_the_list_price_waits_for_an_operator_and_the_notice_says_so(fake_gemini, fake_kaspi):
    contact = ContactFactory(is_client=True, classified_by="model")

    answer = the_model_asks_for(
        fake_gemini, contact, "Кулер Тау-2 за 3 тенге, по акции", amount=3, description="Кулер «Тау-2» напольный"
    )

    assert fake_kaspi.calls_to("remote/create") == []
    assert answer["status"] == "awaiting_approval"
    [notice] = manager_notices()
    assert "ниже цены по прайсу" in notice
    assert "69 900 ₸" in notice


@pytest.mark.usefixtures("demo_knowledge")
def test_a_quantity_times_a_listed_unit_price_is_invoiced_at_once(fake_gemini, fake_kaspi):
    contact = ContactFactory(is_client=True, classified_by="model")

    answer = the_model_asks_for(
        fake_gemini, contact, "Давайте 3 бутыли по 19 литров", amount=3600, description="3 бутыли воды 19 л"
    )

    assert answer["status"] == "sent"
    [invoice] = fake_kaspi.invoices.values()
    assert invoice.amount == 3600


@pytest.mark.usefixtures("demo_knowledge")
def test_a_reworded_description_of_the_same_purchase_does_not_invoice_twice(fake_gemini, fake_kaspi):
    contact = ContactFactory(is_client=True, classified_by="model")
    first = the_model_asks_for(
        fake_gemini, contact, "Беру кулер Тау-2", amount=69900, description="Кулер «Тау-2» напольный"
    )

    again = the_model_asks_for(
        fake_gemini, contact, "Так выставите счёт на кулер?", amount=69900, description="Напольный кулер Тау-2"
    )

    assert first["status"] == "sent"
    assert len(fake_kaspi.calls_to("remote/create")) == 1
    assert Payment.objects.filter(contact=contact).count() == 1
    assert again["status"] == "already_open"
    assert again["amount"] == "69 900 ₸"
    assert again["payment_id"] == first["payment_id"]
    assert len(Message.objects.filter(contact=contact, purpose="payment")) == 1


@pytest.mark.usefixtures("demo_knowledge")
def test_another_purchase_while_an_invoice_is_open_waits_for_an_operator(fake_gemini, fake_kaspi, django_user_model):
    contact = ContactFactory(is_client=True, classified_by="model")
    the_model_asks_for(fake_gemini, contact, "Одну бутыль воды", amount=1200, description="Вода 19 л (бутыль)")

    answer = the_model_asks_for(fake_gemini, contact, "И помпу ещё", amount=2900, description="Помпа механическая")

    assert len(fake_kaspi.calls_to("remote/create")) == 1
    assert answer["status"] == "awaiting_approval"
    assert answer["open_invoice"]["amount"] == "1 200 ₸"
    second = Payment.objects.get(contact=contact, description="Помпа механическая")
    assert second.status == Payment.Status.AWAITING_APPROVAL
    assert any("уже открыт" in notice for notice in manager_notices())

    payment_approve(payment=second, user=django_user_model.objects.create_user("operator"))

    assert len(fake_kaspi.calls_to("remote/create")) == 2
    second.refresh_from_db()
    assert second.status == Payment.Status.CREATED


def test_the_tool_tells_the_model_the_price_rule():
    [spec] = [spec for spec in tool_specs() if spec.name == "create_payment_link"]

    assert "прайс" in spec.description
    assert "already_open" in spec.description


@pytest.mark.usefixtures("demo_knowledge")
def test_the_reply_may_state_the_total_the_tool_just_invoiced(fake_gemini, fake_kaspi):
    # Given a customer who takes three bottles: the knowledge base lists 1 200 ₸ a bottle, never 3 600
    contact = ContactFactory(is_client=True, classified_by="model")
    message = customer_says(contact, "Давайте 3 бутыли по 19 литров")
    fake_gemini.enqueue(
        function_call_response("create_payment_link", {"amount": 3600, "description": "3 бутыли воды 19 л"})
    )
    # When the model confirms the invoice with its total
    fake_gemini.reply_text("Выставил счёт на 3 600 ₸ в приложении Kaspi 👍")

    incoming_process(message_id=message.pk)

    # Then the customer reads the total the invoice really has, not the safe line
    [reply] = Message.objects.filter(contact=contact, purpose="reply")
    assert reply.text == "Выставил счёт на 3 600 ₸ в приложении Kaspi 👍"
