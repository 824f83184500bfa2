"""Webhook settings and the events the sandbox POSTs, in Wappi's envelopes (wappi.md §3.13, §4)."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from pytest_httpserver import HTTPServer

CUSTOMER = "77011234567"


@pytest.fixture
def receiver(httpserver: HTTPServer, wappi) -> HTTPServer:
    """The product's webhook endpoint, registered with the sandbox as the real one is with Wappi."""
    answer = wappi.post("api/webhook/url/set", url=httpserver.url_for("/webhooks/wappi/") + "?secret=s3cret")
    assert answer.status_code == 200
    assert answer.json()["status"] == "done"
    return httpserver


def _events(server: HTTPServer) -> list[dict]:
    return [json.loads(request.get_data()) for request, _ in server.log]


def test_url_set_is_echoed_by_url_get_and_status(wappi):
    wappi.post("api/webhook/url/set", url="https://example.com/hook?secret=1")

    answer = wappi.get("api/webhook/url/get").json()

    assert answer["status"] == "done"
    assert answer["installed"] is True
    assert answer["url"] == "https://example.com/hook?secret=1"
    assert wappi.get("api/sync/get/status").json()["webhook_url"] == "https://example.com/hook?secret=1"


def test_url_set_without_a_url_answers_400(wappi):
    assert wappi.post("api/webhook/url/set").status_code == 400


def test_types_set_takes_a_json_array_and_refuses_anything_else(wappi):
    assert wappi.post("api/webhook/types/set", ["incoming_message"]).status_code == 200
    assert wappi.get("api/sync/get/status").json()["webhook_types"] == ["incoming_message"]
    assert wappi.post("api/webhook/types/set", {"types": ["incoming_message"]}).status_code == 400
    assert wappi.post("api/webhook/types/set", ["no_such_type"]).status_code == 400


def test_a_customer_message_posts_the_incoming_message_envelope_to_the_registered_url(
    receiver, customer, django_capture_on_commit_callbacks
):
    receiver.expect_oneshot_request("/webhooks/wappi/", method="POST", query_string="secret=s3cret").respond_with_data(
        "ok"
    )

    with receiver.wait(timeout=5) as waiting, django_capture_on_commit_callbacks(execute=True):
        sent = customer(CUSTOMER, "Здравствуйте, сколько стоит?", name="Айгерим")["message"]

    assert waiting.result
    [envelope] = _events(receiver)
    [event] = envelope["messages"]
    assert event["wh_type"] == "incoming_message"
    assert event["profile_id"] == "sandbox-0001"
    assert event["id"] == sent["id"]
    assert event["body"] == "Здравствуйте, сколько стоит?"
    assert event["type"] == "chat"
    assert event["from"] == event["chatId"] == f"{CUSTOMER}@c.us"
    assert event["to"] == "77000000000@c.us"
    assert event["senderName"] == event["contact_name"] == "Айгерим"
    assert event["is_me"] is False
    assert event["chat_type"] == "dialog"
    assert event["from_where"] == "phone"
    assert isinstance(event["time"], int)
    assert datetime.fromisoformat(event["timestamp"]).timestamp() == event["time"]
    assert event["whatsapp_chat_id"].endswith("@lid")


def test_a_customer_voice_note_posts_a_ptt_event_with_a_file_link(
    receiver, customer, django_capture_on_commit_callbacks
):
    receiver.expect_oneshot_request("/webhooks/wappi/", method="POST").respond_with_data("ok")

    with receiver.wait(timeout=5) as waiting, django_capture_on_commit_callbacks(execute=True):
        sent = customer(CUSTOMER, voice=True)["message"]

    assert waiting.result
    [event] = _events(receiver)[0]["messages"]
    assert event["type"] == "ptt"
    assert event["mimetype"] == "audio/ogg; codecs=opus"
    assert event["file_link"] == f"http://testserver/sandbox/wappi/files/{sent['id']}.ogg"
    assert event["file_name"].endswith(".ogg")
    assert event["file_link_expire"] > event["time"]


def test_no_webhook_is_posted_when_incoming_message_is_not_subscribed(
    receiver, wappi, customer, django_capture_on_commit_callbacks
):
    wappi.post("api/webhook/types/set", ["delivery_status"])

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        customer(CUSTOMER, "Привет")

    assert callbacks == []


def test_the_customer_reading_the_bots_message_posts_a_delivery_status_object(
    receiver, wappi, client, django_capture_on_commit_callbacks
):
    sent = wappi.send(CUSTOMER, "Добрый день! Чем помочь?")
    receiver.expect_oneshot_request("/webhooks/wappi/", method="POST").respond_with_data("ok")

    with receiver.wait(timeout=5) as waiting, django_capture_on_commit_callbacks(execute=True):
        client.get("/sandbox/chat/conversation", {"phone": CUSTOMER})

    assert waiting.result
    [envelope] = _events(receiver)
    # delivery_status comes as an object, not a list (wappi.md §4.3).
    assert envelope["messages"]["wh_type"] == "delivery_status"
    assert envelope["messages"]["id"] == sent["message_id"]
    assert envelope["messages"]["status"] == "read"
    assert envelope["messages"]["chat_id"] == f"{CUSTOMER}@c.us"
    [message] = wappi.get("api/sync/messages/get", chat_id=CUSTOMER).json()["messages"]
    assert message["delivery_status"] == "read"


def test_outgoing_message_api_events_are_posted_only_when_subscribed(
    receiver, wappi, django_capture_on_commit_callbacks
):
    wappi.post("api/webhook/types/set", ["outgoing_message_api"])
    receiver.expect_oneshot_request("/webhooks/wappi/", method="POST").respond_with_data("ok")

    with receiver.wait(timeout=5) as waiting, django_capture_on_commit_callbacks(execute=True):
        sent = wappi.send(CUSTOMER, "Ваш заказ готов")

    assert waiting.result
    [event] = _events(receiver)[0]["messages"]
    assert event["wh_type"] == "outgoing_message_api"
    assert event["is_me"] is True
    assert event["from_where"] == "api"
    assert event["id"] == sent["message_id"]
    assert event["task_id"] == sent["task_id"]


def test_an_unreachable_webhook_url_does_not_break_the_customers_message(
    wappi, customer, django_capture_on_commit_callbacks
):
    wappi.post("api/webhook/url/set", url="http://127.0.0.1:9/closed")

    with django_capture_on_commit_callbacks(execute=True):
        sent = customer(CUSTOMER, "Привет")

    assert wappi.get("api/sync/messages/id/get", message_id=sent["message"]["id"]).status_code == 200
