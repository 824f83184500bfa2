"""Photos and screenshots the customer sends: downloaded when an answer needs them (Wappi's links
expire), checked, and handed to the model as image parts.

The download is the channel's (messaging.media: the same allowed hosts and media-download
fallback as voice notes), bounded by IMAGE_MAX_BYTES; only files that are pictures the model
reads (by their first bytes) are shown. A picture that cannot be shown still reaches the model,
as a note saying why, so the answer can ask for it again or for a description.
"""

from __future__ import annotations

from collections.abc import Iterable

import structlog
from django.conf import settings

from ai.llm import Image
from messaging.media import image_mime_type, media_download
from messaging.models import Message
from messaging.wappi import WappiClient, WappiError, WappiMediaTooLargeError, client_from_settings
from project.lib.db import release_connection

log = structlog.get_logger(__name__)

IMAGE_TYPES = frozenset({"image"})
NOT_DOWNLOADED = "фото не удалось загрузить"
TOO_LARGE = "фото слишком большое, чтобы его показать"
NOT_A_PICTURE = "файл не похож на фото"
NOT_SHOWN = "фото не показано"


def message_is_image(message: Message) -> bool:
    return message.direction == Message.Direction.IN and message.media_type in IMAGE_TYPES


def image_caption(message: Message) -> str:
    """How an image message reads in the conversation: a marker, then its caption."""
    return f"[фото] {message.text.strip()}".strip()


def images_download(
    *, messages: Iterable[Message], cache: dict[int, Image], download: bool = True, client: WappiClient | None = None
) -> dict[int, Image]:
    """The pictures of `messages` (image messages), by message id, each downloaded once: those
    already in `cache` are not fetched again, the others are added to it. Never raises for a
    picture that cannot be had: its Image carries a note instead of bytes. Without `download`
    (no model could look at them) nothing is fetched: each is a note that a photo came."""
    wanted = {}
    for message in messages:
        if message.pk not in cache:
            if download:
                if client is None:
                    client = client_from_settings()
                    # Seconds of downloading that need no database (the model worker's pool).
                    release_connection()
                cache[message.pk] = _image(message, client)
            else:
                cache[message.pk] = Image(note=NOT_SHOWN)
        wanted[message.pk] = cache[message.pk]
    return wanted


def _image(message: Message, client: WappiClient) -> Image:
    try:
        media = media_download(
            message=message, client=client, default_mime="application/octet-stream", max_bytes=settings.IMAGE_MAX_BYTES
        )
    except WappiError as exc:
        too_large = isinstance(exc, WappiMediaTooLargeError)
        log.info("image.not_downloaded", message_id=message.pk, too_large=too_large, error=str(exc)[:300])
        return Image(note=TOO_LARGE if too_large else NOT_DOWNLOADED)
    mime_type = image_mime_type(media.content)
    if mime_type is None:
        log.info("image.not_a_picture", message_id=message.pk, labelled=media.mime_type, size=len(media.content))
        return Image(note=NOT_A_PICTURE)
    log.info("image.downloaded", message_id=message.pk, mime_type=mime_type, size=len(media.content))
    return Image(mime_type=mime_type, data=media.content)
