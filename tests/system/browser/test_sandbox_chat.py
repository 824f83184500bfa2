"""The sandbox chat in a real browser: the operator, playing a customer, writes to the business
and sees the bot's answer appear without reloading. The whole product runs behind it: the
sandbox posts Wappi's webhook to the live server, and the AI step (offline backend) and the
sender run as Celery tasks, eagerly in the server's threads. Eager rather than a worker
process: test runs on one machine share the Redis broker, and another run's worker would
take these tasks (tests/system/e2e/test_gateway_e2e.py covers the real worker)."""

from __future__ import annotations

import threading

import pytest

from messaging.models import Message
from project.celery import app
from sandbox.wappi import services as sandbox

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def product_behind_the_sandbox(settings, live_server):
    settings.WAPPI_SANDBOX = True
    settings.WAPPI_SANDBOX_URL = f"{live_server.url}/sandbox/wappi"
    settings.LLM_BACKEND = "offline"
    settings.REPLY_DEBOUNCE_SECONDS = 0
    settings.SEND_MIN_GAP_SECONDS = 0
    settings.SEND_GAP_JITTER_SECONDS = 0
    sandbox.webhook_url_set(url=f"{live_server.url}/webhooks/wappi/?secret={settings.WAPPI_WEBHOOK_SECRET}", auth=None)
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False
    # The webhook's delivery thread and the server thread answering it may still be finishing
    # (the tasks run inside them); their database connections must close before the flush.
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and (
            thread.name == "sandbox-webhook" or "process_request_thread" in thread.name
        ):
            thread.join(timeout=5)


def test_a_customer_message_in_the_sandbox_gets_the_bots_reply_on_screen(
    logged_in, live_server, product_behind_the_sandbox
):
    page = logged_in
    page.goto(f"{live_server.url}/sandbox/")
    page.fill("#phone", "+7 701 555 44 33")
    page.fill("#name", "Дана")
    page.click("#open")
    page.fill("#body", "Здравствуйте! Сколько стоит доставка в Алматы?")
    page.click("#send")

    page.locator("#messages .msg.customer").filter(has_text="Сколько стоит доставка").wait_for()
    bot = page.locator("#messages .msg.bot")
    bot.first.wait_for(timeout=30_000)  # the page polls; nothing is reloaded

    reply = Message.objects.get(contact__phone="77015554433", direction="out")
    assert reply.status in ("sent", "delivered", "read")
    assert reply.text.split()[0] in bot.first.inner_text()
    assert page.locator("#chat-title").inner_text().startswith("Дана")
    page.goto("about:blank")  # the chat page polls the server: stop it before the database is flushed
