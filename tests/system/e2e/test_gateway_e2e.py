"""The whole gateway once, with real processes: a customer writes in the sandbox, Wappi's
webhook reaches our server, a real worker stores the message and hands it to the AI step, and
an outbound row is delivered back to the sandbox as a quoted reply."""

from __future__ import annotations

import pytest
from django.conf import settings

from messaging.models import Message
from messaging.services import message_enqueue_outbound
from sandbox.wappi import services as sandbox
from sandbox.wappi.models import SandboxMessage
from tests.processes import celery_worker, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_a_sandbox_message_is_stored_answered_by_the_ai_step_and_delivered(live_server, settings_sandbox):
    sandbox.webhook_url_set(url=f"{live_server.url}/webhooks/wappi/?secret={settings.WAPPI_WEBHOOK_SECRET}", auth=None)
    # The worker runs the whole product: ingest, the AI step (offline backend), the sender.
    with celery_worker(WAPPI_SANDBOX_URL=settings.WAPPI_SANDBOX_URL, REPLY_DEBOUNCE_SECONDS="1"):
        sent = sandbox.customer_message_create(
            phone="+7 701 555 44 33", name="Дана", body="Здравствуйте! Сколько стоит доставка в Алматы?"
        )
        delivered = wait_for(
            lambda: SandboxMessage.objects.filter(chat__phone="77015554433", from_me=True).first(),
            what="the assistant's answer to reach the sandbox",
            timeout=60,
        )

    inbound = Message.objects.get(provider_message_id=sent.message_id)
    reply = Message.objects.get(contact=inbound.contact, direction="out")
    sent.refresh_from_db()
    assert (inbound.contact.phone, inbound.contact.push_name, inbound.ingested_via) == (
        "77015554433",
        "Дана",
        "webhook",
    )
    assert inbound.processed_at is not None
    assert inbound.contact.is_client is True
    assert (reply.status, reply.purpose, reply.reply_to_id) == ("sent", "reply", inbound.pk)
    assert delivered.body == reply.text
    assert delivered.quoted_message_id == sent.message_id
    assert reply.provider_message_id == delivered.message_id
    assert sent.is_read  # the customer's message was marked read
    assert Message.objects.filter(provider_message_id=sent.message_id).count() == 1


@pytest.fixture
def settings_sandbox(settings, live_server):
    settings.WAPPI_SANDBOX = True
    settings.WAPPI_SANDBOX_URL = f"{live_server.url}/sandbox/wappi"
    return settings


def test_a_worker_killed_mid_send_never_makes_the_customer_get_the_message_twice(live_server, settings_sandbox):
    from datetime import timedelta

    from django.utils import timezone

    from messaging.tasks import sweep_outbox
    from tests.factories import ContactFactory

    contact = ContactFactory(phone="77015554433")
    # WhatsApp stores the message at once but answers the send slowly: the worker dies waiting.
    sandbox.control_apply({"send_delay_seconds": 5})
    with celery_worker(WAPPI_SANDBOX_URL=settings.WAPPI_SANDBOX_URL) as doomed:
        reply = message_enqueue_outbound(contact=contact, text="Счёт на оплату отправлен ✅")
        wait_for(
            lambda: SandboxMessage.objects.filter(chat__phone="77015554433", from_me=True).exists(),
            what="the send to reach WhatsApp",
        )
        doomed.kill()
    reply.refresh_from_db()
    assert reply.status == "sending"  # claimed, sent, never recorded

    sandbox.control_apply({"send_delay_seconds": 0})
    # Minutes later the row is still `sending`: the sweeper reconciles it instead of resending.
    Message.objects.filter(pk=reply.pk).update(updated_at=timezone.now() - timedelta(minutes=10))
    with celery_worker(purge=False, WAPPI_SANDBOX_URL=settings.WAPPI_SANDBOX_URL):
        sweep_outbox.delay()
        wait_for(lambda: Message.objects.filter(pk=reply.pk, status="sent").exists(), what="reconciliation")

    delivered = SandboxMessage.objects.filter(chat__phone="77015554433", from_me=True)
    assert delivered.count() == 1
    reply.refresh_from_db()
    assert reply.provider_message_id == delivered.get().message_id
