"""Photos and screenshots the customer sends: an image message arrives in Wappi's webhook shape,
goes through ingest and the AI step, and its picture reaches the model as an image part (the fake
Gemini receives the bytes); a sticker costs no model call; a Kaspi receipt leads to Kaspi's
word, never the picture's; offline, the customer is asked to describe the photo. The real
database, the real google-genai SDK against the fake Gemini, the fake Wappi serving the file and
the fake Kaspi; nothing of ours patched."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from django.utils import timezone
from pytest_httpserver import HTTPServer
from werkzeug import Response

from ai.models import PendingReply
from ai.rules.texts import fixed_text
from assistant.pipeline import incoming_process, pending_due, pending_retry
from contacts.models import Contact
from messaging.ingest import ingest_events
from messaging.models import Message
from messaging.wire import parse_sync_message, parse_webhook
from payments.models import Payment
from payments.services import payment_request
from tests.factories import ClientFactory, wappi_incoming
from tests.fakes.gemini import function_call_response
from tests.fakes.wappi import PROFILE, TOKEN

pytestmark = pytest.mark.django_db

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01" + bytes(range(256)) * 4
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(200))


@pytest.fixture
def wappi_here(fake_wappi, settings):
    """The product's own Wappi client (client_from_settings) talks to the fake Wappi."""
    settings.WAPPI_SANDBOX = False
    settings.WAPPI_BASE_URL = fake_wappi.server.url_for("/").rstrip("/")
    settings.WAPPI_TOKEN = TOKEN
    settings.WAPPI_PROFILE_ID = PROFILE
    return fake_wappi


def serve(fake_wappi, path: str, content: bytes, content_type: str = "image/jpeg") -> str:
    fake_wappi.server.expect_request(path).respond_with_response(Response(content, content_type=content_type))
    return fake_wappi.server.url_for(path)


def photo_arrives(contact: Contact, *, link: str, caption: str | None = None, msg_type: str = "image") -> Message:
    """An image message as Wappi's incoming_message webhook delivers it (reference/wappi.md §4:
    `body` holds base64 of the file's start, the file itself is at `file_link`), ingested, with
    its quiet window over."""
    event = wappi_incoming(
        f"3EB0PHOTO{contact.pk:06d}{Message.objects.count():04d}",
        phone=contact.phone,
        type=msg_type,
        body=base64.b64encode(JPEG[:48]).decode(),
        caption=caption,
        mimetype="image/jpeg" if msg_type == "image" else "image/webp",
        file_name="photo.jpg",
        file_link=link,
        file_link_expire=int(timezone.now().timestamp()) + 3600,
    )
    report = ingest_events(events=parse_webhook({"messages": [event]}), via="webhook")
    message = Message.objects.get(pk=report.stored[0])
    past = timezone.now() - timedelta(seconds=30)
    Message.objects.filter(pk=message.pk).update(received_at=past, timestamp=past)
    Contact.objects.filter(pk=contact.pk).update(reply_due_at=past)
    return Message.objects.get(pk=message.pk)


def replies(contact: Contact) -> list[Message]:
    return list(Message.objects.filter(contact=contact, direction="out").order_by("id"))


def test_a_photo_with_a_caption_reaches_the_model_as_a_picture_and_is_answered(wappi_here, fake_gemini):
    contact = ClientFactory(phone="77012345678")
    link = serve(wappi_here, "/files/leak.jpg", JPEG)
    message = photo_arrives(contact, link=link, caption="Вот так течёт кулер, что делать?")
    fake_gemini.reply_text("Вижу подтёк под баком 😊 Скорее всего, нужна замена прокладки. Когда удобно мастеру?")

    outcome = incoming_process(message_id=message.pk)

    assert outcome.status == "answered"
    request = fake_gemini.last_request()
    assert request.inline_data() == [("image/jpeg", JPEG)]
    assert any("[фото] Вот так течёт кулер, что делать?" in text for text in request.texts())
    [reply] = replies(contact)
    assert reply.text.startswith("Вижу подтёк")
    assert reply.reply_to_id == message.pk


def test_a_photo_without_a_caption_is_shown_to_the_model_too(wappi_here, fake_gemini):
    contact = ClientFactory(phone="77012345679")
    message = photo_arrives(contact, link=serve(wappi_here, "/files/room.png", PNG, "image/png"))
    fake_gemini.reply_text("Спасибо за фото! Какая площадь помещения?")

    assert incoming_process(message_id=message.pk).status == "answered"

    assert fake_gemini.last_request().inline_data() == [("image/png", PNG)]
    assert "[фото]" in fake_gemini.last_request().texts()


def test_a_photo_found_by_polling_is_shown_to_the_model_from_its_storage_link(wappi_here, fake_gemini):
    contact = ClientFactory(phone="77012345684")
    link = serve(wappi_here, "/files/polled.jpg", JPEG)
    raw = wappi_here.customer_writes(contact.phone, "", msg_type="image", file_link=link)  # messages/get shape
    report = ingest_events(events=[parse_sync_message(raw)], via="poll")
    past = timezone.now() - timedelta(seconds=30)
    Message.objects.filter(pk=report.stored[0]).update(received_at=past, timestamp=past)
    Contact.objects.filter(pk=contact.pk).update(reply_due_at=past)
    fake_gemini.reply_text("Спасибо за фото! Какой размер вам нужен?")

    assert incoming_process(message_id=report.stored[0]).status == "answered"

    assert fake_gemini.last_request().inline_data() == [("image/jpeg", JPEG)]


def test_a_photo_larger_than_the_cap_is_not_sent_and_the_model_is_told_so(wappi_here, fake_gemini, settings):
    settings.IMAGE_MAX_BYTES = 1024
    contact = ClientFactory(phone="77012345680")
    message = photo_arrives(contact, link=serve(wappi_here, "/files/big.jpg", JPEG + bytes(4096)))
    fake_gemini.reply_text("Фото не открылось — пришлите, пожалуйста, поменьше или опишите словами 🙏")

    assert incoming_process(message_id=message.pk).status == "answered"

    request = fake_gemini.last_request()
    assert request.inline_data() == []
    assert "[фото слишком большое, чтобы его показать]" in request.texts()


@pytest.fixture
def elsewhere():
    """A server that is neither Wappi nor an allowed media host, serving a picture."""
    server = HTTPServer(port=0)
    server.expect_request("/latest/meta-data").respond_with_response(Response(JPEG, content_type="image/jpeg"))
    server.start()
    yield server
    server.clear()
    if server.is_running():
        server.stop()


def test_a_forged_photo_link_is_never_fetched(wappi_here, fake_gemini, elsewhere):
    contact = ClientFactory(phone="77012345681")
    message = photo_arrives(contact, link=elsewhere.url_for("/latest/meta-data"))
    fake_gemini.reply_text("Фото не загрузилось 🙏 Пришлите его ещё раз, пожалуйста.")

    assert incoming_process(message_id=message.pk).status == "answered"

    assert elsewhere.log == []  # the link's host was never asked
    assert fake_gemini.last_request().inline_data() == []
    assert "[фото не удалось загрузить]" in fake_gemini.last_request().texts()


def test_a_sticker_costs_no_model_call_and_gets_no_answer(wappi_here, fake_gemini):
    contact = ClientFactory(phone="77012345682")
    message = photo_arrives(contact, link=serve(wappi_here, "/files/sticker.webp", b"RIFF"), msg_type="sticker")

    outcome = incoming_process(message_id=message.pk)

    assert outcome.status == "nothing to answer"
    assert fake_gemini.requests == []
    assert replies(contact) == []
    message.refresh_from_db()
    assert message.processed_at is not None


def test_offline_the_customer_is_asked_to_describe_the_photo_in_their_language(wappi_here, settings):
    settings.LLM_BACKEND = "offline"
    contact = ClientFactory(phone="77012345683")
    link = serve(wappi_here, "/files/part.jpg", JPEG)
    message = photo_arrives(contact, link=link, caption="Сынған бөлшек, осындай бар ма?")

    assert incoming_process(message_id=message.pk).status == "answered"

    assert [m.text for m in replies(contact)] == [fixed_text("photo_describe", "kk")]
    # No model could look at it: nothing was downloaded.
    assert not [request for request, _ in wappi_here.server.log if request.path == "/files/part.jpg"]


@pytest.mark.usefixtures("payment_settings")
@pytest.mark.parametrize("paid", [True, False])
def test_a_kaspi_receipt_screenshot_checks_the_invoice_at_kaspi_and_never_takes_the_pictures_word(
    wappi_here, fake_gemini, fake_kaspi, settings, django_capture_on_commit_callbacks, paid
):
    settings.LLM_BACKEND = "gemini"
    contact = ClientFactory(phone="77011234567", name="Асель")
    payment = payment_request(contact=contact, amount="25000", description="Кулер Aqua Pro", created_by="ai").payment
    # The invoice's notice went out a while before the screenshot.
    Message.objects.filter(contact=contact, direction="out").update(timestamp=timezone.now() - timedelta(minutes=10))
    if paid:
        fake_kaspi.pay(payment.kaspi_payment_id)
    message = photo_arrives(contact, link=serve(wappi_here, "/files/receipt.jpg", JPEG))
    fake_gemini.enqueue(function_call_response("check_payment_status", {"seen": "чек Kaspi на 25 000 ₸"}))
    fake_gemini.reply_text("Спасибо! Сверил с Kaspi 😊")
    fake_gemini.reply_text('{"intent": "other"}')  # what the screenshot says to our invoice notice

    with django_capture_on_commit_callbacks(execute=True):
        assert incoming_process(message_id=message.pk).status == "answered"

    # The model saw the screenshot, then Kaspi was asked, and the model got Kaspi's answer.
    first, second, _intent = fake_gemini.generate_requests()
    assert first.inline_data() == [("image/jpeg", JPEG)]
    assert len(fake_kaspi.calls_to("payment/status")) == 1
    [answer] = [part["functionResponse"] for part in second.parts() if "functionResponse" in part]
    [invoice] = answer["response"]["invoices"]
    assert invoice["paid"] is paid
    payment.refresh_from_db()
    assert payment.status == (Payment.Status.PROCESSED if paid else Payment.Status.CREATED)
    confirmations = Message.objects.filter(contact=contact, purpose="payment", text__contains="получена")
    assert confirmations.exists() is paid
    assert json.dumps(answer, ensure_ascii=False).count("25 000") >= 1


def test_after_an_outage_the_late_answer_still_sees_the_photo(wappi_here, fake_gemini):
    contact = ClientFactory(phone="77012345685")
    message = photo_arrives(contact, link=serve(wappi_here, "/files/late.jpg", JPEG), caption="Такой фильтр есть?")
    for _ in range(3):
        fake_gemini.reply_error(503)
    assert incoming_process(message_id=message.pk).status == "fallback"
    PendingReply.objects.filter(contact=contact).update(due_at=timezone.now() - timedelta(seconds=1))
    fake_gemini.reply_text("Да, такой фильтр есть 😊 Сколько штук нужно?")

    [pending] = pending_due()
    assert pending_retry(pending_id=pending).status == "answered"

    assert fake_gemini.last_request().inline_data() == [("image/jpeg", JPEG)]
    assert [m.purpose for m in replies(contact)] == ["fallback", "reply"]
