"""An operator in a real browser: signs in, reads a conversation, pauses and resumes the bot,
and looks at the dashboard's charts (a screenshot is kept under var/test-artifacts/)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from contacts.models import Contact
from messaging.models import HandOff
from tests.factories import ContactFactory, InboundMessageFactory, OutboundMessageFactory
from tests.system.browser.conftest import ARTIFACTS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def run_action(page, label: str) -> None:
    page.select_option("select[name=action]", label=label)
    page.click("button[name=index]")


def test_an_operator_opens_a_conversation_then_pauses_and_resumes_the_bot(logged_in, live_server):
    page = logged_in
    contact = ContactFactory(phone="77015550011", full_name="Айгерим Серикова", is_client=True)
    question = InboundMessageFactory(contact=contact, text="Сколько стоит доставка в Алматы?")
    OutboundMessageFactory(contact=contact, text="Доставка по Алматы бесплатная 🚚", reply_to=question)

    page.click("a[href='/admin/contacts/contact/']")
    page.click("#result_list >> text=Айгерим Серикова")
    conversation = page.locator("#conversation")
    conversation.wait_for()
    assert "Сколько стоит доставка в Алматы?" in conversation.inner_text()
    assert "Доставка по Алматы бесплатная" in conversation.inner_text()

    page.goto(f"{live_server.url}/admin/contacts/contact/")
    page.check(f"input[name=_selected_action][value='{contact.pk}']")
    run_action(page, "Поставить бота на паузу (ведёт оператор)")
    assert "👤 оператор" in page.locator("#result_list").inner_text()
    contact.refresh_from_db()
    assert contact.bot_mode == Contact.BotMode.HUMAN

    page.check(f"input[name=_selected_action][value='{contact.pk}']")
    run_action(page, "Вернуть диалог боту")
    assert "🤖 ИИ" in page.locator("#result_list").inner_text()
    contact.refresh_from_db()
    assert contact.bot_mode == Contact.BotMode.AI


def test_the_dashboard_opens_from_the_admin_index_and_draws_its_charts(logged_in, live_server):
    page = logged_in
    contact = ContactFactory(is_client=True)
    for _ in range(3):
        InboundMessageFactory(contact=contact)
    OutboundMessageFactory(contact=contact, status="sent")
    waiting = ContactFactory(full_name="Ерлан Жумабаев", is_client=True)
    now = timezone.now()
    HandOff.objects.create(
        contact=waiting,
        key="handoff:browser",
        reason="Передача менеджеру: клиент просит человека",
        opened_at=now - timedelta(minutes=40),
        due_at=now - timedelta(minutes=25),
        reminded_at=now - timedelta(minutes=25),
    )

    page.click("#dashboard-link a.section")
    page.wait_for_url(f"{live_server.url}/admin/dashboard/")

    charts = page.locator("svg.chart")
    assert charts.count() == 3
    for i in range(3):
        box = charts.nth(i).bounding_box()
        assert box is not None
        assert box["width"] > 300, box  # really drawn, not collapsed
        assert box["height"] > 100, box
    volume = page.locator("#chart-volume rect.bar")
    assert volume.count() == 60 + 2  # 30 days x in/out, and the two legend swatches
    today_inbound = page.locator("#chart-volume rect.bar.s-in").nth(29)
    assert float(today_inbound.get_attribute("height")) > 0
    assert page.locator('[data-metric="inbound"] .big').inner_text() == "3"
    assert page.locator('[data-metric="handoffs-open"] .big').inner_text() == "1"
    open_handoffs = page.locator("#handoffs-open").inner_text()
    assert "Ерлан Жумабаев" in open_handoffs
    assert "просрочено, напомнили" in open_handoffs
    # The number-health card is on the page (and in the screenshot)
    card = page.locator("#number-health")
    assert card.is_visible()
    assert "Номер в порядке" in card.inner_text()
    assert page.locator('[data-metric="number-traffic"] .big').inner_text() == "1 / 3"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / "dashboard.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000
