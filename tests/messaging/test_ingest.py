"""Ingest (messaging.ingest): Wappi's events, by webhook or by poll, stored once against their
contact and handed on after commit; echoes, groups and whitelisted numbers; an operator typing on
the business phone takes the chat over; delivery receipts move forward only."""

from __future__ import annotations

import dataclasses
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from contacts.models import Contact, WhitelistEntry
from messaging.ingest import ingest_events
from messaging.models import Message
from messaging.wire import parse_sync_message, parse_webhook
from tests.factories import ContactFactory, OutboundMessageFactory, wappi_incoming
from tests.statements import Statements


@pytest.mark.django_db
def test_a_customer_message_is_stored_against_its_contact(webhook, django_capture_on_commit_callbacks, published):
    with django_capture_on_commit_callbacks(execute=True):
        response = webhook({"messages": [wappi_incoming()]})
    assert response.status_code == 200
    # The view hands off to a task; run the ingest the task would run.
    with django_capture_on_commit_callbacks(execute=True):
        ingest_events(events=parse_webhook({"messages": [wappi_incoming()]}), via="webhook")
    message = Message.objects.get()
    assert (message.direction, message.author, message.text) == ("in", "customer", "Здравствуйте! Сколько стоит тариф?")
    assert message.contact.phone == "77012345678"
    assert message.contact.push_name == "Айгерим"
    assert message.contact.last_inbound_at == message.timestamp
    assert "ai.process_incoming" in published


@pytest.mark.django_db
def test_the_same_message_twice_is_stored_once_and_handed_on_once(django_capture_on_commit_callbacks, published):
    events = parse_webhook([wappi_incoming()])
    with django_capture_on_commit_callbacks(execute=True):
        first = ingest_events(events=events, via="webhook")
        again = ingest_events(events=events, via="poll")
    assert (len(first.stored), again.duplicates) == (1, 1)
    assert Message.objects.count() == 1
    assert published.count("ai.process_incoming") == 1


@pytest.mark.django_db
def test_c_us_and_s_whatsapp_net_ids_map_to_one_contact():
    ingest_events(
        events=parse_webhook(
            [
                wappi_incoming("A1"),
                wappi_incoming("A2", **{"chatId": "77012345678@s.whatsapp.net", "from": "77012345678@s.whatsapp.net"}),
            ]
        ),
        via="webhook",
    )
    assert Contact.objects.count() == 1
    assert Message.objects.count() == 2


@pytest.mark.django_db
def test_a_whitelisted_number_is_counted_and_nothing_else_is_stored(published):
    report = ingest_events(events=parse_webhook([wappi_incoming(phone="77752837306")]), via="webhook")
    assert report.whitelisted == 1
    assert not Message.objects.exists()
    assert not Contact.objects.filter(phone="77752837306").exists()
    entry = WhitelistEntry.objects.get(phone="77752837306")
    assert entry.skipped_messages == 1
    assert entry.last_skipped_at is not None
    assert published == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    "change",
    [
        {"chatId": "120363025246125486@g.us", "chat_type": "group"},
        {"chatId": "status@broadcast"},
        {"type": "reaction", "body": "👍"},
    ],
)
def test_groups_echoes_broadcasts_and_reactions_store_nothing(change):
    ingest_events(events=parse_webhook([wappi_incoming(**change)]), via="webhook")
    assert not Message.objects.exists()


@pytest.mark.django_db
def test_a_message_typed_on_the_business_phone_hands_the_chat_to_the_human(settings):
    settings.BOT_PAUSE_AFTER_OPERATOR = 12
    typed = wappi_incoming(
        "OP1",
        text="Добрый день, это Марат, менеджер",
        wh_type="outgoing_message_phone",
        **{"from": "77000000000@c.us", "to": "77012345678@c.us"},
    )
    report = ingest_events(events=parse_webhook([typed]), via="webhook")
    contact = Contact.objects.get(phone="77012345678")
    message = Message.objects.get()
    assert report.operator == 1
    assert (message.direction, message.author, message.status) == ("out", "operator", "sent")
    assert contact.bot_mode == Contact.BotMode.HUMAN
    assert contact.bot_is_paused()
    assert timedelta(hours=11.9) < contact.paused_until - timezone.now() <= timedelta(hours=12)


@pytest.mark.django_db
def test_an_api_message_we_did_not_send_is_a_persons_and_pauses_the_bot():
    # Another system on the same Wappi profile (a CRM, Wappi's web chat) wrote to the customer.
    crm = wappi_incoming(
        "CRM1",
        text="Здравствуйте, это отдел продаж",
        is_me=True,
        from_where="api",
        **{"from": "77000000000@c.us", "to": "77012345678@c.us"},
    )
    ingest_events(events=parse_webhook([crm]), via="webhook")
    message = Message.objects.get()
    assert (message.author, message.status) == ("operator", "sent")
    assert Contact.objects.get(phone="77012345678").bot_mode == Contact.BotMode.HUMAN


@pytest.mark.django_db
def test_a_phone_message_with_the_same_text_as_a_queued_bot_reply_is_still_the_operators():
    queued = OutboundMessageFactory(contact=ContactFactory(phone="77012345678"), status="queued", text="Здравствуйте!")
    typed = wappi_incoming(
        "OP2",
        text="Здравствуйте!",
        wh_type="outgoing_message_phone",
        **{"from": "77000000000@c.us", "to": "77012345678@c.us"},
    )
    ingest_events(events=parse_webhook([typed]), via="webhook")
    queued.refresh_from_db()
    assert queued.status == "queued"  # not marked sent without ever being sent
    assert Message.objects.get(provider_message_id="OP2").author == "operator"
    assert Contact.objects.get(phone="77012345678").bot_mode == Contact.BotMode.HUMAN


@pytest.mark.django_db
def test_an_operator_message_never_shortens_an_indefinite_takeover():
    contact = ContactFactory(phone="77012345678", bot_mode=Contact.BotMode.HUMAN, paused_until=None)
    typed = wappi_incoming(
        "OP3",
        text="Перезвоню",
        wh_type="outgoing_message_phone",
        **{"from": "77000000000@c.us", "to": "77012345678@c.us"},
    )
    ingest_events(events=parse_webhook([typed]), via="webhook")
    contact.refresh_from_db()
    assert (contact.bot_mode, contact.paused_until) == (Contact.BotMode.HUMAN, None)


@pytest.mark.django_db
def test_the_echo_of_our_own_api_send_changes_nothing():
    sent = OutboundMessageFactory(
        contact=ContactFactory(phone="77012345678"), status="sent", provider_message_id="3EB0OURS", text="Ответ бота"
    )
    echo = wappi_incoming(
        "3EB0OURS",
        text="Ответ бота",
        wh_type="outgoing_message_phone",
        **{"from": "77000000000@c.us", "to": "77012345678@c.us"},
    )
    ingest_events(events=parse_webhook([echo]), via="webhook")
    sent.contact.refresh_from_db()
    assert Message.objects.count() == 1
    assert sent.contact.bot_mode == Contact.BotMode.AI


@pytest.mark.django_db
def test_an_echo_that_overtakes_our_send_completes_the_row_instead_of_pausing_the_bot():
    sending = OutboundMessageFactory(
        contact=ContactFactory(phone="77012345678"), status="sending", provider_message_id=None, text="Ответ бота"
    )
    echo = wappi_incoming(
        "3EB0FAST",
        text="Ответ бота",
        wh_type="outgoing_message_phone",
        **{"from": "77000000000@c.us", "to": "77012345678@c.us"},
    )
    ingest_events(events=parse_webhook([echo]), via="webhook")
    sending.refresh_from_db()
    assert (sending.status, sending.provider_message_id) == ("sent", "3EB0FAST")
    assert Message.objects.count() == 1
    assert Contact.objects.get().bot_mode == Contact.BotMode.AI


@pytest.mark.django_db
def test_delivery_receipts_move_a_message_forward_but_never_back():
    message = OutboundMessageFactory(status="sent", provider_message_id="3EB0D1")

    def receipt(status):
        ingest_events(
            events=parse_webhook(
                {"messages": {"wh_type": "delivery_status", "id": "3EB0D1", "status": status, "time": 1795410000}}
            ),
            via="webhook",
        )
        message.refresh_from_db()
        return message.status

    assert receipt("delivered") == "delivered"
    assert message.delivered_at is not None
    assert receipt("read") == "read"
    assert receipt("delivered") == "read"


@pytest.mark.django_db
def test_a_customer_reply_is_linked_to_the_message_it_quotes():
    ours = OutboundMessageFactory(contact=ContactFactory(phone="77012345678"), status="sent", provider_message_id="Q1")
    ingest_events(
        events=parse_webhook([wappi_incoming("R1", text="Да, давайте", isReply=True, stanza_id="Q1")]), via="webhook"
    )
    assert Message.objects.get(provider_message_id="R1").reply_to == ours


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_webhook_and_a_poll_racing_for_one_message_store_it_once_and_answer_once(published):
    webhook_events = parse_webhook([wappi_incoming("RACE1")])
    poll_events = [
        parse_sync_message(
            {
                "id": "RACE1",
                "type": "chat",
                "fromMe": False,
                "time": 1795410000,
                "body": "Здравствуйте! Сколько стоит тариф?",
                "chatId": "77012345678@c.us",
                "from": "77012345678@c.us",
            }
        )
    ]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(events, via):
        try:
            barrier.wait()
            ingest_events(events=events, via=via)
        except BaseException as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=(webhook_events, "webhook")),
        threading.Thread(target=run, args=(poll_events, "poll")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    assert Message.objects.filter(provider_message_id="RACE1").count() == 1
    assert Contact.objects.filter(phone="77012345678").count() == 1
    assert published.count("ai.process_incoming") == 1


def webhook_batch(first: int, n: int, *, contacts: int, prefix: str = "7702") -> list[dict]:
    return [
        wappi_incoming(f"3EB0BATCH{first + i:011d}", phone=f"{prefix}{(first + i) % contacts:07d}") for i in range(n)
    ]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_webhook_post_costs_the_same_round_trips_with_one_event_or_fifty(published_calls):
    """A gateway flood: a POST's events are stored in one transaction with a constant number of
    statements (contacts read, created and updated in bulk, messages inserted in one statement),
    and one AI step run is scheduled per contact's burst, not per message."""
    # One of the fifty's contacts exists already (under the same WhatsApp name: a new name would
    # cost one more statement, for all the batch's renamed contacts together).
    ContactFactory(phone="77020000001", push_name="Айгерим", chat_id="77020000001@c.us")
    with Statements() as one:
        batch = webhook_batch(0, 1, contacts=1, prefix="7703")
        report = ingest_events(events=parse_webhook({"messages": batch}), via="webhook")
    assert len(report.stored) == 1
    published_calls.clear()

    with Statements() as fifty:
        # 50 events from 10 contacts, one of which is a re-delivery of a stored message.
        events = webhook_batch(1, 49, contacts=10) + webhook_batch(0, 1, contacts=1, prefix="7703")
        report = ingest_events(events=parse_webhook({"messages": events}), via="webhook")

    assert (len(report.stored), report.duplicates) == (49, 1)
    assert Contact.objects.filter(phone__startswith="7702").count() == 10
    # A one-event POST, from a new number or a known one: the numbers screened (whitelist and
    # the opt-out registry of forgotten contacts together), the contacts locked, the new one
    # created with its inbound times, the message inserted, the known one's times updated.
    assert one.count == 4
    # A batch with both new and known contacts: one statement more (6 before the screen was
    # one statement and new contacts were created with their times).
    assert fifty.count <= 5
    # The 49 new messages belong to 10 contacts: one run each, for the newest of each burst.
    assert sorted(name for name, _ in published_calls) == ["ai.process_incoming"] * 10
    newest = {
        contact_id: max(pks)
        for contact_id, pks in _group(Message.objects.filter(pk__in=report.stored).values_list("contact_id", "pk"))
    }
    assert sorted(pk for _, pk in published_calls) == sorted(newest.values())

    with Statements() as known:
        report = ingest_events(events=parse_webhook({"messages": webhook_batch(100, 1, contacts=1)}), via="webhook")
    assert len(report.stored) == 1
    assert known.count == 4


def _group(pairs):
    grouped: dict[int, list[int]] = {}
    for key, value in pairs:
        grouped.setdefault(key, []).append(value)
    return grouped.items()


@pytest.mark.django_db
def test_a_batch_the_database_refuses_in_part_keeps_its_other_events(published):
    """One event no parser check foresaw (here a message type longer than its column, which
    PostgreSQL refuses) makes the bulk insert fail: the batch is applied again event by event
    and only that one is lost."""
    good, bad = parse_webhook(
        {
            "messages": [
                wappi_incoming("3EB0REFUSE0000000001", text="Здравствуйте"),
                wappi_incoming("3EB0REFUSE0000000002", phone="77012345679"),
            ]
        }
    )
    bad = dataclasses.replace(bad, type="x" * 40)  # past the parser's checks, as a new field might be
    report = ingest_events(events=[good, bad], via="webhook")
    assert len(report.stored) == 1
    assert report.skipped["refused by the database"] == 1
    assert Message.objects.get().provider_message_id == "3EB0REFUSE0000000001"


@pytest.mark.django_db
def test_a_new_numbers_first_messages_give_its_contact_their_times_and_open_its_quiet_window(settings):
    settings.REPLY_DEBOUNCE_SECONDS = 4
    now = timezone.now()
    events = [
        wappi_incoming("3EB0NEWNUMBER0000001", phone="77051110000", timestamp="2026-11-23T10:00:00+05:00"),
        wappi_incoming("3EB0NEWNUMBER0000002", phone="77051110000", timestamp="2026-11-23T10:00:05+05:00"),
    ]

    report = ingest_events(events=parse_webhook({"messages": events}), via="webhook", now=now)

    assert len(report.stored) == 2
    contact = Contact.objects.get(phone="77051110000")
    stored = Message.objects.filter(pk__in=report.stored).order_by("timestamp")
    assert (contact.first_inbound_at, contact.last_inbound_at) == (stored[0].timestamp, stored[1].timestamp)
    assert contact.reply_due_at == now + timedelta(seconds=4)


@pytest.mark.django_db
def test_a_new_number_whose_only_message_is_already_stored_gets_no_inbound_times():
    # The message is known under another contact (a number written differently before):
    # nothing new arrived from this one.
    ingest_events(events=parse_webhook({"messages": [wappi_incoming("3EB0KNOWN00000000001")]}), via="webhook")
    again = wappi_incoming("3EB0KNOWN00000000001", phone="77051112222")

    report = ingest_events(events=parse_webhook({"messages": [again]}), via="webhook")

    assert (report.stored, report.duplicates) == ([], 1)
    contact = Contact.objects.get(phone="77051112222")
    assert (contact.first_inbound_at, contact.last_inbound_at, contact.reply_due_at) == (None, None, None)


@pytest.mark.django_db
def test_a_new_numbers_voice_note_gives_its_contact_times_but_no_quiet_window():
    note = wappi_incoming(
        "3EB0VOICENEW00000001", phone="77051113333", type="ptt", body="", file_link="https://wappi.pro/f/1.ogg"
    )

    report = ingest_events(events=parse_webhook({"messages": [note]}), via="webhook")

    assert Message.objects.get(pk__in=report.stored).is_voice
    contact = Contact.objects.get(phone="77051113333")
    assert contact.first_inbound_at is not None
    assert contact.reply_due_at is None
