"""The operators' dashboard at /admin/dashboard/: who may see it, what it counts (local days of
Asia/Almaty), that its charts are drawn, and that it costs a fixed number of queries."""

from __future__ import annotations

import json
import re
import time
import zoneinfo
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ai.models import ModelCall, PendingReply
from ai.rules.optout import CONFIRMATION
from assistant.pipeline import incoming_process, pending_retry
from contacts.models import ScheduledCall
from followups.models import FollowUpTouch
from messaging.models import Message
from payments.models import Payment
from tests.factories import (
    ContactFactory,
    FollowUpFactory,
    InboundMessageFactory,
    OutboundMessageFactory,
    ScheduledCallFactory,
    customer_says,
)
from tests.fakes.gemini import function_call_response

pytestmark = pytest.mark.django_db

ALMATY = zoneinfo.ZoneInfo("Asia/Almaty")
NOW = datetime(2026, 11, 23, 15, 0, tzinfo=ALMATY)
URL = "/admin/dashboard/"


def at(day_offset: int, hour: int, minute: int = 0) -> datetime:
    """A local Almaty moment `day_offset` days from NOW's date."""
    return (NOW + timedelta(days=day_offset)).replace(hour=hour, minute=minute)


def tile(html: str, metric: str) -> str:
    """The text of one dashboard tile, tags stripped and whitespace collapsed."""
    match = re.search(
        rf'<div class="tile" data-metric="{metric}">(.*?)</div>\s*(?=<div class="tile"|</div>\s*<section)', html, re.S
    )
    assert match, f"no tile {metric}"
    return " ".join(re.sub(r"<[^>]+>", " ", match.group(1)).split())


def reply_to(message: Message, *, minutes: int, **fields) -> Message:
    sent = message.timestamp + timedelta(minutes=minutes)
    return OutboundMessageFactory(
        contact=message.contact,
        timestamp=sent,
        sent_at=sent,
        status=Message.Status.SENT,
        reply_to=message,
        idempotency_key=f"reply:{message.pk}",
        **fields,
    )


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def seed_month(frozen) -> None:
    """A month of activity: today, three days ago and 40 days ago (outside the window)."""
    # Today: a client who is answered after 2 minutes, then hands off; a non-client.
    frozen.move_to(at(0, 9))
    client = ContactFactory(is_client=True, first_inbound_at=at(0, 9), first_outbound_at=at(0, 9, 2))
    first = InboundMessageFactory(contact=client, timestamp=at(0, 9))
    reply_to(first, minutes=2)
    second = InboundMessageFactory(contact=client, timestamp=at(0, 10), text="Позовите менеджера")
    reply_to(second, minutes=1, purpose=Message.Purpose.HANDOFF, text="Передал ваш вопрос менеджеру")
    ScheduledCallFactory(contact=client)
    Payment.objects.create(
        contact=client,
        amount=Decimal("15000"),
        description="Подписка",
        phone=client.phone,
        created_by=Payment.CreatedBy.AI,
        status=Payment.Status.PROCESSED,
        paid_at=at(0, 11),
    )
    ModelCall.objects.create(
        backend="gemini",
        purpose="reply",
        model="gemini-3.8-flash",
        prompt_tokens=1000,
        cached_tokens=400,
        output_tokens=50,
        cost_usd=Decimal("0.0012"),
    )
    not_client = ContactFactory(is_client=False, first_inbound_at=at(0, 12))
    InboundMessageFactory(contact=not_client, timestamp=at(0, 12))
    # An opt-out confirmation is a notice, but not a hand-off.
    opt = InboundMessageFactory(contact=not_client, timestamp=at(0, 12, 5), text="стоп")
    reply_to(opt, minutes=1, purpose=Message.Purpose.NOTIFICATION, text=CONFIRMATION)

    # Three days ago: an unknown contact answered after 10 minutes, a follow-up touch 1 answered.
    frozen.move_to(at(-3, 10))
    unknown = ContactFactory(first_inbound_at=at(-3, 10), first_outbound_at=at(-3, 10, 10))
    old = InboundMessageFactory(contact=unknown, timestamp=at(-3, 10))
    reply_to(old, minutes=10)
    Payment.objects.create(
        contact=unknown,
        amount=Decimal("5000"),
        description="Доставка",
        phone=unknown.phone,
        created_by=Payment.CreatedBy.OPERATOR,
        status=Payment.Status.CREATED,
    )
    followup = FollowUpFactory(contact=unknown)
    touch = OutboundMessageFactory(
        contact=unknown,
        purpose=Message.Purpose.FOLLOW_UP,
        status=Message.Status.DELIVERED,
        timestamp=at(-3, 12),
        sent_at=at(-3, 12),
    )
    FollowUpTouch.objects.create(followup=followup, touch_number=1, message=touch)
    InboundMessageFactory(contact=unknown, timestamp=at(-3, 13), text="Да, интересно")

    # Forty days ago: outside every window.
    frozen.move_to(at(-40, 10))
    ancient = ContactFactory(is_client=True, first_inbound_at=at(-40, 10), first_outbound_at=at(-40, 11))
    InboundMessageFactory(contact=ancient, timestamp=at(-40, 10))
    ScheduledCallFactory(contact=ancient)
    frozen.move_to(NOW)


def test_anonymous_visitors_and_non_staff_users_are_sent_to_the_admin_login(client, django_user_model):
    assert client.get(URL).status_code == 302
    assert "/admin/login/" in client.get(URL)["Location"]
    user = django_user_model.objects.create_user("plain", password="x-x-x-x-1")
    client.force_login(user)
    response = client.get(URL)
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_the_admin_index_links_to_the_dashboard(admin_client):
    html = admin_client.get("/admin/").content.decode()
    assert 'href="/admin/dashboard/"' in html
    assert "Панель: как работает ассистент" in html
    # The usual app list is still there below the link.
    assert "/admin/contacts/contact/" in html


def test_the_dashboard_is_an_admin_page_with_three_charts(admin_client, frozen):
    response = admin_client.get(URL)

    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="site-name"' in html  # inside the admin's frame: its header and styles
    for chart in ("chart-volume", "chart-funnel", "chart-followups"):
        assert f'id="{chart}"' in html
    assert html.count('<svg class="chart') == 3
    # With no data yet every tile shows zeros and no median.
    assert tile(html, "inbound") == "Входящие сообщения 0 сегодня 0 за 30 дней"
    assert tile(html, "first-reply") == "Медиана до первого ответа — сегодня — за 30 дней"


def test_it_counts_today_and_the_last_30_days(admin_client, frozen):
    seed_month(frozen)

    html = admin_client.get(URL).content.decode()

    assert tile(html, "inbound") == "Входящие сообщения 4 сегодня 6 за 30 дней"
    assert tile(html, "contacts") == (
        "Новые контакты: клиент / не клиент / неизвестно 2 сегодня 1 / 1 / 0 3 за 30 дней 1 / 1 / 1"
    )
    assert tile(html, "replies") == "Ответов бота отправлено 1 сегодня 2 за 30 дней"
    # Today one contact waited 2 minutes; over the month 2 and 10 minutes: the median is 6.
    assert tile(html, "first-reply") == "Медиана до первого ответа 2,0 мин сегодня 6,0 мин за 30 дней"
    assert tile(html, "handoffs") == "Передано менеджеру 1 сегодня 1 за 30 дней"
    assert tile(html, "calls") == "Записей на звонок 1 сегодня 1 за 30 дней"
    assert tile(html, "followups") == "Follow-up: отправлено / ответили 0 / 0 сегодня 1 / 1 за 30 дней"
    assert tile(html, "payments") == "Счета Kaspi: выставлено / оплачено 1 / 1 сегодня 2 / 1 за 30 дней"
    assert tile(html, "llm").startswith("Вызовы модели / токены 1 сегодня, токенов 1 050")
    assert tile(html, "llm-cost").startswith("Модель: доля из кэша / стоимость 40% · $0,0012 сегодня")


def test_days_are_local_almaty_days_not_utc_days(admin_client, frozen):
    """00:30 in Almaty is 19:30 UTC the day before: it belongs to today's local column."""
    contact = ContactFactory()
    InboundMessageFactory(contact=contact, timestamp=at(0, 0, 30))
    InboundMessageFactory(contact=contact, timestamp=at(-1, 23, 30))

    html = admin_client.get(URL).content.decode()

    assert tile(html, "inbound").startswith("Входящие сообщения 1 сегодня 2 за 30 дней")
    assert "<title>23.11 — Входящие: 1</title>" in html
    assert "<title>22.11 — Входящие: 1</title>" in html


def test_the_volume_chart_has_a_pair_of_bars_for_each_of_30_days(admin_client, frozen):
    seed_month(frozen)
    html = admin_client.get(URL).content.decode()
    volume = html.split('id="chart-volume"')[1].split("</svg>")[0]

    bars = re.findall(
        r'<rect class="bar (s-in|s-out)" x="[\d.]+" y="[\d.]+" width="[\d.]+" height="[\d.]+"><title>', volume
    )
    assert len(bars) == 60
    assert "<title>24.10 — Входящие: 0</title>" not in volume
    assert "<title>25.10 — Входящие: 0</title>" in volume  # the first of the 30 days
    assert "<title>23.11 — Входящие: 4</title>" in volume
    assert "<title>20.11 — Исходящие: 2</title>" in volume  # the reply and the touch


def test_the_funnel_follows_the_months_new_contacts_to_calls_and_payments(admin_client, frozen):
    seed_month(frozen)
    html = admin_client.get(URL).content.decode()
    funnel = html.split('id="chart-funnel"')[1].split("</svg>")[0]

    stages = re.findall(r"<title>([^<:]+): (\d+)</title>", funnel)
    assert stages == [("Новые контакты", "3"), ("Клиенты", "1"), ("Записались на звонок", "1"), ("Оплатили", "1")]
    assert "3 · 100%" in funnel
    assert "1 · 33%" in funnel


def test_follow_up_replies_are_shown_per_touch(admin_client, frozen):
    seed_month(frozen)
    html = admin_client.get(URL).content.decode()
    chart = html.split('id="chart-followups"')[1]

    assert "<title>Касание 1 — Отправлено: 1</title>" in chart
    assert "<title>Касание 1 — Ответили за 48 ч: 1</title>" in chart
    assert "<title>Касание 2 — Отправлено: 0</title>" in chart
    assert "<tr><td>1</td><td>1</td><td>1</td></tr>" in chart


def test_the_number_of_queries_does_not_grow_with_the_data(admin_client, frozen):
    with CaptureQueriesContext(connection) as empty:
        assert admin_client.get(URL).status_code == 200
    seed_month(frozen)
    for day in range(30):
        frozen.move_to(at(-day, 11))
        contact = ContactFactory(is_client=day % 2 == 0)
        reply_to(InboundMessageFactory(contact=contact, timestamp=at(-day, 11)), minutes=3)
        ScheduledCall.objects.create(contact=contact, scheduled_at=at(-day + 2, 12))
    frozen.move_to(NOW)

    started = time.perf_counter()
    with CaptureQueriesContext(connection) as full:
        assert admin_client.get(URL).status_code == 200
    elapsed = time.perf_counter() - started

    assert len(full) == len(empty)
    # 25 before the number-health card, which reads its state row and one aggregate.
    assert len(full) <= 27, [q["sql"][:120] for q in full.captured_queries]
    print(f"dashboard: {len(full)} queries, {elapsed * 1000:.0f} ms")  # noqa: T201 - measured for the report


def test_every_way_the_assistant_hands_a_chat_to_a_manager_counts_once(admin_client, fake_gemini, settings):
    """The tool, a complaint, a question the model cannot answer, and the tool called in the late
    answer after a Gemini outage: four chats handed to a manager. An opt-out confirmation, a
    fallback and the managers' own notices are not hand-offs."""
    settings.MANAGER_PHONES = ["77019990011"]
    asks_for_a_person = ContactFactory(is_client=True)
    fake_gemini.enqueue(function_call_response("handoff_to_manager", {"reason": "клиент просит человека"}))
    fake_gemini.reply_text("Передал менеджеру, он скоро напишет 👍")
    assert incoming_process(message_id=customer_says(asks_for_a_person, "Позовите человека").pk).status == (
        "handed off"
    )

    complains = ContactFactory()
    fake_gemini.reply_text(
        json.dumps({"isClient": True, "confidence": 0.9, "reasoning": "-", "requestType": "complaint"})
    )
    assert incoming_process(message_id=customer_says(complains, "Привезли брак").pk).status == "complaint handed off"

    unanswerable = ContactFactory(is_client=True)
    fake_gemini.reply_error(400, message="Request contains an invalid argument.")
    assert incoming_process(message_id=customer_says(unanswerable, "Вопрос").pk).status == "handed off"

    during_outage = ContactFactory(is_client=True)
    for _ in range(3):  # the SDK's own retries, then the step gives up
        fake_gemini.reply_error(503)
    assert incoming_process(message_id=customer_says(during_outage, "Сколько стоит?").pk).status == "fallback"
    fake_gemini.enqueue(function_call_response("handoff_to_manager", {"reason": "нужна точная цена"}))
    fake_gemini.reply_text("Цену подтвердит менеджер, он уже в курсе 🙏")
    pending = PendingReply.objects.get(contact=during_outage)
    assert pending_retry(pending_id=pending.pk, now=timezone.now() + timedelta(minutes=2)).status == "answered"

    opts_out = ContactFactory(is_client=True)
    assert incoming_process(message_id=customer_says(opts_out, "стоп").pk).status == "opted out"

    html = admin_client.get(URL).content.decode()

    assert tile(html, "handoffs") == "Передано менеджеру 4 сегодня 4 за 30 дней"


def test_open_hand_offs_are_shown_oldest_first_with_their_age_and_whether_they_are_overdue(
    admin_client, frozen, settings
):
    settings.LLM_BACKEND = "offline"
    settings.MANAGER_PHONES = ["77019990011"]
    settings.HANDOFF_ANSWER_MINUTES = 15
    settings.WORKING_HOURS_START, settings.WORKING_HOURS_END = 10, 18
    frozen.move_to(at(0, 13))
    late = ContactFactory(is_client=True, full_name="Айгерим Сапарова")
    assert incoming_process(message_id=customer_says(late, "Соедините с менеджером").pk).status == "handed off"
    frozen.move_to(at(0, 14, 55))
    fresh = ContactFactory(is_client=True, full_name="Болат Ахметов")
    assert incoming_process(message_id=customer_says(fresh, "Позовите менеджера").pk).status == "handed off"
    frozen.move_to(NOW)

    html = admin_client.get(URL).content.decode()

    assert tile(html, "handoffs-open") == "Открытые передачи менеджерам 2 сейчас самая старая: 2,0 ч"
    section = html[html.index('<section id="handoffs-open">') : html.index('<section id="chart-volume">')]
    rows = " ".join(re.sub(r"<[^>]+>", " ", section).split())
    assert rows.index("Айгерим Сапарова") < rows.index("Болат Ахметов")
    assert "2,0 ч просрочено" in rows
    assert "5,0 мин ждёт ответа после ответа менеджера" in rows
