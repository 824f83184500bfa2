"""The sandbox playground in a real browser: an operator clicks a sample customer, the whole
product answers behind the sandbox (webhook, AI step with the offline assistant, sender; tasks
eager in the server's threads, as in test_sandbox_chat.py), and beside each bot reply the page
shows what the assistant decided. The clock stands on a Wednesday morning in Almaty (ticking),
so "в пятницу в 11:00" is always the same bookable slot. A screenshot is kept under
var/test-artifacts/ (docs/playground.png is one)."""

from __future__ import annotations

import threading
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from contacts.models import ScheduledCall
from messaging.models import Message
from project.celery import app
from sandbox.wappi import services as sandbox
from tests.system.browser.conftest import ARTIFACTS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ALMATY = ZoneInfo("Asia/Almaty")
WEDNESDAY_MORNING = datetime(2026, 11, 25, 9, 0, tzinfo=ALMATY)


@pytest.fixture
def playground(settings, live_server, demo_knowledge, logged_in, monkeypatch):
    settings.WAPPI_SANDBOX = True
    settings.WAPPI_SANDBOX_URL = f"{live_server.url}/sandbox/wappi"
    settings.LLM_BACKEND = "offline"
    settings.REPLY_DEBOUNCE_SECONDS = 0
    settings.SEND_MIN_GAP_SECONDS = 0
    settings.SEND_GAP_JITTER_SECONDS = 0
    settings.TIME_ZONE = "Asia/Almaty"
    settings.WORKING_HOURS_START = 10
    settings.WORKING_HOURS_END = 18
    sandbox.webhook_url_set(url=f"{live_server.url}/webhooks/wappi/?secret={settings.WAPPI_WEBHOOK_SECRET}", auth=None)
    monkeypatch.setitem(app.conf, "task_always_eager", True)  # restored even if the set-up fails
    with time_machine.travel(WEDNESDAY_MORNING, tick=True):
        logged_in.goto(f"{live_server.url}/sandbox/")
        yield logged_in
        logged_in.goto("about:blank")  # the page polls the server: stop it before the database is flushed
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and (
            thread.name == "sandbox-webhook" or "process_request_thread" in thread.name
        ):
            thread.join(timeout=5)


def test_the_booking_sample_books_the_call_shown_in_the_admin(playground, live_server):
    page = playground
    page.click("button[data-sample=booking]")

    decision = page.locator("#messages .decision").filter(has_text="book_call")
    decision.first.wait_for(timeout=30_000)
    assert "check_availability" in decision.first.inner_text()
    panel = page.locator("#assistant")
    panel.get_by_text("27.11 11:00 (время Астаны)").wait_for()
    assert "клиент" in panel.inner_text()
    page.locator("#messages .msg.bot").filter(has_text="27.11 в 11:00 (время Астаны)").wait_for()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "playground.png"))

    call = ScheduledCall.objects.get(contact__phone="77011000002")
    assert call.scheduled_at == datetime(2026, 11, 27, 11, 0, tzinfo=ALMATY)
    page.goto(f"{live_server.url}/admin/contacts/scheduledcall/")
    assert "Ерлан" in page.locator("#result_list").inner_text()
    page.goto(f"{live_server.url}/admin/contacts/scheduledcall/{call.pk}/change/")
    values = " ".join(page.eval_on_selector_all("#scheduledcall_form input", "inputs => inputs.map(i => i.value)"))
    assert "11:00" in values, values
    assert "27.11.2026" in values or "2026-11-27" in values, values


def test_the_price_sample_gets_a_short_answer_with_the_list_price(playground):
    page = playground
    page.click("button[data-sample=price]")

    bot = page.locator("#messages .msg.bot")
    bot.first.wait_for(timeout=30_000)
    text = Message.objects.get(contact__phone="77011000001", direction="out").text
    assert len(text) <= 300
    assert "1 200 ₸" in text
    assert "1 200 ₸" in bot.first.inner_text()
    page.locator("#messages .decision").filter(has_text="цифры из базы знаний").wait_for()
