"""With a real Wappi configured (WAPPI_SANDBOX off) nothing of the sandbox is reachable."""

from __future__ import annotations

import pytest

from messaging.wappi import SANDBOX_PROFILE_ID, SANDBOX_TOKEN

URLS = [
    ("get", "/sandbox/"),
    ("post", "/sandbox/"),
    ("get", "/sandbox/chat/conversation?phone=77011234567"),
    ("post", "/sandbox/chat/send"),
    ("get", "/sandbox/wappi/api/sync/get/status"),
    ("get", "/sandbox/wappi/api/sync/chats/filter"),
    ("post", "/sandbox/wappi/api/sync/chats/get"),
    ("get", "/sandbox/wappi/api/sync/messages/get?chat_id=77011234567"),
    ("get", "/sandbox/wappi/api/sync/messages/id/get?message_id=3EB0"),
    ("post", "/sandbox/wappi/api/sync/message/send"),
    ("get", "/sandbox/wappi/api/sync/message/send"),
    ("post", "/sandbox/wappi/api/sync/message/reply"),
    ("post", "/sandbox/wappi/api/sync/message/mark/read"),
    ("get", "/sandbox/wappi/api/sync/message/media/download?message_id=3EB0"),
    ("post", "/sandbox/wappi/api/webhook/url/set?url=http://example.com"),
    ("get", "/sandbox/wappi/api/webhook/url/get"),
    ("post", "/sandbox/wappi/api/webhook/types/set"),
    ("get", "/sandbox/wappi/files/3A0011223344556677.ogg"),
    ("post", "/sandbox/wappi/_control"),
    ("get", "/sandbox/wappi/_control"),
    ("get", "/sandbox/wappi/no/such/path"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "url"), URLS)
def test_every_sandbox_url_answers_404_when_the_sandbox_is_off(client, settings, method, url):
    settings.WAPPI_SANDBOX = False
    separator = "&" if "?" in url else "?"
    full = f"{url}{separator}profile_id={SANDBOX_PROFILE_ID}"

    response = getattr(client, method)(
        full,
        data='{"body": "x", "recipient": "77011234567"}' if method == "post" else None,
        content_type="application/json",
        headers={"Authorization": SANDBOX_TOKEN},
    )

    assert response.status_code == 404


@pytest.mark.django_db
def test_nothing_is_stored_by_a_send_while_the_sandbox_is_off(client, settings):
    from sandbox.wappi.models import SandboxMessage

    settings.WAPPI_SANDBOX = False
    client.post(
        f"/sandbox/wappi/api/sync/message/send?profile_id={SANDBOX_PROFILE_ID}",
        data='{"body": "x", "recipient": "77011234567"}',
        content_type="application/json",
        headers={"Authorization": SANDBOX_TOKEN},
    )
    assert not SandboxMessage.objects.exists()


@pytest.mark.django_db
def test_without_debug_the_chat_page_is_for_logged_in_staff_only(client, settings):
    from django.test import Client

    settings.DEBUG = False
    settings.WAPPI_SANDBOX = True
    stranger = Client()
    page = stranger.get("/sandbox/")
    assert page.status_code == 302
    assert "/admin/login/" in page["Location"]
    send = stranger.post(
        "/sandbox/chat/send", data='{"phone": "+77015554433", "body": "x"}', content_type="application/json"
    )
    assert send.status_code == 403
    assert client.get("/sandbox/").status_code == 200  # the staff operator of the conftest
