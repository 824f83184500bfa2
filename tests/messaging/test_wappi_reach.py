"""The Wappi client's contact check and typing indicator, against a local HTTP server in Wappi's
wire format (reference/wappi.md §3: `contact/check` -> `on_whatsapp`, `chat/typing/start`)."""

from __future__ import annotations

import json

import pytest
from pytest_httpserver import HTTPServer

from messaging.wappi import WappiClient, WappiPermanentError

TOKEN = "0123456789abcdef0123456789abcdef"
PROFILE = "71ad40e9-b023"
DONE = {"status": "done", "timestamp": 1754200000, "time": "2026-08-03T12:00:00+03:00"}


@pytest.fixture
def client(httpserver: HTTPServer) -> WappiClient:
    return WappiClient(base_url=httpserver.url_for("/"), token=TOKEN, profile_id=PROFILE, timeout=2.0)


@pytest.mark.parametrize("on_whatsapp", [True, False])
def test_contact_check_asks_for_the_bare_number_and_reads_on_whatsapp(httpserver, client, on_whatsapp):
    httpserver.expect_request("/api/sync/contact/check").respond_with_json(
        {**DONE, "on_whatsapp": on_whatsapp, "phone": "77012345678"}
    )

    assert client.contact_check(phone="8 (701) 234-56-78") is on_whatsapp

    [(request, _)] = httpserver.log
    assert request.args["phone"] == "77012345678"
    assert request.args["profile_id"] == PROFILE
    assert request.headers["Authorization"] == TOKEN


@pytest.mark.parametrize("answer", [{}, {"on_whatsapp": "yes"}, {"on_whatsapp": None}])
def test_a_contact_check_without_a_boolean_answer_is_never_taken_for_yes(httpserver, client, answer):
    httpserver.expect_request("/api/sync/contact/check").respond_with_json({**DONE, **answer})

    with pytest.raises(WappiPermanentError, match="on_whatsapp"):
        client.contact_check(phone="77012345678")


def test_a_contact_check_of_something_that_is_not_a_phone_makes_no_request(httpserver, client):
    with pytest.raises(WappiPermanentError):
        client.contact_check(phone="120363000000000000@g.us")
    assert httpserver.log == []


def test_typing_start_posts_the_bare_recipient(httpserver, client):
    httpserver.expect_request("/api/sync/chat/typing/start", method="POST").respond_with_json(DONE)

    client.typing_start(recipient="77012345678@c.us")

    [(request, _)] = httpserver.log
    assert json.loads(request.data) == {"recipient": "77012345678"}
