"""chats/filter and chats/get list dialogs in Wappi's shape (wappi.md §3.2)."""

from __future__ import annotations

from datetime import datetime

CUSTOMER = "77011234567"


def test_chats_filter_shows_a_customers_chat_with_last_time_and_contact_name(wappi, customer):
    customer(CUSTOMER, "Здравствуйте", name="Айгерим")
    reply = wappi.send(CUSTOMER, "Добрый день!")

    response = wappi.get("api/sync/chats/filter")

    assert response.status_code == 200
    answer = response.json()
    assert answer["status"] == "done"
    assert answer["detail"] == "Chats fetched"
    assert answer["total_count"] == 1
    [dialog] = answer["dialogs"]
    assert dialog["id"] == f"{CUSTOMER}@c.us"
    assert dialog["isGroup"] is False
    assert dialog["contact"]["PushName"] == "Айгерим"
    assert dialog["contact"]["Found"] is True
    assert dialog["name"] == "Айгерим"
    assert dialog["last_message_id"] == reply["message_id"]
    assert dialog["last_message_type"] == "chat"
    assert dialog["last_message_data"] == "Добрый день!"
    assert dialog["last_message_sender"]["isMe"] is True
    assert dialog["unread_count"] == 1
    assert isinstance(dialog["last_time"], int)
    assert dialog["last_timestamp"].endswith("Z")
    assert datetime.fromisoformat(dialog["last_timestamp"]).timestamp() == dialog["last_time"]


def test_a_chat_with_an_unknown_name_is_named_by_its_number(wappi):
    wappi.send(CUSTOMER, "Добрый день!")
    [dialog] = wappi.get("api/sync/chats/filter").json()["dialogs"]
    assert dialog["contact"]["Found"] is False
    assert "+77011234567" in dialog["name"]


def test_chats_filter_matches_client_name_against_phone_name_and_last_message(wappi, customer):
    customer(CUSTOMER, "Нужен диван", name="Айгерим")
    customer("77012223344", "Нужна кровать", name="Болат")

    def ids(**params):
        return [d["id"] for d in wappi.get("api/sync/chats/filter", **params).json()["dialogs"]]

    assert ids(client_name="айгер") == [f"{CUSTOMER}@c.us"]
    assert ids(client_name="2223344") == ["77012223344@c.us"]
    assert ids(client_name="кровать") == ["77012223344@c.us"]
    assert ids() == ["77012223344@c.us", f"{CUSTOMER}@c.us"]


def test_chats_get_pages_dialogs_most_recent_first_by_get_and_post(wappi, customer):
    for n in range(3):
        customer(f"7701000000{n}", f"Клиент {n}")

    page = wappi.get("api/sync/chats/get", limit=2).json()
    rest = wappi.post("api/sync/chats/get", offset=2).json()
    filtered = wappi.post("api/sync/chats/get", {"filter": {"ids": ["77010000001@c.us"]}}).json()

    assert [d["id"] for d in page["dialogs"]] == ["77010000002@c.us", "77010000001@c.us"]
    assert [d["id"] for d in rest["dialogs"]] == ["77010000000@c.us"]
    assert page["total_count"] == rest["total_count"] == 3
    assert [d["id"] for d in filtered["dialogs"]] == ["77010000001@c.us"]


def test_the_product_marking_read_clears_the_unread_count(wappi, customer):
    message = customer(CUSTOMER, "Алло?")["message"]["id"]
    wappi.post("api/sync/message/mark/read", {"message_id": message}, mark_all="true")
    [dialog] = wappi.get("api/sync/chats/filter").json()["dialogs"]
    assert dialog["unread_count"] == 0
