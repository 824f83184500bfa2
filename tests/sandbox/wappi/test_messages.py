"""message/send, messages/get and friends answer in Wappi's sync-API shapes (wappi.md §3.3-3.9)."""

from __future__ import annotations

import re
from datetime import datetime

import pytest

from sandbox.wappi.models import SandboxMessage

CUSTOMER = "77011234567"


def test_send_answers_done_with_a_message_id_a_task_id_and_both_times(wappi):
    answer = wappi.send(CUSTOMER, "Здравствуйте!")

    assert answer["status"] == "done"
    assert re.fullmatch(r"3EB0[0-9A-F]{20}", answer["message_id"])
    assert answer["task_id"]
    assert isinstance(answer["timestamp"], int)
    assert answer["time"].endswith("+03:00")
    assert datetime.fromisoformat(answer["time"]).timestamp() == pytest.approx(answer["timestamp"], abs=2)


def test_a_sent_message_comes_back_from_messages_get_in_the_sync_shape(wappi):
    sent = wappi.send(CUSTOMER, "Здравствуйте! Чем помочь?")

    response = wappi.get("api/sync/messages/get", chat_id=f"{CUSTOMER}@c.us")

    assert response.status_code == 200
    page = response.json()
    assert page["status"] == "done"
    assert page["total_count"] == 1
    assert page["uuid"] == "sandbox-0001"
    [message] = page["messages"]
    assert message["id"] == sent["message_id"]
    assert message["type"] == "chat"
    assert message["body"] == "Здравствуйте! Чем помочь?"
    assert message["fromMe"] is True
    assert message["from"] == "77000000000@c.us"
    assert message["to"] == message["chatId"] == f"{CUSTOMER}@c.us"
    assert message["delivery_status"] == "sent"
    assert message["isFromAPI"] is True
    assert message["task_id"] == sent["task_id"]
    assert isinstance(message["time"], int)
    assert message["s3Info"] == {}
    assert message["isReply"] is False


@pytest.mark.parametrize("chat_id", [CUSTOMER, f"{CUSTOMER}@c.us", f"{CUSTOMER}@s.whatsapp.net"])
def test_messages_get_accepts_every_spelling_of_a_chat_id(wappi, chat_id):
    wappi.send(CUSTOMER, "Привет")
    assert wappi.get("api/sync/messages/get", chat_id=chat_id).json()["total_count"] == 1


def test_messages_get_pages_newest_first_with_limit_and_offset(wappi):
    ids = [wappi.send(CUSTOMER, f"сообщение {n}")["message_id"] for n in range(5)]

    first = wappi.get("api/sync/messages/get", chat_id=CUSTOMER, limit=2).json()
    second = wappi.get("api/sync/messages/get", chat_id=CUSTOMER, limit=2, offset=2).json()

    assert [m["id"] for m in first["messages"]] == [ids[4], ids[3]]
    assert [m["id"] for m in second["messages"]] == [ids[2], ids[1]]
    assert first["total_count"] == second["total_count"] == 5


def test_messages_get_returns_fifty_messages_by_default(wappi, customer):
    for n in range(52):
        customer(CUSTOMER, f"вопрос {n}")
    assert len(wappi.get("api/sync/messages/get", chat_id=CUSTOMER).json()["messages"]) == 50


def test_messages_get_of_a_chat_without_messages_answers_400(wappi):
    response = wappi.get("api/sync/messages/get", chat_id="77019998877@c.us")
    assert response.status_code == 400
    assert response.json() == {"detail": "chat not found", "status": "error"}


def test_messages_get_without_chat_id_answers_400(wappi):
    response = wappi.get("api/sync/messages/get")
    assert response.status_code == 400
    assert response.json()["status"] == "error"


def test_reading_without_mark_all_leaves_customer_messages_unread(wappi, customer):
    customer(CUSTOMER, "Сколько стоит?")

    [message] = wappi.get("api/sync/messages/get", chat_id=CUSTOMER).json()["messages"]

    assert message["fromMe"] is False
    assert message["isRead"] is False
    assert message["senderName"] == "Айгерим"
    assert message["from"] == f"{CUSTOMER}@c.us"
    assert "delivery_status" not in message
    assert SandboxMessage.objects.get().is_read is False


def test_mark_all_on_messages_get_marks_the_chat_read(wappi, customer):
    customer(CUSTOMER, "Сколько стоит?")
    customer(CUSTOMER, "И доставка?")

    wappi.get("api/sync/messages/get", chat_id=CUSTOMER, mark_all="true")

    assert not SandboxMessage.objects.filter(is_read=False).exists()


def test_mark_read_marks_one_message_or_with_mark_all_the_whole_chat(wappi, customer):
    first = customer(CUSTOMER, "Первое")["message"]["id"]
    second = customer(CUSTOMER, "Второе")["message"]["id"]

    answer = wappi.post("api/sync/message/mark/read", {"message_id": first})
    assert answer.status_code == 200
    assert answer.json()["status"] == "done"
    assert set(SandboxMessage.objects.filter(is_read=True).values_list("message_id", flat=True)) == {first}

    wappi.post("api/sync/message/mark/read", {"message_id": second}, mark_all="true")
    assert not SandboxMessage.objects.filter(is_read=False).exists()


def test_messages_id_get_returns_one_message_of_any_chat(wappi, customer):
    incoming = customer(CUSTOMER, "Есть в наличии?")["message"]["id"]

    response = wappi.get("api/sync/messages/id/get", message_id=incoming)

    assert response.status_code == 200
    assert response.json()["message"]["id"] == incoming
    assert response.json()["message"]["body"] == "Есть в наличии?"
    assert wappi.get("api/sync/messages/id/get", message_id="3EB0NOPE").status_code == 400


def test_a_quoted_send_and_a_reply_carry_the_quoted_message(wappi, customer):
    question = customer(CUSTOMER, "Есть красный цвет?")["message"]["id"]

    quoted = wappi.send(CUSTOMER, "Да, есть", quoted_message_id=question)
    replied = wappi.post("api/sync/message/reply", {"body": "И синий тоже", "message_id": question}).json()

    messages = {m["id"]: m for m in wappi.get("api/sync/messages/get", chat_id=CUSTOMER).json()["messages"]}
    for answer in (quoted, replied):
        message = messages[answer["message_id"]]
        assert message["isReply"] is True
        assert message["stanzaId"] == question
        assert message["reply_message"]["id"] == question
        assert message["reply_message"]["body"] == "Есть красный цвет?"


@pytest.mark.parametrize(
    "body",
    [
        {"recipient": CUSTOMER},
        {"body": "", "recipient": CUSTOMER},
        {"body": "Привет"},
        {"body": "Привет", "recipient": "not a phone"},
        {"body": "Привет", "recipient": "120363025246125486@g.us"},
    ],
)
def test_a_send_without_text_or_a_usable_recipient_answers_400_and_stores_nothing(wappi, body):
    response = wappi.post("api/sync/message/send", body)
    assert response.status_code == 400
    assert response.json()["status"] == "error"
    assert not SandboxMessage.objects.exists()


def test_a_recipient_in_domestic_8_format_is_taken_literally_as_wappi_does(wappi):
    wappi.send("87011234567", "Привет")
    # The message went to a chat nobody has: it never reaches 77011234567.
    assert wappi.get("api/sync/messages/get", chat_id=CUSTOMER).status_code == 400


def test_messages_all_get_lists_every_chat_newest_first(wappi, customer):
    customer(CUSTOMER, "Первый клиент")
    wappi.send("77012223344", "Второму клиенту")

    page = wappi.get("api/sync/messages/all/get").json()

    assert [m["body"] for m in page["messages"]] == ["Второму клиенту", "Первый клиент"]
    assert page["total_count"] == 2
