"""Post-purchase messages from Kaspi Shop orders: the fake shop over real HTTP, PostgreSQL, time
moved with time-machine. The send window is Mon-Fri 10:00-19:00, Almaty time."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone

from contacts.models import Contact
from messaging.models import Message
from payments.models import PostPurchaseMessage
from payments.post_purchase import post_purchase_poll, post_purchase_run_due
from payments.tasks import post_purchase_tick
from tests.factories import ContactFactory, InboundMessageFactory, OutboundMessageFactory

pytestmark = pytest.mark.django_db

ALMATY = ZoneInfo("Asia/Almaty")
# A Wednesday without a public holiday, at noon.
WEDNESDAY_NOON = datetime(2026, 12, 9, 12, 0, tzinfo=ALMATY)


@pytest.fixture(autouse=True)
def customers_wrote_first():
    """The shop's customers (the fake shop's phones) wrote to the business on WhatsApp before:
    nothing proactive goes to a number that never wrote (messaging.proactive)."""
    wrote = datetime(2026, 11, 2, 9, 0, tzinfo=ALMATY)  # a month before: any test's own messages come later
    for phone in ["77012345678", *(f"7701000000{n}" for n in range(3))]:
        contact = ContactFactory(phone=phone, name="", first_inbound_at=wrote, last_inbound_at=wrote)
        InboundMessageFactory(contact=contact, text="Здравствуйте, есть в наличии?", timestamp=wrote)


def tick(at: datetime):
    """What beat's tick does at `at`: read the shop, then work on what is due."""
    with time_machine.travel(at, tick=False):
        post_purchase_poll()
        return post_purchase_run_due(rng=random.Random(7))


def sent_to(phone: str) -> list[str]:
    return list(
        Message.objects.filter(contact__phone=phone, purpose=Message.Purpose.POST_PURCHASE)
        .order_by("timestamp", "id")
        .values_list("text", flat=True)
    )


def test_an_accepted_order_gets_one_thank_you_however_often_it_is_read(fake_kaspi_shop):
    order = fake_kaspi_shop.add_order(status="ACCEPTED_BY_MERCHANT", created_at=WEDNESDAY_NOON - timedelta(hours=1))

    tick(WEDNESDAY_NOON)
    tick(WEDNESDAY_NOON + timedelta(minutes=5))
    tick(WEDNESDAY_NOON + timedelta(days=1))

    [text] = sent_to("77012345678")
    assert "Айгерим" in text
    assert order.code in text
    assert "спасибо за заказ" in text.lower()
    assert "стоп" in text  # how to opt out
    row = PostPurchaseMessage.objects.get(order_id=order.id)
    assert (row.kind, row.state, row.used_fallback) == ("thanks", "queued", True)
    assert Message.objects.get(pk=row.message_id).idempotency_key == f"postpurchase:{row.pk}"


def test_the_same_order_completed_later_gets_a_review_request(fake_kaspi_shop):
    order = fake_kaspi_shop.add_order(status="ACCEPTED_BY_MERCHANT", created_at=WEDNESDAY_NOON - timedelta(hours=1))
    tick(WEDNESDAY_NOON)
    order.status, order.state = "COMPLETED", "ARCHIVE"

    tick(WEDNESDAY_NOON + timedelta(days=2))
    tick(WEDNESDAY_NOON + timedelta(days=2, minutes=5))

    texts = sent_to("77012345678")
    assert len(texts) == 2
    assert "отзыв" in texts[1]
    assert PostPurchaseMessage.objects.filter(order_id=order.id).count() == 2


def test_the_database_keeps_one_row_per_order_and_status():
    from django.db import IntegrityError

    fields = {"order_id": "X1", "order_status": "COMPLETED", "kind": "review", "due_at": timezone.now()}
    PostPurchaseMessage.objects.create(**fields)
    with pytest.raises(IntegrityError):
        PostPurchaseMessage.objects.create(**fields)


def test_a_second_order_the_same_day_waits_for_the_24_hour_cooldown(fake_kaspi_shop):
    fake_kaspi_shop.add_order(status="ACCEPTED_BY_MERCHANT", created_at=WEDNESDAY_NOON - timedelta(hours=2))
    tick(WEDNESDAY_NOON)
    second = fake_kaspi_shop.add_order(status="ACCEPTED_BY_MERCHANT", created_at=WEDNESDAY_NOON + timedelta(hours=1))

    report = tick(WEDNESDAY_NOON + timedelta(hours=2))
    assert len(sent_to("77012345678")) == 1
    row = PostPurchaseMessage.objects.get(order_id=second.id)
    assert row.id in report.deferred
    assert row.due_at == WEDNESDAY_NOON + timedelta(hours=24)

    tick(WEDNESDAY_NOON + timedelta(hours=23, minutes=59))
    assert len(sent_to("77012345678")) == 1
    tick(WEDNESDAY_NOON + timedelta(hours=24))
    assert len(sent_to("77012345678")) == 2


def test_a_customer_gets_at_most_three_messages(fake_kaspi_shop):
    monday = WEDNESDAY_NOON - timedelta(days=2)
    for day in range(4):  # Monday .. Thursday, one order a day
        fake_kaspi_shop.add_order(status="ACCEPTED_BY_MERCHANT", created_at=monday + timedelta(days=day, minutes=-30))
        tick(monday + timedelta(days=day))

    assert len(sent_to("77012345678")) == 3
    capped = PostPurchaseMessage.objects.get(state="skipped")
    assert "лимит" in capped.skip_reason


def test_the_daily_cap_moves_the_rest_to_the_next_morning(fake_kaspi_shop, settings):
    settings.POST_PURCHASE_DAILY_LIMIT = 2
    for n in range(3):
        fake_kaspi_shop.add_order(
            status="ACCEPTED_BY_MERCHANT", created_at=WEDNESDAY_NOON - timedelta(hours=1), phone=f"701000000{n}"
        )

    report = tick(WEDNESDAY_NOON)

    assert len(report.queued) == 2
    [late] = PostPurchaseMessage.objects.filter(pk__in=report.deferred)
    thursday_opening = datetime(2026, 12, 10, 10, 0, tzinfo=ALMATY)
    assert thursday_opening <= late.due_at <= thursday_opening + timedelta(minutes=7)
    tick(late.due_at)
    late.refresh_from_db()
    assert late.state == "queued"


def test_the_shared_proactive_limit_counts_follow_ups_too(fake_kaspi_shop, settings):
    settings.PROACTIVE_DAILY_LIMIT = 1
    with time_machine.travel(WEDNESDAY_NOON - timedelta(hours=1), tick=False):
        OutboundMessageFactory(purpose=Message.Purpose.FOLLOW_UP)
    fake_kaspi_shop.add_order(status="ACCEPTED_BY_MERCHANT", created_at=WEDNESDAY_NOON - timedelta(hours=1))

    report = tick(WEDNESDAY_NOON)

    assert report.queued == []
    assert len(report.deferred) == 1


def test_an_opted_out_customer_gets_nothing(fake_kaspi_shop):
    Contact.objects.filter(phone="77012345678").update(opted_out_at=timezone.now() - timedelta(days=3))
    order = fake_kaspi_shop.add_order(status="ACCEPTED_BY_MERCHANT", created_at=WEDNESDAY_NOON - timedelta(hours=1))

    tick(WEDNESDAY_NOON)

    assert sent_to("77012345678") == []
    row = PostPurchaseMessage.objects.get(order_id=order.id)
    assert row.state == "skipped"
    assert "отписался" in row.skip_reason


def test_an_order_accepted_in_the_evening_is_thanked_the_next_morning(fake_kaspi_shop):
    evening = WEDNESDAY_NOON.replace(hour=21)
    fake_kaspi_shop.add_order(status="ACCEPTED_BY_MERCHANT", created_at=evening - timedelta(minutes=10))

    tick(evening)
    assert sent_to("77012345678") == []
    row = PostPurchaseMessage.objects.get()
    thursday_opening = datetime(2026, 12, 10, 10, 0, tzinfo=ALMATY)
    assert thursday_opening <= row.due_at <= thursday_opening + timedelta(minutes=7)

    tick(row.due_at)
    assert len(sent_to("77012345678")) == 1


def test_a_cancelled_order_drops_its_pending_message(fake_kaspi_shop):
    evening = WEDNESDAY_NOON.replace(hour=21)
    order = fake_kaspi_shop.add_order(status="ACCEPTED_BY_MERCHANT", created_at=evening - timedelta(minutes=10))
    tick(evening)
    order.status = "CANCELLED"

    tick(datetime(2026, 12, 10, 10, 30, tzinfo=ALMATY))

    assert sent_to("77012345678") == []
    assert PostPurchaseMessage.objects.get().state == "skipped"


def test_the_model_writes_the_message_when_it_is_available(fake_kaspi_shop, fake_gemini):
    fake_gemini.reply_text("Айгерим, спасибо за заказ! Пусть кулер радует 😊")
    fake_kaspi_shop.add_order(status="ACCEPTED_BY_MERCHANT", created_at=WEDNESDAY_NOON - timedelta(hours=1))

    tick(WEDNESDAY_NOON)

    [text] = sent_to("77012345678")
    assert text.startswith("Айгерим, спасибо за заказ! Пусть кулер радует")
    assert PostPurchaseMessage.objects.get().used_fallback is False
    request = fake_gemini.last_request().json
    assert "Айгерим" in str(request["contents"])


def test_a_standard_message_goes_out_when_the_model_is_unavailable(fake_kaspi_shop, fake_gemini):
    for _ in range(3):  # the SDK's attempts
        fake_gemini.reply_error(503)
    order = fake_kaspi_shop.add_order(status="COMPLETED", created_at=WEDNESDAY_NOON - timedelta(days=2))

    tick(WEDNESDAY_NOON)

    [text] = sent_to("77012345678")
    assert order.code in text
    assert "отзыв" in text
    assert PostPurchaseMessage.objects.get().used_fallback is True


def test_nothing_is_read_unless_enabled_with_a_token(fake_kaspi_shop, settings):
    fake_kaspi_shop.add_order(status="ACCEPTED_BY_MERCHANT")
    settings.POST_PURCHASE_ENABLED = False
    assert post_purchase_tick() == "disabled"
    settings.POST_PURCHASE_ENABLED = True
    settings.KASPI_SHOP_TOKEN = ""
    assert post_purchase_tick() == "disabled"
    assert fake_kaspi_shop.requests == []


def test_a_rejected_shop_token_does_not_stop_due_messages(fake_kaspi_shop, settings):
    fake_kaspi_shop.add_order(status="ACCEPTED_BY_MERCHANT", created_at=WEDNESDAY_NOON - timedelta(hours=1))
    tick(WEDNESDAY_NOON.replace(hour=21))  # recorded in the evening, due tomorrow morning
    settings.KASPI_SHOP_TOKEN = "revoked"

    with time_machine.travel(datetime(2026, 12, 10, 10, 30, tzinfo=ALMATY), tick=False):
        assert post_purchase_tick().startswith("queued=1")


def test_a_thank_you_waits_the_minimum_gap_after_a_follow_up_touch(fake_kaspi_shop, settings):
    # At most one proactive message per contact per FOLLOW_UP_MIN_GAP_HOURS, whatever started it.
    settings.FOLLOW_UP_MIN_GAP_HOURS = 20.0
    contact = Contact.objects.get(phone="77012345678")
    with time_machine.travel(WEDNESDAY_NOON - timedelta(hours=1), tick=False):
        OutboundMessageFactory(contact=contact, purpose=Message.Purpose.FOLLOW_UP, status=Message.Status.SENT)
    fake_kaspi_shop.add_order(status="ACCEPTED_BY_MERCHANT", created_at=WEDNESDAY_NOON - timedelta(minutes=30))

    report = tick(WEDNESDAY_NOON)

    assert sent_to("77012345678") == []
    [row] = PostPurchaseMessage.objects.filter(pk__in=report.deferred)
    # 11:00 + 20 h is 07:00 on Thursday: the window opens at 10:00.
    thursday_opening = datetime(2026, 12, 10, 10, 0, tzinfo=ALMATY)
    assert thursday_opening <= row.due_at <= thursday_opening + timedelta(minutes=7)
    tick(row.due_at)
    assert len(sent_to("77012345678")) == 1


def test_a_customer_who_writes_in_kazakh_gets_the_thank_you_in_kazakh(fake_kaspi_shop):
    contact = Contact.objects.get(phone="77012345678")
    InboundMessageFactory(contact=contact, text="Сәлеметсіз бе! Тапсырысым қашан келеді?")
    order = fake_kaspi_shop.add_order(status="ACCEPTED_BY_MERCHANT", created_at=WEDNESDAY_NOON - timedelta(hours=1))

    tick(WEDNESDAY_NOON)

    [text] = sent_to("77012345678")
    assert order.code in text
    assert "тапсырыс бергеніңізге рахмет" in text
    assert text.endswith("Мұндай хабарламаларды алғыңыз келмесе, «стоп» деп жазыңыз.")
