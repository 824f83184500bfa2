from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client

from messaging.wappi import SANDBOX_PROFILE_ID, SANDBOX_TOKEN

API = "/sandbox/wappi/"


class WappiCaller:
    """Calls the emulated API the way Wappi's clients do: raw token header, profile_id in the query."""

    def __init__(
        self, client: Client, *, token: str | None = SANDBOX_TOKEN, profile_id: str | None = SANDBOX_PROFILE_ID
    ):
        self.client = client
        self.token = token
        self.profile_id = profile_id

    def _url(self, path: str, params: dict[str, Any]) -> str:
        query = {"profile_id": self.profile_id, **params} if self.profile_id is not None else params
        return f"{API}{path}?{urlencode(query)}" if query else f"{API}{path}"

    def _headers(self) -> dict[str, str]:
        return {"Authorization": self.token} if self.token is not None else {}

    def get(self, path: str, **params: Any):
        return self.client.get(self._url(path, params), headers=self._headers())

    def post(self, path: str, body: Any = None, **params: Any):
        data = json.dumps(body) if body is not None else ""
        return self.client.post(
            self._url(path, params), data=data, content_type="application/json", headers=self._headers()
        )

    def send(self, recipient: str, body: str, **extra: Any) -> dict[str, Any]:
        response = self.post("api/sync/message/send", {"body": body, "recipient": recipient, **extra})
        assert response.status_code == 200, response.content
        return response.json()

    def control(self, **switches: Any) -> dict[str, Any]:
        response = self.client.post(
            f"{API}_control", data=json.dumps(switches), content_type="application/json", headers=self._headers()
        )
        assert response.status_code == 200, response.content
        return response.json()


@pytest.fixture(autouse=True)
def _sandbox_on(settings):
    settings.WAPPI_SANDBOX = True
    settings.WAPPI_SANDBOX_URL = "http://testserver/sandbox/wappi"


@pytest.fixture
def wappi(client: Client, db) -> WappiCaller:
    return WappiCaller(client)


@pytest.fixture
def customer(client: Client, db):
    """The operator on the chat page, playing a customer: returns a function that sends a message."""

    def send(phone: str, body: str = "", *, name: str = "Айгерим", voice: bool = False) -> dict[str, Any]:
        response = client.post(
            "/sandbox/chat/send",
            data=json.dumps({"phone": phone, "name": name, "body": body, "voice": voice}),
            content_type="application/json",
        )
        assert response.status_code == 200, response.content
        return response.json()

    return send


@pytest.fixture
def live_api(live_server, settings, transactional_db) -> Iterator[str]:
    """The emulator over real HTTP: yields its base URL (what WAPPI_SANDBOX_URL names)."""
    settings.WAPPI_SANDBOX_URL = f"{live_server.url}/sandbox/wappi"
    yield settings.WAPPI_SANDBOX_URL
    # A delayed answer may still be running when the test ends; its thread holds a database
    # connection that must be closed before the tables are flushed and the database dropped.
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and "process_request_thread" in thread.name:
            thread.join(timeout=10)


@pytest.fixture(autouse=True)
def _staff_operator(client, admin_user):
    """Tests run with DEBUG off, where the chat page is for logged-in staff: play one."""
    client.force_login(admin_user)
