"""The webhook and poll parsers against random payloads: they never raise, they return one
event per event object, and a well-formed customer message comes out intact whatever its
envelope and text. Pure functions: no database."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from messaging.wire import (
    AuthorizationUpdate,
    DeliveryUpdate,
    Ignored,
    Origin,
    WappiMessage,
    parse_sync_message,
    parse_webhook,
    webhook_events,
)
from messaging.wire import clean_text as storable
from tests.factories import wappi_incoming
from tests.system.fuzz.strategies import (
    AWKWARD,
    FUZZ,
    HAZARDS,
    clean_text,
    envelopes,
    json_values,
    wappi_events,
)

EVENT_TYPES = (WappiMessage, DeliveryUpdate, AuthorizationUpdate, Ignored)


def _dict_items(payload: Any) -> int:
    """How many event objects an envelope holds (non-objects in a list are not events)."""
    if isinstance(payload, dict) and "messages" in payload:
        payload = payload["messages"]
    elif isinstance(payload, dict):
        return 1
    if isinstance(payload, dict):
        return 1
    if isinstance(payload, list):
        return sum(isinstance(item, dict) for item in payload)
    return 0


@FUZZ
@given(payload=json_values(hazards=True) | envelopes(st.lists(wappi_events(hazards=True), max_size=5)))
def test_the_webhook_parser_turns_any_json_into_one_typed_event_per_event_object(payload):
    events = parse_webhook(payload)

    assert len(events) == _dict_items(payload) == len(webhook_events(payload))
    assert all(isinstance(event, EVENT_TYPES) for event in events)


@FUZZ
@given(item=wappi_events(hazards=True) | json_values(hazards=True))
def test_the_poll_parser_turns_any_message_object_into_a_typed_event(item):
    event = parse_sync_message(item)

    assert isinstance(event, WappiMessage | Ignored)
    if not isinstance(item, dict):
        assert event == Ignored("not an object")


@FUZZ
@given(items=st.lists(wappi_events(hazards=True), min_size=1, max_size=4))
def test_every_parsed_message_names_a_phone_and_has_an_aware_time(items):
    for event in parse_webhook(items) + [parse_sync_message(item) for item in items]:
        if isinstance(event, WappiMessage):
            assert event.phone.isdigit()
            assert event.phone.isascii()
            assert 10 <= len(event.phone) <= 15
            assert event.provider_id
            assert event.provider_id == event.provider_id.strip()
            assert event.sent_at.tzinfo is not None
            assert isinstance(event.text, str)
        elif isinstance(event, Ignored):
            assert event.reason  # a rejection always says why


@FUZZ
@given(
    text=st.one_of(clean_text, st.sampled_from(HAZARDS)),
    shape=st.sampled_from(["object", "list", "flat", "single"]),
    chat=st.sampled_from(["77012345678@c.us", "77012345678@s.whatsapp.net", "77012345678:3@s.whatsapp.net"]),
)
def test_a_customer_message_comes_out_intact_from_any_envelope_with_any_unicode(text, shape, chat):
    item = {**wappi_incoming(msg_id="3EB0FUZZ01", text=text), "chatId": chat, "from": chat}
    payload = {"object": {"messages": [item]}, "list": [item], "flat": item, "single": {"messages": item}}[shape]

    [event] = parse_webhook(payload)

    assert isinstance(event, WappiMessage)
    assert (event.provider_id, event.phone, event.origin) == ("3EB0FUZZ01", "77012345678", Origin.CUSTOMER)
    # As sent, except what PostgreSQL cannot store (NUL dropped, a lone surrogate replaced).
    assert event.text == storable(text.strip())
    if "\x00" not in text and storable(text) == text:
        assert event.text == text.strip()


def test_a_body_of_megabytes_is_parsed_whole():
    text = ("Здравствуйте! 👋 " + AWKWARD[3]) * 60_000  # ~1.5 M characters
    [event] = parse_webhook([wappi_incoming(msg_id="BIG", text=text)])
    assert event.text == text.strip()


@pytest.mark.parametrize(
    "time_value", ["²", "1²", "٣²"], ids=["superscript", "digit-superscript", "arabic-superscript"]
)
@pytest.mark.parametrize("parser", ["webhook", "poll"])
def test_a_time_of_digits_float_cannot_read_falls_back_instead_of_crashing(time_value, parser):
    item = {**wappi_incoming(msg_id="T1"), "time": time_value}

    event = parse_webhook([item])[0] if parser == "webhook" else parse_sync_message(item)

    assert isinstance(event, WappiMessage)


@pytest.mark.parametrize("parser", ["webhook", "poll"])
def test_a_time_beyond_any_calendar_falls_back_instead_of_crashing(parser):
    item = {**wappi_incoming(msg_id="T2"), "time": 10**400}

    event = parse_webhook([item])[0] if parser == "webhook" else parse_sync_message(item)

    assert isinstance(event, WappiMessage)
