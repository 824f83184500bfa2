"""Secrets never reach the logs, and phone numbers are masked at INFO: a whole scenario runs
in-process (Wappi's webhook in, the AI step against the fake Gemini, the reply sent to the
fake Wappi, Celery eager) with the product's own log handler, formatter and redaction filter
capturing everything at INFO; then the output is searched."""

from __future__ import annotations

import io
import json
import logging
import re
import time

import pytest
from django.conf import settings as django_settings

from messaging.models import Message
from project.celery import app
from tests.fakes import wappi as fake_wappi_module

pytestmark = pytest.mark.django_db

WEBHOOK_SECRET = "webhook-secret-7b41c9e2"
PHONE = "77012345678"
# The ways a Kazakh number can be written: digits with the country code, the local 8-prefix, the
# formatted +7 (701) 234-56-78, and the chat id.
PHONE_SPELLINGS = re.compile(r"7012345678|\+7\s?\(?701\)?\s?234[-\s]?56[-\s]?78|8\s?701\s?234\s?56\s?78")


@pytest.fixture
def captured_logs():
    """What the console handler would print at INFO (the production level), as one string."""
    stream = io.StringIO()
    config = django_settings.LOGGING
    handler = logging.StreamHandler(stream)
    from project.logging import RedactSecretsFilter, build_formatter

    handler.setFormatter(build_formatter(config["formatters"]["structured"]["fmt"]))
    handler.addFilter(RedactSecretsFilter())
    handler.setLevel(logging.INFO)
    root = logging.getLogger()
    root.addHandler(handler)
    previous = root.level
    root.setLevel(logging.INFO)
    yield stream
    root.removeHandler(handler)
    root.setLevel(previous)


@pytest.fixture
def eager_celery():
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager = False
    app.conf.task_eager_propagates = False


@pytest.fixture
def live_wappi(settings, fake_wappi):
    settings.WAPPI_SANDBOX = False
    settings.WAPPI_BASE_URL = fake_wappi.server.url_for("/").rstrip("/")
    settings.WAPPI_TOKEN = fake_wappi_module.TOKEN
    settings.WAPPI_PROFILE_ID = fake_wappi_module.PROFILE
    settings.WAPPI_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.REPLY_DEBOUNCE_SECONDS = 0
    settings.SEND_MIN_GAP_SECONDS = 0
    settings.SEND_GAP_JITTER_SECONDS = 0
    return fake_wappi


def incoming_webhook(text: str) -> dict:
    now = int(time.time())
    return {
        "messages": [
            {
                "wh_type": "incoming_message",
                "id": "3EB0000000000000LOG1",
                "type": "chat",
                "body": text,
                "from": f"{PHONE}@c.us",
                "to": "77000000000@c.us",
                "chatId": f"{PHONE}@c.us",
                "senderName": "Айгерим",
                "time": now,
                "is_me": False,
                "chat_type": "dialog",
            }
        ]
    }


@pytest.fixture
def conversation_logs(
    client, live_wappi, fake_gemini, eager_celery, captured_logs, django_capture_on_commit_callbacks
) -> str:
    """A customer writes through the webhook, is classified and answered by Gemini, and the
    answer is sent to Wappi: the INFO log output of all of it."""
    fake_gemini.reply_text(
        json.dumps({"isClient": True, "confidence": 0.9, "reasoning": "спрашивает цену", "requestType": "sales"}),
        prompt_tokens=600,
        output_tokens=40,
    )
    fake_gemini.reply_text("Здравствуйте! 😊 Доставку по Алматы подтвердит менеджер. Какой у вас объём?")

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/webhooks/wappi/?secret={WEBHOOK_SECRET}",
            data=json.dumps(incoming_webhook("Здравствуйте! Сколько стоит доставка? Мой номер 8 701 234 56 78")),
            content_type="application/json",
        )

    assert response.status_code == 200
    reply = Message.objects.get(direction="out")
    assert reply.status == "sent"  # the scenario really ran: webhook, AI step, send
    assert live_wappi.sent
    assert live_wappi.sent[0]["recipient"].endswith(PHONE)
    output = captured_logs.getvalue()
    assert "ai.processed" in output
    return output


def secrets_in(output: str, *secrets: str) -> list[str]:
    return [line for line in output.splitlines() if any(secret in line for secret in secrets)]


def test_a_whole_conversation_logs_neither_the_wappi_token_nor_the_gemini_key_nor_the_webhook_secret(
    conversation_logs, fake_gemini
):
    assert secrets_in(conversation_logs, fake_wappi_module.TOKEN, fake_gemini.api_key, WEBHOOK_SECRET) == []


def test_phone_numbers_never_appear_in_info_logs_of_a_whole_conversation(conversation_logs):
    leaks = [line for line in conversation_logs.splitlines() if PHONE_SPELLINGS.search(line)]
    assert leaks == [], "phone numbers in INFO logs:\n" + "\n".join(leaks)


def test_our_own_log_lines_of_a_conversation_name_contacts_by_id_not_by_phone(conversation_logs):
    ours = [line for line in conversation_logs.splitlines() if "celery.app.trace" not in line]
    assert ours
    assert [line for line in ours if PHONE_SPELLINGS.search(line)] == []


def test_an_error_answer_on_the_webhook_does_not_log_its_secret(client, settings, captured_logs):
    settings.WAPPI_WEBHOOK_SECRET = WEBHOOK_SECRET

    response = client.get(f"/webhooks/wappi/?secret={WEBHOOK_SECRET}")  # Wappi only POSTs

    assert response.status_code == 405
    assert "Method Not Allowed" in captured_logs.getvalue()
    assert secrets_in(captured_logs.getvalue(), WEBHOOK_SECRET) == []


PHONE_FORMS = [
    "77012345678",
    "+77012345678",
    "+7 701 234 56 78",
    "+7 (701) 234-56-78",
    "8 701 234 56 78",
    "87012345678",
    "8(701)2345678",
    "7012345678",
    "701 234 56 78",
    "77012345678@c.us",
    "77012345678@s.whatsapp.net",
]


@pytest.mark.parametrize("form", PHONE_FORMS)
def test_a_phone_number_is_masked_in_messages_fields_and_exceptions_whatever_logs_it(captured_logs, form):
    import structlog

    log = structlog.get_logger("tests.phones")
    log.info("contact.wrote", note=f"клиент {form} пишет", chat_id=form, nested={"sender": form})
    logging.getLogger("tests.phones").warning("send to %s failed", form, extra={"recipient": form})
    try:
        raise ValueError(f"no such number: {form}")
    except ValueError:
        log.exception("send.failed")
        logging.getLogger("tests.phones").exception("send to %s", form)

    output = captured_logs.getvalue()
    assert output.count("ValueError") >= 2  # the tracebacks are there, with the number masked
    leaks = [line for line in output.splitlines() if PHONE_SPELLINGS.search(line)]
    assert leaks == [], "\n".join(leaks)
    assert form not in output
    assert "5678" in output  # the last digits stay, so an operator can still tell numbers apart


def test_a_phone_number_given_as_a_number_is_masked_too(captured_logs):
    import structlog

    structlog.get_logger("tests.phones").info("contact.wrote", phone=77012345678)

    assert "77012345678" not in captured_logs.getvalue()


def test_ids_counts_amounts_and_timestamps_are_not_taken_for_phone_numbers(captured_logs):
    import structlog

    values = {
        "provider_id": "3EB07012345678ABCDEF",
        "contact_id": 731,
        "count": 12,
        "amount": "69 900 ₸",
        "total": 1_200_000,
        "unix": 1795410000,
        "moment": "2026-11-23T10:00:00+05:00",
        "invoice": "INV-2026-000123",
        "task_id": "7f3c2a10-8b9e-4d6f-a1b2-0123456789ab",
        "duration_ms": 12345,
        "bin": "123456789012",
    }
    structlog.get_logger("tests.phones").info("invoice.created", **values)

    output = captured_logs.getvalue()
    for value in values.values():
        assert str(value) in output
    assert "***" not in output
