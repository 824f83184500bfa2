"""The assistant's tool registry (assistant.tools): what the model is offered, how a call is run,
and the built-in hand-off to a manager. PostgreSQL, real services, nothing of ours patched."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

import assistant.tools as tools
from ai.llm import ToolCall, ToolResult, ToolSpec
from assistant.tools import HANDOFF, Tool, ToolContext, tool_register, tool_run, tool_specs
from contacts.models import Contact
from followups.models import FollowUp
from messaging.models import Message
from tests.factories import ContactFactory, FollowUpFactory, InboundMessageFactory

MANAGERS = ["+7 701 999 00 11", "87012223344"]
MANAGER_PHONES = ["77019990011", "77012223344"]


@pytest.fixture
def registry(monkeypatch):
    """The registry is process-wide: tools a test registers are forgotten after it."""
    monkeypatch.setattr(tools, "_REGISTRY", dict(tools._REGISTRY))


@pytest.fixture
def managers(settings):
    settings.MANAGER_PHONES = MANAGERS
    return settings


def spec(name: str) -> ToolSpec:
    return ToolSpec(name=name, description="Тестовый инструмент", parameters={"type": "object", "properties": {}})


def context_for(text: str = "Соедините меня с менеджером, пожалуйста", **contact_fields) -> ToolContext:
    contact = ContactFactory(**contact_fields)
    message = InboundMessageFactory(contact=contact, text=text)
    return ToolContext(contact=contact, message=message, now=timezone.now())


def notices() -> list[Message]:
    return list(Message.objects.filter(contact__phone__in=MANAGER_PHONES).order_by("contact__phone"))


# --- the registry -----------------------------------------------------------------------------------


def test_the_model_is_offered_the_handoff_booking_and_payment_tools_each_once():
    names = [tool.name for tool in tool_specs()]

    assert {"handoff_to_manager", "check_availability", "book_call", "create_payment_link"} <= set(names)
    assert len(names) == len(set(names))


def test_every_offered_tool_declares_an_object_schema_whose_required_arguments_exist():
    for offered in tool_specs():
        schema = offered.parameters
        assert offered.description.strip(), offered.name
        assert schema["type"] == "object", offered.name
        assert set(schema.get("required", [])) <= set(schema["properties"]), offered.name


def test_a_registered_tool_is_offered_and_run_with_the_models_arguments(registry):
    seen = []

    def weather(ctx: ToolContext, args: dict) -> dict:
        seen.append((ctx.contact.pk, args))
        return {"ok": True, "forecast": "солнечно"}

    tool_register(Tool(spec=spec("weather"), run=weather))
    ctx = ToolContext(contact=Contact(pk=42, phone="77010000042"), message=Message(), now=timezone.now())

    result = tool_run(call=ToolCall(name="weather", args={"city": "Алматы"}, id="call-1"), ctx=ctx)

    assert "weather" in [offered.name for offered in tool_specs()]
    assert result == ToolResult(name="weather", id="call-1", response={"ok": True, "forecast": "солнечно"})
    assert seen == [(42, {"city": "Алматы"})]


def test_registering_a_tool_again_under_its_name_replaces_it_instead_of_declaring_it_twice(registry):
    tool_register(Tool(spec=spec("weather"), run=lambda ctx, args: {"version": 1}))
    tool_register(Tool(spec=spec("weather"), run=lambda ctx, args: {"version": 2}))
    ctx = ToolContext(contact=Contact(pk=1), message=Message(), now=timezone.now())

    assert [offered.name for offered in tool_specs()].count("weather") == 1
    assert tool_run(call=ToolCall(name="weather", args={}), ctx=ctx).response == {"version": 2}


def test_a_tool_that_raises_gives_the_model_an_error_it_can_read_instead_of_crashing_the_step(registry):
    def broken(ctx: ToolContext, args: dict) -> dict:
        raise RuntimeError("склад недоступен")

    tool_register(Tool(spec=spec("stock"), run=broken))
    ctx = ToolContext(contact=Contact(pk=1), message=Message(), now=timezone.now())

    result = tool_run(call=ToolCall(name="stock", args={"sku": "TAU-2"}, id="call-7"), ctx=ctx)

    assert result == ToolResult(name="stock", id="call-7", response={"error": "RuntimeError: склад недоступен"})


def test_a_call_of_a_tool_that_does_not_exist_is_answered_with_an_error():
    ctx = ToolContext(contact=Contact(pk=1), message=Message(), now=timezone.now())

    result = tool_run(call=ToolCall(name="give_discount", args={"percent": 90}, id="call-3"), ctx=ctx)

    assert result == ToolResult(name="give_discount", id="call-3", response={"error": "unknown tool give_discount"})


def test_a_call_without_arguments_reaches_the_tool_as_an_empty_dict(registry):
    received = []
    tool_register(Tool(spec=spec("echo"), run=lambda ctx, args: received.append(args) or {"ok": True}))
    ctx = ToolContext(contact=Contact(pk=1), message=Message(), now=timezone.now())

    assert tool_run(call=ToolCall(name="echo", args=None), ctx=ctx).response == {"ok": True}  # type: ignore[arg-type]
    assert received == [{}]


# --- the hand-off -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_handoff_silences_the_bot_until_an_operator_resumes_it_and_stops_follow_ups(managers):
    ctx = context_for()
    follow_up = FollowUpFactory(contact=ctx.contact)

    result = tool_run(call=ToolCall(name=HANDOFF.spec.name, args={"reason": "клиент просит человека"}), ctx=ctx)

    contact = Contact.objects.get(pk=ctx.contact.pk)
    follow_up.refresh_from_db()
    assert result.response["status"] == "ok"
    assert result.response["managers_notified"] == 2
    assert (contact.bot_mode, contact.paused_until) == (Contact.BotMode.HUMAN, None)
    assert contact.bot_is_paused(timezone.now() + timedelta(days=365))
    assert (follow_up.is_completed, follow_up.stop_reason) == (True, FollowUp.StopReason.HUMAN_TOOK_OVER)


@pytest.mark.django_db
def test_each_manager_is_told_who_why_and_what_the_customer_wrote(managers):
    ctx = context_for("Позовите живого человека, бот не понимает", full_name="Асель Нурланова", phone="77011234567")

    tool_run(call=ToolCall(name=HANDOFF.spec.name, args={"reason": "  клиент просит человека  "}), ctx=ctx)

    first, second = notices()
    assert first.text == second.text
    assert (first.purpose, first.status) == (Message.Purpose.NOTIFICATION, Message.Status.QUEUED)
    assert "Передача менеджеру: клиент просит человека" in first.text
    assert "Асель Нурланова" in first.text
    assert "+7 701 123 45 67" in first.text
    assert "Позовите живого человека, бот не понимает" in first.text
    assert not Message.objects.filter(contact=ctx.contact, direction=Message.Direction.OUT).exists()


@pytest.mark.django_db
def test_a_second_handoff_for_the_same_message_does_not_notify_the_managers_again(managers):
    ctx = context_for()

    tool_run(call=ToolCall(name=HANDOFF.spec.name, args={"reason": "клиент просит человека"}), ctx=ctx)
    later = ToolContext(contact=ctx.contact, message=ctx.message, now=ctx.now + timedelta(seconds=5))
    tool_run(call=ToolCall(name=HANDOFF.spec.name, args={"reason": "клиент настаивает"}), ctx=later)

    assert len(notices()) == 2  # one per manager


@pytest.mark.django_db
def test_a_handoff_without_a_reason_says_the_customer_asked_and_a_long_reason_is_cut(managers):
    ctx = context_for()
    tool_run(call=ToolCall(name=HANDOFF.spec.name, args={}), ctx=ctx)
    assert "Передача менеджеру: клиент просит менеджера" in notices()[0].text

    Message.objects.filter(contact__phone__in=MANAGER_PHONES).delete()
    later = ToolContext(contact=ctx.contact, message=InboundMessageFactory(contact=ctx.contact), now=ctx.now)
    tool_run(call=ToolCall(name=HANDOFF.spec.name, args={"reason": "очень " * 100}), ctx=later)
    reason_line = notices()[0].text.splitlines()[0]
    assert len(reason_line) <= len("🔔 Передача менеджеру: ") + 200


@pytest.mark.django_db
def test_a_handoff_turns_a_timed_pause_into_one_that_lasts_until_an_operator_resumes(managers):
    ctx = context_for(bot_mode=Contact.BotMode.HUMAN, paused_until=timezone.now() + timedelta(hours=1))

    tool_run(call=ToolCall(name=HANDOFF.spec.name, args={"reason": "жалоба"}), ctx=ctx)

    contact = Contact.objects.get(pk=ctx.contact.pk)
    assert contact.paused_until is None
    assert contact.bot_is_paused(timezone.now() + timedelta(days=2))
