"""A worker killed mid-task (kill -9: no acknowledgement, no cleanup): its work is taken up by
another worker within seconds, not after the broker's visibility timeout (an hour) or the
sweepers' grace periods, and still nothing is done twice. No beat runs here: the sweepers
cannot be what heals it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from assistant.tasks import process_incoming
from messaging.models import Message
from messaging.tasks import send_outgoing
from project.celery import app
from tests.factories import ContactFactory, InboundMessageFactory, OutboundMessageFactory
from tests.fakes.wappi import PROFILE, TOKEN
from tests.processes import celery_worker, process_env, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

# Short leases, so the death is noticed quickly; the deadlines below are far under the hour
# (visibility timeout) the broker alone would take, and no beat runs the sweepers.
LEASE = {"WORKER_LEASE_SECONDS": "3"}
RECOVERY_DEADLINE = 90


def test_a_worker_killed_mid_model_call_has_its_message_answered_by_another_worker_once(fake_gemini):
    moment = timezone.now() - timedelta(seconds=30)
    message = InboundMessageFactory(
        contact=ContactFactory(phone="77065550101", is_client=True, classified_by="model"),
        text="Здравствуйте! Сколько стоит доставка?",
        timestamp=moment,
        received_at=moment,
    )
    fake_gemini.reply_text("Ответ, который не дойдёт", delay=600)  # the killed worker's call hangs
    fake_gemini.reply_text("Здравствуйте! 😊 Стоимость уточнит менеджер. Куда нужна доставка?")
    env = {
        **LEASE,
        "LLM_BACKEND": "gemini",
        "TEST_GEMINI_API_KEY": fake_gemini.api_key,
        "GEMINI_BASE_URL": fake_gemini.base_url,
        "REPLY_DEBOUNCE_SECONDS": "0",
        "NO_PROXY": "127.0.0.1,localhost",
    }
    with celery_worker(queues="llm", **env) as first:
        process_incoming.delay(message.pk)
        wait_for(lambda: fake_gemini.generate_requests(), what="the model call to start", timeout=60)
        first.kill()
    with celery_worker(purge=False, queues="llm", **env):
        reply = wait_for(
            lambda: Message.objects.filter(direction="out", purpose="reply", contact=message.contact).first(),
            what="the message to be answered by the second worker",
            timeout=RECOVERY_DEADLINE,
        )
    fake_gemini._released.set()
    fake_gemini.unexpected.clear()
    app.control.purge()
    assert reply.text.startswith("Здравствуйте!")
    assert Message.objects.filter(direction="out", purpose="reply", contact=message.contact).count() == 1


def test_a_worker_killed_mid_send_has_the_send_reconciled_never_sent_twice(fake_wappi):
    contact = ContactFactory(phone="77065550102", is_client=True)
    row = OutboundMessageFactory(contact=contact, text="Здравствуйте! Доставка 2 000 ₸.", status="queued")
    fake_wappi.send_delay = 4  # WhatsApp takes the message, and answers late
    env = {
        **LEASE,
        # The product's own settings (tests.settings points Wappi at the sandbox emulator), on
        # this test's database, broker and cache.
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "DATABASE_URL": process_env()["TEST_DATABASE_URL"],
        "SANDBOX_ENABLED": "false",
        "WAPPI_SANDBOX": "false",
        "WAPPI_BASE_URL": fake_wappi.server.url_for("/").rstrip("/"),
        "WAPPI_TOKEN": TOKEN,
        "WAPPI_PROFILE_ID": PROFILE,
        "WAPPI_TIMEOUT": "5",
        "SEND_MIN_GAP_SECONDS": "0",
        "SEND_GAP_JITTER_SECONDS": "0",
        "SEND_NUMBER_GAP_SECONDS": "0",
        "NO_PROXY": "127.0.0.1,localhost",
    }
    with celery_worker(queues="send", **env) as first:
        send_outgoing.delay(row.pk)
        wait_for(lambda: fake_wappi.calls_to("message/send"), what="the send to start", timeout=60)
        first.kill()
    with celery_worker(purge=False, queues="send", **env):
        wait_for(
            lambda: Message.objects.filter(pk=row.pk, status="sent").exists(),
            what="the send to be reconciled by the second worker",
            timeout=RECOVERY_DEADLINE,
        )
    app.control.purge()
    assert len(fake_wappi.calls_to("message/send")) == 1, "the message went to WhatsApp twice"
    assert Message.objects.get(pk=row.pk).provider_message_id
