"""Media of inbound messages: fetched from Wappi as soon as it is needed, because its links
expire. What is done with the bytes (a voice note's transcript, a photo the model looks at) is
the model layer's affair."""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from messaging.models import Message
from messaging.wappi import WappiClient, WappiError, WappiMediaTooLargeError

log = structlog.get_logger(__name__)

VOICE_MIME = "audio/ogg"


@dataclass(frozen=True)
class Media:
    content: bytes
    mime_type: str  # as Wappi labels it, parameters included ("audio/ogg; codecs=opus")


def media_download(
    *, message: Message, client: WappiClient, default_mime: str = VOICE_MIME, max_bytes: int | None = None
) -> Media:
    """The file attached to `message`: its stored link first, then Wappi's media-download
    call (which answers with the bytes or a fresh link) when the link has expired or is
    refused. A file without a type gets `default_mime` (voice notes: audio/ogg, as WhatsApp
    sends them). Links are fetched only from the allowed media hosts (WappiClient.fetch_media).

    Raises WappiTransientError when a retry may help (Wappi or its storage busy) and
    WappiPermanentError when it cannot (no such media, a forged link; WappiMediaTooLargeError
    for a file larger than `max_bytes`, by default the client's cap)."""
    if message.media_url:
        try:
            return Media(client.fetch_media(url=message.media_url, max_bytes=max_bytes), default_mime)
        except WappiMediaTooLargeError:
            raise  # the same file by another way is no smaller
        except WappiError as exc:
            # An expired or refused link: the media-download call is the fallback.
            log.info("media.link_failed", message_id=message.pk, error=str(exc))
    media = client.media_download(message_id=message.provider_message_id or "")
    # The client guarantees one of the two (neither is a WappiPermanentError).
    if media.content is not None:
        if max_bytes is not None and len(media.content) > max_bytes:
            raise WappiMediaTooLargeError(
                f"media download: {len(media.content)} bytes exceeds the {max_bytes} byte cap", endpoint="media"
            )
        return Media(media.content, media.mime_type or default_mime)
    content = client.fetch_media(url=media.file_link or "", max_bytes=max_bytes)
    return Media(content, media.mime_type or default_mime)


# The picture formats the model reads (Gemini: PNG, JPEG, WEBP, HEIC, HEIF), by their first bytes:
# a file's label (a link has none; Wappi's may be wrong) is not trusted.
_IMAGE_SIGNATURES = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
)


def image_mime_type(content: bytes) -> str | None:
    """The image type of `content` by its signature, None when it is no picture the model reads."""
    for signature, mime_type in _IMAGE_SIGNATURES:
        if content.startswith(signature):
            return mime_type
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "image/webp"
    if content[4:8] == b"ftyp":
        brand = content[8:12]
        if brand in (b"heic", b"heix", b"hevc", b"hevx"):
            return "image/heic"
        if brand in (b"mif1", b"msf1"):
            return "image/heif"
    return None
