"""messaging.wappi against a local fake Wappi over real HTTP (pytest-httpserver)."""

from __future__ import annotations

import base64
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from messaging.wappi import (
    SANDBOX_PROFILE_ID,
    SANDBOX_TOKEN,
    MediaFile,
    SendResult,
    WappiAuthError,
    WappiClient,
    WappiPermanentError,
    WappiTimeoutError,
    WappiTransientError,
    client_from_settings,
)
from project.lib.locks import cache_lock

TOKEN = "0123456789abcdef0123456789abcdef"
PROFILE = "71ad40e9-b023"
DONE = {"status": "done", "timestamp": 1754200000, "time": "2026-08-03T12:00:00+03:00", "uuid": PROFILE}


@pytest.fixture
def client(httpserver: HTTPServer) -> WappiClient:
    return WappiClient(
        base_url=httpserver.url_for("/"), token=TOKEN, profile_id=PROFILE, timeout=2.0, media_timeout=2.0
    )


def only_request(httpserver: HTTPServer) -> Request:
    assert len(httpserver.log) == 1, [r.url for r, _ in httpserver.log]
    return httpserver.log[0][0]


def a_message(*, chat_id: str, message_id: str = "3EB0C4C1F9A6B2D1E0F3", body: str = "Сколько стоит?") -> dict:
    return {"id": message_id, "type": "chat", "chatId": chat_id, "fromMe": False, "time": 1754200000, "body": body}


class RecordingSingleFlight:
    """A real single_flight: records which slots were entered and which one is held right now."""

    def __init__(self) -> None:
        self.entered: list[str] = []
        self.held: str | None = None

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        self.entered.append(name)
        self.held = name
        try:
            yield
        finally:
            self.held = None


# Request shapes and success parsing


def test_get_status_sends_the_raw_token_and_profile_id_and_reports_a_healthy_profile(httpserver, client):
    httpserver.expect_request("/api/sync/get/status", method="GET").respond_with_json(
        {
            "app_status": "open",
            "authorized": True,
            "phone": "77012345678",
            "payment_expired_at": "2026-09-01T00:00:00Z",
            "uuid": PROFILE,
        }
    )

    status = client.get_status()

    request = only_request(httpserver)
    assert request.headers["Authorization"] == TOKEN
    assert request.args.to_dict() == {"profile_id": PROFILE}
    assert (status.authorized, status.app_status, status.phone) == (True, "open", "77012345678")
    assert status.payment_expired_at == "2026-09-01T00:00:00Z"
    assert status.healthy
    assert status.raw["uuid"] == PROFILE


def test_get_status_of_a_reconnecting_profile_is_not_healthy(httpserver, client):
    httpserver.expect_request("/api/sync/get/status").respond_with_json(
        {"app_status": "connecting", "authorized": True, "phone": "77012345678", "payment_expired_at": None}
    )

    status = client.get_status()

    assert not status.healthy
    assert status.payment_expired_at is None


def test_get_status_without_authorized_key_is_a_permanent_error(httpserver, client):
    httpserver.expect_request("/api/sync/get/status").respond_with_json({"app_status": "open"})

    with pytest.raises(WappiPermanentError, match="authorized"):
        client.get_status()


def test_chats_filter_passes_client_name_and_returns_the_dialogs(httpserver, client):
    dialogs = [{"id": "77472714618@c.us", "name": "Айгерим", "unread_count": 2}]
    httpserver.expect_request("/api/sync/chats/filter", method="GET").respond_with_json(
        {**DONE, "detail": "Chats fetched", "dialogs": dialogs, "total_count": 1}
    )

    result = client.chats_filter(client_name="Айгерим")

    request = only_request(httpserver)
    assert request.args.to_dict() == {"profile_id": PROFILE, "client_name": "Айгерим"}
    assert result == dialogs


def test_chats_filter_without_a_name_sends_only_the_profile_id(httpserver, client):
    httpserver.expect_request("/api/sync/chats/filter").respond_with_json({**DONE, "dialogs": [], "total_count": 0})

    assert client.chats_filter() == []

    assert only_request(httpserver).args.to_dict() == {"profile_id": PROFILE}


def test_chats_get_pages_with_limit_and_offset_and_returns_the_total(httpserver, client):
    dialogs = [{"id": f"7701234567{i}@c.us"} for i in range(3)]
    httpserver.expect_request("/api/sync/chats/get", method="GET").respond_with_json(
        {**DONE, "dialogs": dialogs, "total_count": 203}
    )

    result, total = client.chats_get(limit=200, offset=200)

    assert only_request(httpserver).args.to_dict() == {"profile_id": PROFILE, "limit": "200", "offset": "200"}
    assert (result, total) == (dialogs, 203)


def test_messages_get_asks_for_one_chat_without_marking_it_read(httpserver, client):
    messages = [a_message(chat_id="77012345678@c.us"), a_message(chat_id="77012345678@c.us", message_id="3A11")]
    httpserver.expect_request("/api/sync/messages/get", method="GET").respond_with_json(
        {**DONE, "messages": messages, "total_count": 2}
    )

    result = client.messages_get(chat_id="77012345678@c.us", limit=15, offset=0)

    assert only_request(httpserver).args.to_dict() == {
        "profile_id": PROFILE,
        "chat_id": "77012345678@c.us",
        "limit": "15",
        "offset": "0",
        "mark_all": "false",
    }
    assert result == messages


def test_messages_get_treats_s_whatsapp_net_and_bare_digits_as_the_same_person(httpserver, client):
    messages = [a_message(chat_id="77012345678@s.whatsapp.net"), a_message(chat_id="77012345678@c.us")]
    httpserver.expect_request("/api/sync/messages/get").respond_with_json({**DONE, "messages": messages})

    assert client.messages_get(chat_id="77012345678") == messages


def test_messages_get_raises_transient_when_the_answer_belongs_to_another_chat(httpserver, client):
    # Given Wappi hands us the answer of a concurrent call for another customer
    crossed = [a_message(chat_id="77012345678@c.us"), a_message(chat_id="77479998877@c.us", message_id="3A22")]
    httpserver.expect_request("/api/sync/messages/get").respond_with_json({**DONE, "messages": crossed})

    # When / then: nothing is returned and the caller may simply retry
    with pytest.raises(WappiTransientError, match=r"77479998877@c\.us") as caught:
        client.messages_get(chat_id="77012345678@c.us")
    assert caught.value.retryable


def test_messages_get_compares_group_ids_exactly(httpserver, client):
    messages = [a_message(chat_id="120363041234567890@g.us"), a_message(chat_id="120363049999999999@g.us")]
    httpserver.expect_request("/api/sync/messages/get").respond_with_json({**DONE, "messages": messages})

    with pytest.raises(WappiTransientError, match="crossed"):
        client.messages_get(chat_id="120363041234567890@g.us")


def test_messages_get_accepts_a_single_message_object_as_a_one_item_list(httpserver, client):
    message = a_message(chat_id="77012345678@c.us")
    httpserver.expect_request("/api/sync/messages/get").respond_with_json({**DONE, "messages": message})

    assert client.messages_get(chat_id="77012345678@c.us") == [message]


def test_message_get_returns_the_message_object(httpserver, client):
    message = a_message(chat_id="77012345678@c.us", message_id="3EB0AAAA")
    httpserver.expect_request("/api/sync/messages/id/get", method="GET").respond_with_json({**DONE, "message": message})

    assert client.message_get(message_id="3EB0AAAA") == message

    assert only_request(httpserver).args.to_dict() == {"profile_id": PROFILE, "message_id": "3EB0AAAA"}


def test_message_send_posts_json_to_the_normalised_recipient(httpserver, client):
    httpserver.expect_request("/api/sync/message/send", method="POST").respond_with_json(
        {**DONE, "message_id": "3EB0F1E2D3C4B5A69788", "task_id": "1c6a1f7e-task"}
    )

    result = client.message_send(recipient="8 (701) 234-56-78", body="Здравствуйте! Цена 15 000 ₸.")

    request = only_request(httpserver)
    assert request.headers["Authorization"] == TOKEN
    assert request.headers["Content-Type"] == "application/json"
    assert request.args.to_dict() == {"profile_id": PROFILE}
    assert request.get_json() == {"body": "Здравствуйте! Цена 15 000 ₸.", "recipient": "77012345678"}
    assert result == SendResult(message_id="3EB0F1E2D3C4B5A69788", task_id="1c6a1f7e-task")


def test_message_send_with_a_quote_passes_quoted_message_id(httpserver, client):
    httpserver.expect_request("/api/sync/message/send").respond_with_json({**DONE, "message_id": "3EB0BB"})

    result = client.message_send(recipient="77012345678@c.us", body="Да", quoted_message_id="3A99")

    assert only_request(httpserver).get_json() == {
        "body": "Да",
        "recipient": "77012345678",
        "quoted_message_id": "3A99",
    }
    assert result == SendResult(message_id="3EB0BB", task_id=None)


@pytest.mark.parametrize("recipient", ["120363041234567890@g.us", "123456789012345@lid", "not a phone"])
def test_message_send_to_something_that_is_not_a_phone_is_refused_without_a_request(httpserver, client, recipient):
    with pytest.raises(WappiPermanentError):
        client.message_send(recipient=recipient, body="Привет")

    assert httpserver.log == []


def test_message_reply_posts_the_body_and_quoted_message_id(httpserver, client):
    httpserver.expect_request("/api/sync/message/reply", method="POST").respond_with_json(
        {**DONE, "message_id": "3EB0CC", "task_id": "t-1"}
    )

    result = client.message_reply(message_id="3A99", body="Отвечаю на ваш вопрос")

    request = only_request(httpserver)
    assert request.args.to_dict() == {"profile_id": PROFILE}
    assert request.get_json() == {"body": "Отвечаю на ваш вопрос", "message_id": "3A99"}
    assert result == SendResult(message_id="3EB0CC", task_id="t-1")


def test_mark_read_posts_the_message_id_and_never_mark_all(httpserver, client):
    httpserver.expect_request("/api/sync/message/mark/read", method="POST").respond_with_json(DONE)

    client.mark_read(message_id="3A99")

    request = only_request(httpserver)
    assert request.args.to_dict() == {"profile_id": PROFILE}
    assert request.get_json() == {"message_id": "3A99"}


def test_webhook_url_set_puts_the_url_in_the_query_not_the_body(httpserver, client):
    httpserver.expect_request("/api/webhook/url/set", method="POST").respond_with_json(DONE)
    hook = "https://bot.example.kz/wappi/webhook?s=hook-secret"

    client.webhook_url_set(url=hook)

    request = only_request(httpserver)
    assert request.args.to_dict() == {"profile_id": PROFILE, "url": hook}
    assert request.get_data() == b""


def test_webhook_types_set_posts_a_json_array_of_type_names(httpserver, client):
    httpserver.expect_request("/api/webhook/types/set", method="POST").respond_with_json(DONE)

    client.webhook_types_set(types=["incoming_message", "outgoing_message_phone"])

    request = only_request(httpserver)
    assert request.args.to_dict() == {"profile_id": PROFILE}
    assert request.get_json() == ["incoming_message", "outgoing_message_phone"]


# Error mapping


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (400, {"detail": "Chat does not exist", "status": "error"}),
        (404, {"detail": "Not Found"}),
    ],
)
def test_a_400_or_404_is_a_permanent_error_carrying_the_detail(httpserver, client, status, body):
    httpserver.expect_request("/api/sync/messages/get").respond_with_json(body, status=status)

    with pytest.raises(WappiPermanentError) as caught:
        client.messages_get(chat_id="77012345678@c.us")

    error = caught.value
    assert type(error) is WappiPermanentError
    assert not error.retryable
    assert (error.status_code, error.detail, error.endpoint) == (status, body["detail"], "/api/sync/messages/get")


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (401, {"detail": "Unauthorized", "status": "error"}),
        (403, {"detail": "Forbidden", "status": "error"}),
        (400, {"detail": "Profile not found", "status": "error"}),
        (400, {"detail": "Invalid token", "status": "error"}),
        (200, {"detail": "Token is not valid", "status": "error"}),
    ],
)
def test_a_rejected_token_or_unknown_profile_is_an_auth_error(httpserver, client, status, body):
    httpserver.expect_request("/api/webhook/url/set").respond_with_json(body, status=status)

    with pytest.raises(WappiAuthError) as caught:
        client.webhook_url_set(url="https://bot.example.kz/hook")

    assert caught.value.status_code == status
    assert not caught.value.retryable


def test_a_429_is_transient_and_carries_retry_after(httpserver, client):
    httpserver.expect_request("/api/sync/chats/filter").respond_with_json(
        {"detail": "Too many requests", "status": "error"}, status=429, headers={"Retry-After": "7"}
    )

    with pytest.raises(WappiTransientError) as caught:
        client.chats_filter()

    assert type(caught.value) is WappiTransientError
    assert caught.value.retryable
    assert (caught.value.status_code, caught.value.retry_after) == (429, 7.0)


@pytest.mark.parametrize(
    ("status", "body", "content_type"),
    [
        (500, '{"detail": "Internal error", "status": "error"}', "application/json"),
        (502, "<html><body>502 Bad Gateway</body></html>", "text/html"),
    ],
)
def test_a_5xx_is_transient_even_with_an_html_body(httpserver, client, status, body, content_type):
    httpserver.expect_request("/api/sync/message/send").respond_with_data(
        body, status=status, content_type=content_type
    )

    with pytest.raises(WappiTransientError) as caught:
        client.message_send(recipient="77012345678", body="Здравствуйте")

    assert type(caught.value) is WappiTransientError
    assert (caught.value.status_code, caught.value.retry_after) == (status, None)


def test_a_send_without_an_answer_in_time_is_a_timeout_that_may_have_reached_wappi(httpserver):
    # Given Wappi takes longer to answer than the client waits
    release, handled = threading.Event(), threading.Event()

    def slow(_request: Request) -> Response:
        try:
            release.wait(timeout=10)
            return Response(json.dumps({**DONE, "message_id": "3EB0LATE"}), content_type="application/json")
        finally:
            handled.set()

    httpserver.expect_request("/api/sync/message/send").respond_with_handler(slow)
    impatient = WappiClient(base_url=httpserver.url_for("/"), token=TOKEN, profile_id=PROFILE, timeout=0.2)

    # When / then
    try:
        with pytest.raises(WappiTimeoutError) as caught:
            impatient.message_send(recipient="77012345678", body="Здравствуйте")
    finally:
        release.set()
        handled.wait(timeout=10)
    assert caught.value.retryable
    assert isinstance(caught.value, WappiTransientError)


def test_a_refused_connection_is_transient_and_not_a_timeout():
    # Given a port nobody listens on
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    closed = WappiClient(base_url=f"http://127.0.0.1:{port}", token=TOKEN, profile_id=PROFILE, timeout=2.0)

    with pytest.raises(WappiTransientError) as caught:
        closed.message_send(recipient="77012345678", body="Здравствуйте")

    assert not isinstance(caught.value, WappiTimeoutError)


def test_a_connection_dropped_after_the_request_was_sent_is_a_timeout_error():
    # Given a server that reads the request and hangs up without answering
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def hang_up() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)

    server = threading.Thread(target=hang_up, daemon=True)
    server.start()
    client = WappiClient(
        base_url=f"http://127.0.0.1:{listener.getsockname()[1]}", token=TOKEN, profile_id=PROFILE, timeout=2.0
    )

    # When / then: the send may have been delivered, so it must not look like a refused connection
    try:
        with pytest.raises(WappiTimeoutError):
            client.message_send(recipient="77012345678", body="Здравствуйте")
    finally:
        server.join(timeout=5)
        listener.close()


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ({"status": "error"}, "status 'error'"),
        ({"status": "queued", "message_id": "3EB0"}, "status 'queued'"),
        ({**DONE}, "lacks 'message_id'"),
        ({**DONE, "message_id": ""}, "lacks 'message_id'"),
    ],
)
def test_a_200_that_did_not_send_is_a_permanent_error(httpserver, client, body, match):
    httpserver.expect_request("/api/sync/message/send").respond_with_json(body)

    with pytest.raises(WappiPermanentError, match=match) as caught:
        client.message_send(recipient="77012345678", body="Здравствуйте")

    assert type(caught.value) is WappiPermanentError
    assert caught.value.status_code == 200


def test_invalid_json_is_a_permanent_error(httpserver, client):
    httpserver.expect_request("/api/sync/chats/get").respond_with_data(
        '{"status": "done", "dialogs": [', content_type="application/json"
    )

    with pytest.raises(WappiPermanentError, match="invalid JSON"):
        client.chats_get()


def test_the_token_never_shows_in_errors_or_the_client_repr(httpserver, client):
    httpserver.expect_request("/api/sync/get/status").respond_with_json({"detail": "Bad", "status": "error"}, 401)

    with pytest.raises(WappiAuthError) as caught:
        client.get_status()

    assert TOKEN not in str(caught.value)
    assert TOKEN not in repr(client)


# Media


def test_media_download_decodes_an_inline_file_b64(httpserver, client):
    voice = b"OggS\x00\x02voice-bytes"
    httpserver.expect_request("/api/sync/message/media/download", method="GET").respond_with_json(
        {**DONE, "file_b64": base64.b64encode(voice).decode(), "media_type": "ptt", "mime_type": "audio/ogg"}
    )

    media = client.media_download(message_id="3A11")

    assert only_request(httpserver).args.to_dict() == {"profile_id": PROFILE, "message_id": "3A11"}
    assert media == MediaFile(content=voice, file_link=None, mime_type="audio/ogg", file_name="")


def test_media_download_returns_a_file_link_without_fetching_it(httpserver, client):
    link = "https://wapi-uploads7d.storage.yandexcloud.net/71ad40e9-b023/a.ogg?X-Amz-Expires=604800"
    httpserver.expect_request("/api/sync/message/media/download").respond_with_json(
        {
            **DONE,
            "file_link": link,
            "file_link_expire": 1754804800,
            "file_name": "a.ogg",
            "media_type": "ptt",
            "mime_type": "audio/ogg; codecs=opus",
        }
    )

    media = client.media_download(message_id="3A11")

    assert media == MediaFile(content=None, file_link=link, mime_type="audio/ogg; codecs=opus", file_name="a.ogg")
    assert len(httpserver.log) == 1


def test_media_download_with_neither_shape_is_a_permanent_error(httpserver, client):
    httpserver.expect_request("/api/sync/message/media/download").respond_with_json({**DONE, "media_type": "ptt"})

    with pytest.raises(WappiPermanentError, match="neither file_b64 nor file_link"):
        client.media_download(message_id="3A11")


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "http://127.0.0.1:1/",
        "https://evil.example.com/voice.ogg",
        "http://wapi-uploads7d.storage.yandexcloud.net/voice.ogg",  # allowed host, but not https
        "https://wapi-uploads7d.storage.yandexcloud.net:6379/voice.ogg",  # allowed host, odd port
        "https://wapi-uploads7d.storage.yandexcloud.net@169.254.169.254/voice.ogg",
        "file:///etc/passwd",
    ],
)
def test_fetch_media_refuses_urls_outside_the_allowed_hosts_without_a_request(httpserver, url):
    # Given a client whose API host is "localhost" (so 127.0.0.1 is a different host)
    client = WappiClient(
        base_url=httpserver.url_for("/"),
        token=TOKEN,
        profile_id=PROFILE,
        media_hosts=["wapi-uploads7d.storage.yandexcloud.net"],
    )
    assert client.base_url.startswith("http://localhost:")

    with pytest.raises(WappiPermanentError, match="refused"):
        client.fetch_media(url=url)

    assert httpserver.log == []


def test_fetch_media_refuses_another_port_on_the_api_host_without_a_request(httpserver, client):
    # The sandbox API lives on 127.0.0.1:8000; Redis or PostgreSQL on the same host must stay out of reach.
    forged = httpserver.url_for("/").replace(f":{httpserver.port}/", ":6379/")

    with pytest.raises(WappiPermanentError, match="refused"):
        client.fetch_media(url=forged)

    assert httpserver.log == []


def test_fetch_media_downloads_from_the_api_host(httpserver, client):
    voice = b"OggS" + bytes(range(256)) * 40
    httpserver.expect_request("/media/3A11.ogg").respond_with_data(voice, content_type="audio/ogg")

    content = client.fetch_media(url=httpserver.url_for("/media/3A11.ogg?X-Amz-Signature=abc"))

    assert content == voice
    assert only_request(httpserver).args.to_dict() == {"X-Amz-Signature": "abc"}


def test_fetch_media_does_not_follow_a_redirect_to_an_internal_address(httpserver, client):
    httpserver.expect_request("/media/a.ogg").respond_with_data(
        "", status=302, headers={"Location": "http://169.254.169.254/latest/meta-data/"}
    )

    with pytest.raises(WappiPermanentError, match="refused"):
        client.fetch_media(url=httpserver.url_for("/media/a.ogg"))

    assert len(httpserver.log) == 1


def test_fetch_media_refuses_a_file_over_the_size_cap(httpserver):
    httpserver.expect_request("/media/big.ogg").respond_with_data(b"x" * 2048, content_type="audio/ogg")
    client = WappiClient(base_url=httpserver.url_for("/"), token=TOKEN, profile_id=PROFILE, media_max_bytes=1024)

    with pytest.raises(WappiPermanentError, match="cap"):
        client.fetch_media(url=httpserver.url_for("/media/big.ogg"))


def test_fetch_media_of_an_expired_link_is_permanent_and_not_an_auth_error(httpserver, client):
    httpserver.expect_request("/media/old.ogg").respond_with_data("<Error>AccessDenied</Error>", status=403)

    with pytest.raises(WappiPermanentError) as caught:
        client.fetch_media(url=httpserver.url_for("/media/old.ogg"))

    assert not isinstance(caught.value, WappiAuthError)
    assert caught.value.status_code == 403


# Single flight


def test_messages_get_and_media_download_hold_their_single_flight_slot_during_the_request(httpserver):
    # Given a recording single_flight and a fake that notes which slot is held when it is asked
    flight = RecordingSingleFlight()
    held_during_request: list[str | None] = []

    def answer(body: dict):
        def handler(_request: Request) -> Response:
            held_during_request.append(flight.held)
            return Response(json.dumps(body), content_type="application/json")

        return handler

    httpserver.expect_request("/api/sync/messages/get").respond_with_handler(
        answer({**DONE, "messages": [a_message(chat_id="77012345678@c.us")]})
    )
    httpserver.expect_request("/api/sync/message/media/download").respond_with_handler(
        answer({**DONE, "file_b64": base64.b64encode(b"voice").decode(), "mime_type": "audio/ogg"})
    )
    httpserver.expect_request("/api/sync/message/send").respond_with_handler(answer({**DONE, "message_id": "3EB0"}))
    client = WappiClient(base_url=httpserver.url_for("/"), token=TOKEN, profile_id=PROFILE, single_flight=flight)

    # When
    client.messages_get(chat_id="77012345678@c.us")
    client.media_download(message_id="3A11")
    client.message_send(recipient="77012345678", body="Здравствуйте")

    # Then: the two crossing-prone reads ran inside their slots, the send took none
    assert flight.entered == ["messages_get", "media_download"]
    assert held_during_request == ["messages_get", "media_download", None]
    assert flight.held is None


# client_from_settings


def test_client_from_settings_in_sandbox_mode_talks_to_the_emulator_with_sandbox_credentials(httpserver, settings):
    # Given the sandbox switched on and the emulator served by the fake
    settings.WAPPI_SANDBOX = True
    settings.WAPPI_SANDBOX_URL = httpserver.url_for("/sandbox/wappi")
    settings.WAPPI_TOKEN = ""
    httpserver.expect_request("/sandbox/wappi/api/sync/get/status").respond_with_json(
        {"app_status": "open", "authorized": True, "phone": "77000000001"}
    )

    # When
    client = client_from_settings()
    status = client.get_status()

    # Then
    request = only_request(httpserver)
    assert request.headers["Authorization"] == SANDBOX_TOKEN
    assert request.args.to_dict() == {"profile_id": SANDBOX_PROFILE_ID}
    assert status.healthy
    assert client.base_url == httpserver.url_for("/sandbox/wappi")
    assert (client.timeout, client.media_timeout) == (settings.WAPPI_TIMEOUT, settings.WAPPI_MEDIA_TIMEOUT)


def test_client_from_settings_uses_the_configured_account_and_reuses_one_client(httpserver, settings):
    settings.WAPPI_SANDBOX = False
    settings.WAPPI_BASE_URL = httpserver.url_for("/")
    settings.WAPPI_TOKEN = TOKEN
    settings.WAPPI_PROFILE_ID = PROFILE
    httpserver.expect_request("/api/sync/message/mark/read").respond_with_json(DONE)

    client = client_from_settings()
    client.mark_read(message_id="3A99")

    request = only_request(httpserver)
    assert request.headers["Authorization"] == TOKEN
    assert request.args.to_dict() == {"profile_id": PROFILE}
    assert client_from_settings() is client


def test_messages_get_gives_up_with_a_transient_error_while_another_process_holds_the_slot(httpserver, settings):
    # Given another process is in the middle of a messages/get for the sandbox profile
    settings.WAPPI_SANDBOX = True
    settings.WAPPI_SANDBOX_URL = httpserver.url_for("/")
    settings.WAPPI_TOKEN = ""
    settings.WAPPI_TIMEOUT = 0.1
    client = client_from_settings()

    with cache_lock(f"wappi:{SANDBOX_PROFILE_ID}:messages_get", ttl=30, wait=0):
        # When / then: it is not sent concurrently (Wappi would cross the answers)
        with pytest.raises(WappiTransientError, match="still running"):
            client.messages_get(chat_id="77012345678@c.us")

    assert httpserver.log == []
