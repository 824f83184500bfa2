"""The number-safety governor (messaging.number, the proactive gate, the sender's pacing): our
WhatsApp number is a linked device that WhatsApp restricts or bans for cold messages, bursts and
silence. Account signals arrive as Wappi's webhooks through the real view and ingest task, status
checks and sends go to the fake Wappi over HTTP, on PostgreSQL; time moved with time-machine."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from messaging import sender
from messaging.models import Message, NumberState
from messaging.proactive import Hold, proactive_gate
from messaging.sender import SendLater, outbox_send
from messaging.tasks import check_wappi_status, ingest_webhook
from project.lib.locks import cache_lock
from tests.factories import ContactFactory, InboundMessageFactory, OutboundMessageFactory
from tests.fakes.wappi import PROFILE, TOKEN

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("send_window")]

ALMATY = ZoneInfo("Asia/Almaty")
WEDNESDAY_NOON = datetime(2026, 12, 9, 12, 0, tzinfo=ALMATY)
MONDAY = datetime(2026, 12, 7, 9, 0, tzinfo=ALMATY)
MANAGER = "77019990011"


@pytest.fixture
def wappi(fake_wappi, settings):
    """The product talks to the fake Wappi (status checks included); managers get notices."""
    settings.WAPPI_SANDBOX = False
    settings.WAPPI_BASE_URL = fake_wappi.server.url_for("/").rstrip("/")
    settings.WAPPI_TOKEN = TOKEN
    settings.WAPPI_PROFILE_ID = PROFILE
    settings.MANAGER_PHONES = ["+7 701 999 00 11"]
    return fake_wappi


@pytest.fixture
def wappi_posts(webhook, handed_over):
    """Wappi posts a webhook; the ingest worker runs what the view handed over."""

    def post(payload):
        assert webhook(payload).status_code == 200
        for body in handed_over:
            ingest_webhook(body)
        handed_over.clear()

    return post


def customer(phone: str = "77012345678", *, wrote: datetime = MONDAY):
    contact = ContactFactory(phone=phone, is_client=True, first_inbound_at=wrote, last_inbound_at=wrote)
    InboundMessageFactory(
        contact=contact, text="Здравствуйте, сколько стоит?", timestamp=wrote, provider_message_id=f"IN-{phone}"
    )
    return contact


def manager_notices() -> list[str]:
    return list(
        Message.objects.filter(contact__phone=MANAGER, purpose=Message.Purpose.NOTIFICATION).values_list(
            "text", flat=True
        )
    )


def sent_texts(fake) -> list[str]:
    return [m["body"] for m in fake.sent]


# --- Proactive messages only to contacts who wrote first ------------------------------------------


def test_nothing_proactive_goes_to_a_contact_who_never_wrote_to_us(wappi):
    # Given a number an operator typed into the admin: it never wrote to the business
    stranger = ContactFactory(phone="77015550000", is_client=True)
    with time_machine.travel(WEDNESDAY_NOON, tick=False):
        # When a follow-up is planned, and one (queued earlier) reaches the sender
        decision = proactive_gate(contact=stranger, purpose=Message.Purpose.FOLLOW_UP, now=WEDNESDAY_NOON)
        row = OutboundMessageFactory(contact=stranger, purpose=Message.Purpose.FOLLOW_UP, text="Остались вопросы?")
        outcome = outbox_send(message_id=row.pk, client=wappi.client())

    # Then the gate says no, the row is refused, and WhatsApp never sees it
    assert decision.hold == Hold.NEVER_WROTE
    assert outcome.status == "skipped"
    row.refresh_from_db()
    assert row.status == Message.Status.FAILED
    assert "never wrote" in row.last_error
    assert wappi.sent == []


def test_a_contact_who_wrote_gets_the_follow_up(wappi):
    contact = customer()
    with time_machine.travel(WEDNESDAY_NOON, tick=False):
        assert proactive_gate(contact=contact, purpose=Message.Purpose.FOLLOW_UP, now=WEDNESDAY_NOON).allowed
        row = OutboundMessageFactory(contact=contact, purpose=Message.Purpose.FOLLOW_UP, text="Остались вопросы?")
        assert outbox_send(message_id=row.pk, client=wappi.client()).status == "sent"
    assert sent_texts(wappi) == ["Остались вопросы?"]


# --- Account signals pause proactive sending at once ------------------------------------------------


def test_a_logged_out_phone_stops_proactive_sending_at_once_tells_managers_once_and_resumes_when_back(
    wappi, wappi_posts, client
):
    contact = customer()
    with time_machine.travel(WEDNESDAY_NOON, tick=False):
        touch = OutboundMessageFactory(contact=contact, purpose=Message.Purpose.FOLLOW_UP, text="Остались вопросы?")

        # When Wappi says the phone was logged out (twice: webhooks are re-delivered)
        wappi_posts(wappi.authorization_webhook(online=False, reason="logout from api"))
        wappi_posts(wappi.authorization_webhook(online=False, reason="logout from api"))

        # Then the queued touch is held back, nothing new is planned, /health shows it
        with pytest.raises(SendLater):
            outbox_send(message_id=touch.pk, client=wappi.client())
        touch.refresh_from_db()
        assert touch.status == Message.Status.QUEUED
        assert touch.next_attempt_at >= WEDNESDAY_NOON + timedelta(minutes=30)
        decision = proactive_gate(contact=contact, purpose=Message.Purpose.FOLLOW_UP, now=WEDNESDAY_NOON)
        assert decision.hold == Hold.NUMBER_PAUSED
        health = client.get("/health").json()["number"]
        assert (health["status"], health["proactive"], health["paused_reason"]) == ("paused", "paused", "logged_out")
        # and the managers were told once
        [notice] = manager_notices()
        assert "отключён" in notice

    # When the status check finds the profile authorised again
    with time_machine.travel(WEDNESDAY_NOON + timedelta(minutes=31), tick=False):
        assert check_wappi_status() == "healthy"
        assert client.get("/health").json()["number"]["proactive"] == "running"
        # Then the held touch goes out
        assert outbox_send(message_id=touch.pk, client=wappi.client()).status == "sent"
    assert sent_texts(wappi) == ["Остались вопросы?"]
    assert len(manager_notices()) == 1


def test_a_status_check_that_finds_the_profile_logged_out_pauses_proactive_sending(wappi):
    wappi.authorized = False
    with time_machine.travel(WEDNESDAY_NOON, tick=False):
        check_wappi_status()
        check_wappi_status()
    state = NumberState.load()
    assert state.paused_reason == NumberState.Reason.LOGGED_OUT
    assert len(manager_notices()) == 1


def test_a_reply_to_a_customer_still_goes_out_while_proactive_sending_is_paused(wappi):
    contact = customer()
    NumberState.objects.create(pk=1, paused_reason=NumberState.Reason.RESTRICTED, paused_at=WEDNESDAY_NOON)
    with time_machine.travel(WEDNESDAY_NOON, tick=False):
        reply = OutboundMessageFactory(contact=contact, text="Доставим завтра")
        assert outbox_send(message_id=reply.pk, client=wappi.client()).status == "sent"
    assert sent_texts(wappi) == ["Доставим завтра"]


def test_a_temporary_ban_in_a_delivery_status_pauses_proactive_sending_for_the_cooling_off_time(
    wappi, wappi_posts, settings
):
    settings.NUMBER_RESTRICTION_PAUSE_HOURS = 24
    contact = customer()
    with time_machine.travel(WEDNESDAY_NOON, tick=False):
        reply = OutboundMessageFactory(contact=contact, text="Доставим завтра")
        outbox_send(message_id=reply.pk, client=wappi.client())
        reply.refresh_from_db()

        # When WhatsApp reports the number temporarily banned for that message
        wappi_posts(wappi.delivery_webhook(reply.provider_message_id, "temporary ban"))

        # Then proactive sending stops, the event is counted, the managers are told
        state = NumberState.load()
        assert (state.paused_reason, state.restriction_events) == (NumberState.Reason.RESTRICTED, 1)
        assert "ограничил" in manager_notices()[0]
        # and a healthy status check does not lift it before its time
        check_wappi_status()
        assert NumberState.load().paused

    with time_machine.travel(WEDNESDAY_NOON + timedelta(hours=24, minutes=5), tick=False):
        check_wappi_status()
        state = NumberState.load()
        assert not state.paused
        assert state.restriction_events == 1


def test_a_burst_of_undelivered_messages_pauses_proactive_sending(wappi, wappi_posts, settings):
    settings.NUMBER_UNDELIVERED_BURST = 3
    with time_machine.travel(WEDNESDAY_NOON, tick=False):
        replies = []
        for n in range(3):
            row = OutboundMessageFactory(contact=customer(f"7701555000{n}"), text=f"Ответ {n}")
            outbox_send(message_id=row.pk, client=wappi.client())
            row.refresh_from_db()
            replies.append(row)

        wappi_posts(wappi.delivery_webhook(replies[0].provider_message_id, "undelivered"))
        wappi_posts(wappi.delivery_webhook(replies[1].provider_message_id, "undelivered"))
        assert not NumberState.load().paused

        wappi_posts(wappi.delivery_webhook(replies[2].provider_message_id, "undelivered"))
        assert NumberState.load().paused_reason == NumberState.Reason.UNDELIVERED
        assert len(manager_notices()) == 1


# --- The reply-ratio guard --------------------------------------------------------------------------


def test_a_contact_who_left_n_proactive_messages_unanswered_gets_no_more_until_they_write(settings):
    settings.PROACTIVE_MAX_UNANSWERED = 2
    contact = customer()
    for day in (7, 8):
        OutboundMessageFactory(
            contact=contact,
            purpose=Message.Purpose.FOLLOW_UP,
            status=Message.Status.SENT,
            timestamp=datetime(2026, 12, day, 15, 0, tzinfo=ALMATY),
        )
    later = WEDNESDAY_NOON + timedelta(days=1)
    assert proactive_gate(contact=contact, purpose=Message.Purpose.POST_PURCHASE, now=later).hold == Hold.UNANSWERED

    InboundMessageFactory(contact=contact, text="Да, интересно", timestamp=WEDNESDAY_NOON)
    assert proactive_gate(contact=contact, purpose=Message.Purpose.POST_PURCHASE, now=later).allowed


def test_when_most_proactive_messages_go_unanswered_the_number_stops_them_and_resumes_when_customers_answer(
    wappi, settings
):
    settings.PROACTIVE_UNANSWERED_MIN_SAMPLE = 4
    settings.PROACTIVE_UNANSWERED_SHARE = 0.5
    friday = datetime(2026, 12, 4, 11, 0, tzinfo=ALMATY)
    touched = datetime(2026, 12, 7, 12, 0, tzinfo=ALMATY)
    contacts = [customer(f"7701555000{n}", wrote=friday) for n in range(4)]
    for contact in contacts:
        OutboundMessageFactory(
            contact=contact, purpose=Message.Purpose.FOLLOW_UP, status=Message.Status.SENT, timestamp=touched
        )
    InboundMessageFactory(contact=contacts[0], text="Спасибо, подумаю", timestamp=touched + timedelta(hours=1))

    # 3 of 4 unanswered: above half
    with time_machine.travel(WEDNESDAY_NOON, tick=False):
        check_wappi_status()
        check_wappi_status()
        assert NumberState.load().paused_reason == NumberState.Reason.REPLY_RATIO
        [notice] = manager_notices()
        assert "не отвечают" in notice

    # Two more answer: 1 of 4 unanswered
    for contact in contacts[1:3]:
        InboundMessageFactory(contact=contact, text="Да", timestamp=WEDNESDAY_NOON + timedelta(minutes=10))
    with time_machine.travel(WEDNESDAY_NOON + timedelta(minutes=15), tick=False):
        check_wappi_status()
    assert not NumberState.load().paused


# --- Pacing of the number ---------------------------------------------------------------------------


def test_the_hourly_cap_holds_the_next_send_back(wappi, settings):
    settings.SEND_MAX_PER_HOUR = 2
    with time_machine.travel(WEDNESDAY_NOON, tick=False):
        rows = [OutboundMessageFactory(contact=customer(f"7701555000{n}"), text=f"Ответ {n}") for n in range(3)]
        for row in rows[:2]:
            assert outbox_send(message_id=row.pk, client=wappi.client()).status == "sent"
        with pytest.raises(SendLater) as later:
            outbox_send(message_id=rows[2].pk, client=wappi.client())
    assert later.value.reason == "hourly cap of the number"
    rows[2].refresh_from_db()
    assert (rows[2].status, rows[2].attempts) == (Message.Status.QUEUED, 0)
    assert rows[2].next_attempt_at >= WEDNESDAY_NOON + timedelta(minutes=5)
    assert sent_texts(wappi) == ["Ответ 0", "Ответ 1"]


def test_the_number_opens_at_most_the_configured_new_chats_a_day(wappi, settings):
    settings.SEND_NEW_CHATS_PER_DAY = 1
    with time_machine.travel(WEDNESDAY_NOON, tick=False):
        first, second = (
            OutboundMessageFactory(
                contact=ContactFactory(phone=phone), author=Message.Author.OPERATOR, text="Здравствуйте"
            )
            for phone in ("77015550001", "77015550002")
        )
        answer = OutboundMessageFactory(contact=customer(), text="Доставим завтра")
        assert outbox_send(message_id=first.pk, client=wappi.client()).status == "sent"
        with pytest.raises(SendLater) as later:
            outbox_send(message_id=second.pk, client=wappi.client())
        # a customer who wrote to us is answered whatever the count of new chats
        assert outbox_send(message_id=answer.pk, client=wappi.client()).status == "sent"
    assert later.value.reason == "daily cap of new chats"
    assert sent_texts(wappi) == ["Здравствуйте", "Доставим завтра"]


def test_a_newly_linked_number_warms_up_its_daily_cap(wappi, settings):
    settings.SEND_WARMUP_DAYS = 10
    settings.SEND_MAX_PER_DAY = 20
    NumberState.objects.create(pk=1, connected_at=WEDNESDAY_NOON - timedelta(days=1))  # day 2 of 10: 4 a day
    with time_machine.travel(WEDNESDAY_NOON, tick=False):
        rows = [OutboundMessageFactory(contact=customer(f"7701555000{n}"), text=f"Ответ {n}") for n in range(5)]
        for row in rows[:4]:
            assert outbox_send(message_id=row.pk, client=wappi.client()).status == "sent"
        with pytest.raises(SendLater) as later:
            outbox_send(message_id=rows[4].pk, client=wappi.client())
    assert later.value.reason == "daily cap of the number"

    # Once the ramp is over, the full cap applies
    NumberState.objects.filter(pk=1).update(connected_at=WEDNESDAY_NOON - timedelta(days=12))
    with time_machine.travel(WEDNESDAY_NOON + timedelta(minutes=1), tick=False):
        assert outbox_send(message_id=rows[4].pk, client=wappi.client()).status == "sent"


def test_an_established_number_has_no_warm_up(settings):
    from messaging.selectors import warmup_share

    settings.SEND_WARMUP_DAYS = 0
    NumberState.objects.create(pk=1, connected_at=WEDNESDAY_NOON)
    assert warmup_share(now=WEDNESDAY_NOON) == 1.0


def test_the_number_sends_one_message_at_a_time(wappi, monkeypatch):
    monkeypatch.setattr(sender, "SLOT_WAIT_SECONDS", 0.05)
    row = OutboundMessageFactory(contact=customer(), text="Доставим завтра")
    # While another worker holds the number's slot (its send is in flight)
    with cache_lock(f"send:number:{PROFILE}", ttl=30, wait=0), pytest.raises(SendLater) as later:
        outbox_send(message_id=row.pk, client=wappi.client())
    assert later.value.reason == "another send from the number is in flight"
    row.refresh_from_db()
    assert (row.status, row.attempts) == (Message.Status.QUEUED, 0)
    assert wappi.sent == []
    # Once it is free, the message goes
    assert outbox_send(message_id=row.pk, client=wappi.client()).status == "sent"


def test_sends_from_the_number_keep_a_gap_whoever_they_go_to(wappi, settings):
    settings.SEND_NUMBER_GAP_SECONDS = 30
    first = OutboundMessageFactory(contact=customer("77015550001"), text="Первый")
    second = OutboundMessageFactory(contact=customer("77015550002"), text="Второй")
    assert outbox_send(message_id=first.pk, client=wappi.client()).status == "sent"
    with pytest.raises(SendLater) as later:
        outbox_send(message_id=second.pk, client=wappi.client())
    assert later.value.reason == "gap between the number's sends"
    assert later.value.delay > 25
    assert sent_texts(wappi) == ["Первый"]


# --- Typing -----------------------------------------------------------------------------------------


def test_typing_shows_before_a_reply_when_switched_on(wappi, settings):
    settings.WAPPI_TYPING = True
    settings.WAPPI_TYPING_MAX_SECONDS = 0  # the delay itself is not what this test waits for
    contact = customer()
    reply = OutboundMessageFactory(contact=contact, text="Доставим завтра")
    notice = OutboundMessageFactory(contact=contact, purpose=Message.Purpose.NOTIFICATION, text="Счёт оплачен")
    outbox_send(message_id=reply.pk, client=wappi.client())
    outbox_send(message_id=notice.pk, client=wappi.client())
    assert wappi.typing == ["77012345678"]
    typing_at = next(i for i, c in enumerate(wappi.calls) if c[1].endswith("/chat/typing/start"))
    send_at = next(i for i, c in enumerate(wappi.calls) if c[1].endswith("/message/send"))
    assert typing_at < send_at


def test_no_typing_by_default(wappi):
    reply = OutboundMessageFactory(contact=customer(), text="Доставим завтра")
    outbox_send(message_id=reply.pk, client=wappi.client())
    assert wappi.typing == []


def test_a_phone_that_logs_out_and_back_in_again_and_again_alerts_the_managers_once(wappi, wappi_posts):
    with time_machine.travel(WEDNESDAY_NOON, tick=False):
        for _ in range(3):
            wappi_posts(wappi.authorization_webhook(online=False))
            assert NumberState.load().paused
            wappi_posts(wappi.authorization_webhook(online=True))
            assert not NumberState.load().paused
    assert len(manager_notices()) == 1
