from __future__ import annotations

from datetime import UTC, datetime

import pytest

from messaging.wire import (
    AuthorizationUpdate,
    DeliveryUpdate,
    Ignored,
    Origin,
    WappiMessage,
    parse_sync_message,
    parse_webhook,
)

INCOMING = {
    "wh_type": "incoming_message",
    "profile_id": "71ad40e9-b023",
    "id": "3EB0128AE55B5D222DD0",
    "body": "Здравствуйте, интересует ваш продукт",
    "type": "chat",
    "from": "77012345678@c.us",
    "to": "77000000000@c.us",
    "senderName": "Иван Петров",
    "chatId": "77012345678@c.us",
    "timestamp": "2026-11-23T10:00:00+05:00",
    "time": 1795410000,
    "from_where": "phone",
    "contact_name": "Иван Петров",
    "is_me": False,
    "chat_type": "dialog",
}


def only(events):
    assert len(events) == 1
    return events[0]


def test_an_incoming_text_becomes_a_customer_message():
    event = only(parse_webhook({"messages": [INCOMING]}))
    assert isinstance(event, WappiMessage)
    assert event.origin == Origin.CUSTOMER
    assert (event.provider_id, event.phone, event.text) == ("3EB0128AE55B5D222DD0", "77012345678", INCOMING["body"])
    assert event.sent_at == datetime(2026, 11, 23, 5, 0, tzinfo=UTC)
    assert event.contact["full_name"] == "Иван Петров"


@pytest.mark.parametrize(
    "payload",
    [
        {"messages": [INCOMING]},
        {"messages": INCOMING},  # the object envelope delivery_status uses, "sometimes" others
        [INCOMING],
        INCOMING,  # a flat event
    ],
)
def test_every_envelope_shape_gives_the_same_message(payload):
    assert only(parse_webhook(payload)).provider_id == "3EB0128AE55B5D222DD0"


def test_swapped_time_types_and_nanosecond_fractions_are_read():
    swapped = {**INCOMING, "time": "2026-11-23T05:00:00.957011925Z", "timestamp": 1795410000}
    assert only(parse_webhook([swapped])).sent_at == datetime(2026, 11, 23, 5, 0, 0, 957011, tzinfo=UTC)
    millis = {**INCOMING, "time": 1795410000123, "timestamp": None}
    assert only(parse_webhook([millis])).sent_at.year == 2026


def test_s_whatsapp_net_and_c_us_ids_are_the_same_phone():
    a = only(parse_webhook([INCOMING]))
    b = only(
        parse_webhook([{**INCOMING, "chatId": "77012345678@s.whatsapp.net", "from": "77012345678@s.whatsapp.net"}])
    )
    assert a.phone == b.phone == "77012345678"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"chatId": "120363025246125486@g.us", "chat_type": "group", "from": "77019998877@c.us"}, "group"),
        ({"chatId": "120363025246125486@g.us"}, "group"),
        ({"chatId": "status@broadcast", "from": "77012345678@c.us"}, "broadcast"),
        ({"chatId": "120363165123456789@newsletter"}, "newsletter"),
        ({"chatId": "159876543210987@lid", "from": "159876543210987@lid"}, "lid"),
        ({"type": "reaction", "body": "👍"}, "reaction"),
        ({"type": "system"}, "system"),
        ({"type": "poll_vote"}, "poll_vote"),
        ({"id": ""}, "without id"),
        ({"chatId": "0@s.whatsapp.net", "from": "0@s.whatsapp.net"}, "unusable"),
    ],
)
def test_groups_broadcasts_channels_hidden_ids_reactions_and_system_rows_are_ignored(change, reason):
    event = only(parse_webhook([{**INCOMING, **change}]))
    assert isinstance(event, Ignored)
    assert reason in event.reason


def test_the_echo_of_our_own_send_is_ours_not_the_customers():
    echo = only(
        parse_webhook(
            [{**INCOMING, "is_me": True, "from_where": "api", "from": "77000000000@c.us", "to": "77012345678@c.us"}]
        )
    )
    assert echo.origin == Origin.API
    assert echo.phone == "77012345678"


def test_a_message_typed_on_the_business_phone_is_an_operator_message():
    typed = only(
        parse_webhook(
            [{**INCOMING, "wh_type": "outgoing_message_phone", "from": "77000000000@c.us", "to": "77012345678@c.us"}]
        )
    )
    assert typed.origin == Origin.PHONE
    api = only(parse_webhook([{**INCOMING, "wh_type": "outgoing_message_api"}]))
    assert api.origin == Origin.API


def test_a_voice_note_keeps_its_link_and_never_uses_the_base64_body_as_text():
    voice = only(
        parse_webhook(
            [
                {
                    **INCOMING,
                    "type": "ptt",
                    "body": "T2dnUwACAAAAAAAAAAA=",
                    "file_link": "https://wapi-uploads7d.storage.yandexcloud.net/x.ogg",
                    "mimetype": "audio/ogg; codecs=opus",
                }
            ]
        )
    )
    assert voice.is_voice
    assert voice.text == ""
    assert voice.media_url.endswith("x.ogg")


def test_a_media_body_given_as_an_object_yields_its_caption():
    image = only(
        parse_webhook(
            [{**INCOMING, "type": "image", "body": {"caption": "Вот фото объекта", "url": "x"}, "caption": None}]
        )
    )
    assert image.text == "Вот фото объекта"


def test_delivery_status_in_the_object_envelope_and_authorization_events():
    delivered = only(
        parse_webhook(
            {
                "messages": {
                    "wh_type": "delivery_status",
                    "id": "3EB0AA",
                    "status": "read",
                    "chat_id": "77012345678@c.us",
                    "time": 1795410000,
                }
            }
        )
    )
    assert delivered == DeliveryUpdate(provider_id="3EB0AA", status="read", at=delivered.at, detail="read")
    offline = only(
        parse_webhook([{"wh_type": "authorization_status", "status": "offline", "reason": "logout from api"}])
    )
    assert offline == AuthorizationUpdate(online=False, reason="logout from api")


@pytest.mark.parametrize("payload", [None, 42, "text", {"messages": "nope"}, {"messages": [1, "x", None]}, []])
def test_garbage_envelopes_give_no_events_and_raise_nothing(payload):
    assert parse_webhook(payload) == []


def test_an_unknown_webhook_type_is_ignored_by_name():
    event = only(parse_webhook([{"wh_type": "incoming_call", "type": "missed_call"}]))
    assert isinstance(event, Ignored)
    assert "incoming_call" in event.reason


def test_a_sync_api_message_from_polling_parses_like_the_webhook():
    sync = {
        "id": "3EB0BB",
        "type": "chat",
        "from": "77012345678@c.us",
        "to": "77000000000@c.us",
        "fromMe": False,
        "senderName": "Иван",
        "time": 1795410000,
        "body": "Сколько стоит?",
        "chatId": "77012345678@c.us",
    }
    event = parse_sync_message(sync)
    assert isinstance(event, WappiMessage)
    assert (event.origin, event.phone, event.text) == (Origin.CUSTOMER, "77012345678", "Сколько стоит?")
    ours = parse_sync_message({**sync, "fromMe": True, "isFromAPI": True})
    typed = parse_sync_message({**sync, "fromMe": True, "isFromAPI": False})
    assert (ours.origin, typed.origin) == (Origin.API, Origin.PHONE)


def test_a_quoted_reply_names_the_message_it_answers():
    event = parse_sync_message(
        {
            "id": "3EB0CC",
            "type": "chat",
            "fromMe": False,
            "time": 1795410000,
            "body": "Да",
            "chatId": "77012345678@c.us",
            "isReply": True,
            "stanzaId": "3EB0AA",
        }
    )
    assert event.reply_to_id == "3EB0AA"
