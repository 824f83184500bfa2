"""Fault switches reproduce the real Wappi's failures (wappi.md §7, §10) for tests of our gateway."""

from __future__ import annotations

import pytest
import requests

from messaging.wappi import SANDBOX_PROFILE_ID, SANDBOX_TOKEN
from sandbox.wappi.models import SandboxChat, SandboxMessage, SandboxProfile

CUSTOMER, OTHER = "77011234567", "77012223344"


def test_a_failing_chat_answers_400_chat_not_found_while_others_work(wappi, customer):
    customer(CUSTOMER, "Привет")
    customer(OTHER, "Добрый день")

    wappi.control(failing_chats=["+7 701 123 45 67"])

    failed = wappi.get("api/sync/messages/get", chat_id=f"{CUSTOMER}@c.us")
    assert failed.status_code == 400
    assert failed.json() == {"detail": "chat not found", "status": "error"}
    assert wappi.get("api/sync/messages/get", chat_id=OTHER).status_code == 200


@pytest.mark.parametrize("status", [429, 500])
def test_the_next_n_responses_fail_with_the_given_status_then_the_api_recovers(wappi, status):
    wappi.control(fail_next_count=2, fail_status=status)

    statuses = [wappi.get("api/sync/get/status").status_code for _ in range(3)]

    assert statuses == [status, status, 200]
    assert SandboxProfile.objects.get().fail_next_count == 0


def test_a_failed_response_has_wappis_error_body_and_a_send_it_refused_stores_nothing(wappi):
    wappi.control(fail_next_count=1, fail_status=429)

    response = wappi.post("api/sync/message/send", {"body": "Привет", "recipient": CUSTOMER})

    assert response.status_code == 429
    assert response.json() == {"detail": "Too Many Requests", "status": "error"}
    assert not SandboxMessage.objects.exists()


def test_gateway_errors_come_as_nginx_html_not_json(wappi):
    wappi.control(fail_next_count=1, fail_status=502)

    response = wappi.get("api/sync/chats/filter")

    assert response.status_code == 502
    assert response["Content-Type"].startswith("text/html")
    assert b"502 Bad Gateway" in response.content


def test_failing_responses_never_hit_the_control_endpoint(wappi):
    wappi.control(fail_next_count=5, fail_status=502)
    assert wappi.control(fail_next_count=0)["state"]["fail_next_count"] == 0
    assert wappi.get("api/sync/get/status").status_code == 200


def test_crossed_messages_get_answers_with_another_chats_messages(wappi, customer):
    customer(CUSTOMER, "Я первый клиент")
    customer(OTHER, "А я второй")
    wappi.control(cross_messages_get=True)

    [message] = wappi.get("api/sync/messages/get", chat_id=CUSTOMER).json()["messages"]

    assert message["chatId"] == f"{OTHER}@c.us"
    assert message["body"] == "А я второй"


def test_media_mode_switches_the_media_download_shape(wappi, customer):
    voice = customer(CUSTOMER, voice=True)["message"]["id"]

    assert "file_link" in wappi.get("api/sync/message/media/download", message_id=voice).json()
    wappi.control(media_mode="b64")
    assert "file_b64" in wappi.get("api/sync/message/media/download", message_id=voice).json()
    wappi.control(media_mode="link")
    assert "file_link" in wappi.get("api/sync/message/media/download", message_id=voice).json()


def test_a_delayed_send_times_out_for_the_client_yet_reaches_whatsapp(live_api):
    api = live_api
    auth = {"Authorization": SANDBOX_TOKEN}
    params = {"profile_id": SANDBOX_PROFILE_ID}
    requests.post(f"{api}/_control", json={"send_delay_seconds": 0.8}, headers=auth, timeout=5).raise_for_status()

    with pytest.raises(requests.Timeout):
        requests.post(
            f"{api}/api/sync/message/send",
            params=params,
            json={"body": "Ваш счёт готов", "recipient": CUSTOMER},
            headers=auth,
            timeout=0.3,
        )

    page = requests.get(
        f"{api}/api/sync/messages/get", params={**params, "chat_id": CUSTOMER}, headers=auth, timeout=5
    ).json()
    assert [m["body"] for m in page["messages"]] == ["Ваш счёт готов"]


def test_duplicate_webhooks_posts_every_event_twice(wappi, customer, httpserver, django_capture_on_commit_callbacks):
    wappi.post("api/webhook/url/set", url=httpserver.url_for("/hook"))
    wappi.control(duplicate_webhooks=True)
    httpserver.expect_ordered_request("/hook", method="POST").respond_with_data("ok")
    httpserver.expect_ordered_request("/hook", method="POST").respond_with_data("ok")

    with httpserver.wait(timeout=5) as waiting, django_capture_on_commit_callbacks(execute=True):
        customer(CUSTOMER, "Привет")

    assert waiting.result
    first, second = (request.get_json() for request, _ in httpserver.log)
    assert first == second


def test_control_reset_forgets_chats_and_restores_defaults(wappi, customer):
    customer(CUSTOMER, "Привет")
    wappi.control(cross_messages_get=True, media_mode="b64", webhook_url="http://example.com/hook")

    state = wappi.control(reset=True)["state"]

    assert not SandboxChat.objects.exists()
    assert state["cross_messages_get"] is False
    assert state["media_mode"] == "link"
    assert state["webhook_url"] == ""
    assert state["webhook_types"] == ["authorization_status", "incoming_message", "delivery_status"]


def test_control_can_play_a_customer_for_tests_without_the_page(wappi):
    answer = wappi.control(customer_message={"phone": "8 701 123 45 67", "name": "Болат", "body": "Есть скидки?"})

    assert answer["message"]["chatId"] == f"{CUSTOMER}@c.us"
    assert answer["message"]["senderName"] == "Болат"
    assert wappi.get("api/sync/messages/get", chat_id=CUSTOMER).json()["total_count"] == 1


@pytest.mark.parametrize(
    "body",
    [
        {"fail_next": 3},
        {"fail_status": 200},
        {"media_mode": "base64"},
        {"cross_messages_get": "yes"},
        {"send_delay_seconds": -1},
        {"failing_chats": "77011234567"},
        {"customer_message": {"phone": "abc", "body": "x"}},
    ],
)
def test_control_refuses_unknown_keys_and_bad_values(wappi, body):
    response = wappi.client.post(
        "/sandbox/wappi/_control", data=body, content_type="application/json", headers={"Authorization": SANDBOX_TOKEN}
    )
    assert response.status_code == 400
    assert response.json()["status"] == "error"


def test_control_needs_the_sandbox_token(client, db):
    assert client.post("/sandbox/wappi/_control", headers={"Authorization": "nope"}).status_code == 401
    assert client.post("/sandbox/wappi/_control").status_code == 401
    response = client.get("/sandbox/wappi/_control", headers={"Authorization": SANDBOX_TOKEN})
    assert response.status_code == 200
    assert response.json()["state"]["fail_next_count"] == 0
