"""Downloading the media of an inbound message from Wappi (fake, over real HTTP)."""

from __future__ import annotations

import base64

import pytest
from werkzeug import Response

from messaging.media import media_download
from messaging.wappi import WappiPermanentError
from tests.factories import InboundMessageFactory

pytestmark = pytest.mark.django_db

OGG = b"OggS\x00\x02" + bytes(range(100))


def test_a_note_is_fetched_from_its_own_link(fake_wappi):
    fake_wappi.server.expect_request("/files/note.ogg").respond_with_response(Response(OGG, content_type="audio/ogg"))
    note = InboundMessageFactory(is_voice=True, media_url=fake_wappi.server.url_for("/files/note.ogg"))

    media = media_download(message=note, client=fake_wappi.client())

    assert (media.content, media.mime_type) == (OGG, "audio/ogg")
    assert not fake_wappi.calls_to("media/download")


def test_an_expired_link_falls_back_to_wappis_media_download(fake_wappi):
    fake_wappi.server.expect_request("/files/gone.ogg").respond_with_response(Response(b"", status=403))
    fake_wappi.server.expect_oneshot_request("/api/sync/message/media/download").respond_with_json(
        {"status": "done", "file_b64": base64.b64encode(OGG).decode(), "mime_type": "audio/ogg; codecs=opus"}
    )
    note = InboundMessageFactory(
        is_voice=True, provider_message_id="3EB0VOICE", media_url=fake_wappi.server.url_for("/files/gone.ogg")
    )

    media = media_download(message=note, client=fake_wappi.client())

    assert (media.content, media.mime_type) == (OGG, "audio/ogg; codecs=opus")
    download = fake_wappi.server.log[-1][0]
    assert download.args["message_id"] == "3EB0VOICE"


def test_media_wappi_cannot_find_is_a_permanent_failure(fake_wappi):
    fake_wappi.server.expect_oneshot_request("/api/sync/message/media/download").respond_with_json(
        {"status": "error", "detail": "message not found"}, status=404
    )
    note = InboundMessageFactory(is_voice=True, provider_message_id="3EB0NONE")

    with pytest.raises(WappiPermanentError):
        media_download(message=note, client=fake_wappi.client())
