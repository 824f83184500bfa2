"""Downloading the media of an inbound message from Wappi (fake, over real HTTP)."""

from __future__ import annotations

import base64

import pytest
from werkzeug import Response

from messaging.media import image_mime_type, media_download
from messaging.wappi import WappiMediaTooLargeError, WappiPermanentError
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


JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF" + bytes(2000)


def test_a_photo_over_the_callers_cap_is_refused_without_trying_media_download(fake_wappi):
    fake_wappi.server.expect_request("/files/big.jpg").respond_with_response(Response(JPEG, content_type="image/jpeg"))
    photo = InboundMessageFactory(media_type="image", media_url=fake_wappi.server.url_for("/files/big.jpg"))

    with pytest.raises(WappiMediaTooLargeError):
        media_download(message=photo, client=fake_wappi.client(), max_bytes=1000)

    assert not fake_wappi.calls_to("media/download")
    small = media_download(message=photo, client=fake_wappi.client(), max_bytes=len(JPEG))
    assert small.content == JPEG


def test_a_photo_over_the_cap_from_media_download_is_refused_too(fake_wappi):
    fake_wappi.server.expect_oneshot_request("/api/sync/message/media/download").respond_with_json(
        {"status": "done", "file_b64": base64.b64encode(JPEG).decode(), "mime_type": "image/jpeg"}
    )
    photo = InboundMessageFactory(media_type="image", provider_message_id="3EB0PHOTO")

    with pytest.raises(WappiMediaTooLargeError):
        media_download(message=photo, client=fake_wappi.client(), max_bytes=1000)


@pytest.mark.parametrize(
    ("head", "mime_type"),
    [
        (JPEG[:16], "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "image/png"),
        (b"RIFF\x10\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00", "image/heic"),
        (b"\x00\x00\x00\x18ftypmif1\x00\x00", "image/heif"),
        (OGG[:16], None),
        (b"<html><body>expired</body></html>", None),
    ],
)
def test_a_picture_is_recognised_by_its_first_bytes_not_its_label(head, mime_type):
    assert image_mime_type(head) == mime_type
