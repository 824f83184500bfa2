"""Media of inbound messages: fetched from Wappi as soon as it is needed, because its links
expire. What is done with the bytes (a voice note's transcript) is the model layer's affair."""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from messaging.models import Message
from messaging.wappi import WappiClient, WappiError

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Media:
    content: bytes
    mime_type: str  # as Wappi labels it, parameters included ("audio/ogg; codecs=opus")


def media_download(*, message: Message, client: WappiClient) -> Media:
    """The file attached to `message`: its stored link first, then Wappi's media-download
    call (which answers with the bytes or a fresh link) when the link has expired or is
    refused. Voice notes without a type default to audio/ogg, as WhatsApp sends them.

    Raises WappiTransientError when a retry may help (Wappi or its storage busy) and
    WappiPermanentError when it cannot (no such media, a forged link)."""
    if message.media_url:
        try:
            return Media(client.fetch_media(url=message.media_url), "audio/ogg")
        except WappiError as exc:
            # An expired or refused link: the media-download call is the fallback.
            log.info("media.link_failed", message_id=message.pk, error=str(exc))
    media = client.media_download(message_id=message.provider_message_id or "")
    # The client guarantees one of the two (neither is a WappiPermanentError).
    if media.content is not None:
        return Media(media.content, media.mime_type or "audio/ogg")
    return Media(client.fetch_media(url=media.file_link or ""), media.mime_type or "audio/ogg")
