"""The product's own Wappi client (messaging.wappi) runs unchanged against the sandbox over real HTTP."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
import requests

from messaging.wappi import SANDBOX_PROFILE_ID, SANDBOX_TOKEN, WappiClient, WappiPermanentError, WappiTransientError
from sandbox.wappi.voice import SAMPLES_DIR, VOICE_SAMPLE

CUSTOMER = "77011234567"


@pytest.fixture
def gateway(live_api: str) -> Iterator[WappiClient]:
    with requests.Session() as session:
        yield WappiClient(
            base_url=live_api, token=SANDBOX_TOKEN, profile_id=SANDBOX_PROFILE_ID, timeout=5, session=session
        )
    # A response kept by an exception's traceback (pytest.raises) keeps its keep-alive socket
    # open, and with it a live server thread and that thread's database connection: collect it,
    # so the server side ends with the test and the test database can be dropped at the end.
    gc.collect()


@pytest.fixture
def control(live_api: str):
    def apply(**switches) -> dict:
        response = requests.post(
            f"{live_api}/_control", json=switches, headers={"Authorization": SANDBOX_TOKEN}, timeout=5
        )
        response.raise_for_status()
        return response.json()

    return apply


def test_the_client_sees_a_healthy_profile_and_sends_a_message_it_can_read_back(gateway):
    assert gateway.get_status().healthy

    sent = gateway.message_send(recipient="+7 701 123 45 67", body="Здравствуйте!")

    [message] = gateway.messages_get(chat_id=f"{CUSTOMER}@c.us")
    assert message["id"] == sent.message_id
    assert gateway.message_get(message_id=sent.message_id)["body"] == "Здравствуйте!"
    [dialog] = gateway.chats_filter()
    assert dialog["id"] == f"{CUSTOMER}@c.us"


def test_the_client_downloads_a_customers_voice_note_by_link_and_by_base64(gateway, control):
    voice = control(customer_message={"phone": CUSTOMER, "name": "Айгерим", "voice": True})["message"]
    sample = (SAMPLES_DIR / VOICE_SAMPLE).read_bytes()

    linked = gateway.media_download(message_id=voice["id"])
    assert gateway.fetch_media(url=linked.file_link) == sample
    assert gateway.fetch_media(url=voice["s3Info"]["url"]) == sample

    control(media_mode="b64")
    assert gateway.media_download(message_id=voice["id"]).content == sample


def test_the_clients_error_classes_match_the_sandboxs_faults(gateway, control):
    control(customer_message={"phone": CUSTOMER, "body": "Привет"}, failing_chats=[CUSTOMER])
    with pytest.raises(WappiPermanentError) as failing:
        gateway.messages_get(chat_id=CUSTOMER)
    assert failing.value.status_code == 400

    for status in (429, 502):
        control(fail_next_count=1, fail_status=status)
        with pytest.raises(WappiTransientError):
            gateway.get_status()


def test_the_client_refuses_a_crossed_messages_get(gateway, control):
    control(customer_message={"phone": CUSTOMER, "body": "Я первый"})
    control(customer_message={"phone": "77012223344", "body": "Я второй"}, cross_messages_get=True)

    with pytest.raises(WappiTransientError, match="crossed"):
        gateway.messages_get(chat_id=CUSTOMER)
