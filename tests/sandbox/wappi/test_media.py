"""Voice notes: media/download answers file_link or file_b64 (wappi.md §3.11), and the link serves the bytes."""

from __future__ import annotations

import base64
from urllib.parse import urlsplit

from sandbox.wappi.voice import SAMPLES_DIR, VOICE_SAMPLE

CUSTOMER = "77011234567"
SAMPLE = (SAMPLES_DIR / VOICE_SAMPLE).read_bytes()


def test_the_bundled_sample_is_a_small_ogg_opus_file():
    assert SAMPLE[:4] == b"OggS"
    assert b"OpusHead" in SAMPLE[:100]
    assert len(SAMPLE) < 60_000


def test_a_voice_note_in_messages_get_is_a_ptt_with_a_playable_s3_link(wappi, customer):
    voice = customer(CUSTOMER, voice=True)["message"]["id"]

    [message] = wappi.get("api/sync/messages/get", chat_id=CUSTOMER).json()["messages"]

    assert message["id"] == voice
    assert message["type"] == "ptt"
    assert message["mimetype"] == "audio/ogg; codecs=opus"
    assert isinstance(message["body"], dict)
    assert message["s3Info"]["url"] == f"http://testserver/sandbox/wappi/files/{voice}.ogg"
    assert message["s3Info"]["expire"] > message["time"]


def test_media_download_answers_a_file_link_by_default_and_the_link_serves_the_ogg(wappi, customer, client):
    voice = customer(CUSTOMER, voice=True)["message"]["id"]

    response = wappi.get("api/sync/message/media/download", message_id=voice)

    assert response.status_code == 200
    answer = response.json()
    assert answer["status"] == "done"
    assert answer["mime_type"] == "audio/ogg; codecs=opus"
    assert answer["file_name"].endswith(".ogg")
    assert answer["file_link_expire"] > answer["timestamp"]
    assert "file_b64" not in answer
    link = urlsplit(answer["file_link"])
    assert link.netloc == "testserver"
    audio = client.get(link.path)  # like a presigned URL: no Authorization header
    assert audio.status_code == 200
    assert audio["Content-Type"] == "audio/ogg"
    assert audio.content == SAMPLE


def test_media_download_answers_file_b64_in_b64_mode(wappi, customer):
    voice = customer(CUSTOMER, voice=True)["message"]["id"]
    wappi.control(media_mode="b64")

    answer = wappi.get("api/sync/message/media/download", message_id=voice).json()

    assert answer["status"] == "done"
    assert "file_link" not in answer
    assert base64.b64decode(answer["file_b64"]) == SAMPLE
    assert answer["mime_type"] == "audio/ogg; codecs=opus"


def test_media_download_of_a_text_message_or_an_unknown_id_answers_400(wappi, customer, client):
    text = customer(CUSTOMER, "Просто текст")["message"]["id"]
    assert wappi.get("api/sync/message/media/download", message_id=text).status_code == 400
    assert wappi.get("api/sync/message/media/download", message_id="3A0000").status_code == 400
    assert client.get(f"/sandbox/wappi/files/{text}.ogg").status_code == 404
