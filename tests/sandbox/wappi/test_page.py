"""The chat page where an operator plays a customer."""

from __future__ import annotations

import json

from sandbox.wappi.models import SandboxChat, SandboxMessage

CUSTOMER = "77011234567"


def test_the_chat_page_renders_with_the_phone_form_and_the_voice_button(client, db):
    response = client.get("/sandbox/")

    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="phone"' in html
    assert 'id="compose"' in html
    assert "Отправить голосовое (пример)" in html
    assert "/sandbox/chat/conversation" in html
    assert "csrf-token" in html


def test_a_customer_message_typed_in_any_spelling_lands_in_the_normalised_chat(customer):
    answer = customer("+7 (701) 123-45-67", "Здравствуйте", name="Айгерим")

    assert answer["phone"] == CUSTOMER
    chat = SandboxChat.objects.get()
    assert (chat.phone, chat.name) == (CUSTOMER, "Айгерим")
    message = SandboxMessage.objects.get()
    assert (message.from_me, message.type, message.body) == (False, "chat", "Здравствуйте")


def test_the_conversation_endpoint_returns_customer_and_bot_messages_oldest_first(wappi, customer, client):
    customer(CUSTOMER, "Сколько стоит доставка?")
    wappi.send(CUSTOMER, "Доставка бесплатная.")

    response = client.get("/sandbox/chat/conversation", {"phone": "8 701 123 45 67"})

    assert response.status_code == 200
    state = response.json()
    assert state["chat"]["phone"] == CUSTOMER
    assert [(m["author"], m["body"]) for m in state["messages"]] == [
        ("customer", "Сколько стоит доставка?"),
        ("bot", "Доставка бесплатная."),
    ]
    assert all(m["time_label"] for m in state["messages"])
    # Opening the chat is the customer reading it: the bot's message shows read ticks.
    assert state["messages"][1]["ticks"] == "read"
    assert state["messages"][0]["ticks"] == "delivered"
    assert [c["phone"] for c in state["chats"]] == [CUSTOMER]


def test_the_customers_message_turns_read_once_the_product_marks_it(wappi, customer, client):
    sent = customer(CUSTOMER, "Алло")["message"]["id"]
    wappi.post("api/sync/message/mark/read", {"message_id": sent})

    [message] = client.get("/sandbox/chat/conversation", {"phone": CUSTOMER}).json()["messages"]

    assert message["ticks"] == "read"


def test_the_sample_voice_note_is_sent_as_a_ptt_with_a_playable_url(customer, client):
    answer = customer(CUSTOMER, voice=True)

    assert answer["message"]["type"] == "ptt"
    audio = client.get(answer["message"]["voice_url"])
    assert audio.status_code == 200
    assert audio.content[:4] == b"OggS"


def test_garbage_or_a_group_id_as_the_phone_gets_a_clear_russian_error(client, db):
    for phone in ("абв", "123", "120363025246125486@g.us"):
        response = client.get("/sandbox/chat/conversation", {"phone": phone})
        assert response.status_code == 400
        assert "не номер телефона" in response.json()["error"]
    sent = client.post(
        "/sandbox/chat/send", data=json.dumps({"phone": "xyz", "body": "Привет"}), content_type="application/json"
    )
    assert sent.status_code == 400
    assert not SandboxMessage.objects.exists()


def test_an_empty_message_is_refused(client, db):
    response = client.post(
        "/sandbox/chat/send", data=json.dumps({"phone": CUSTOMER, "body": "  "}), content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["error"]


def test_the_page_endpoints_keep_the_csrf_check(db):
    from django.test import Client

    response = Client(enforce_csrf_checks=True).post(
        "/sandbox/chat/send", data=json.dumps({"phone": CUSTOMER, "body": "Привет"}), content_type="application/json"
    )
    assert response.status_code == 403
