"""A contact's conversation as the model reads it: customer messages are `user` turns, ours
(bot and operator) are `model` turns, oldest first, consecutive messages of one side joined.
Each message reaches the model cut to LLM_MAX_MESSAGE_CHARS (`model_text`): a customer pasting a
book costs what a long question costs; the stored message stays whole."""

from __future__ import annotations

from django.conf import settings

from ai.images import image_caption, images_download, message_is_image
from ai.llm import ContactCard, Image, Turn
from ai.rules.language import conversation_language
from contacts.models import Contact
from messaging.models import Message
from messaging.selectors import conversation_recent, customer_texts_recent


def conversation_turns(
    *, contact: Contact, limit: int, images: dict[int, Image] | None = None, download_images: bool = True
) -> list[Turn]:
    """The last `limit` messages as turns. A photo reads as "[фото]" and its caption; given
    `images` (a cache by message id, filled here), the photos the customer sent since our last
    answer (the open burst, at most IMAGE_MAX_PER_REPLY, the newest) also travel as pictures
    (ai.images downloads them; without `download_images`, as notes that a photo came). The
    photos "since our last answer" stay so after an outage's fallback line, so the late answer
    sees them too."""
    messages = conversation_recent(contact=contact, limit=limit)
    shown: dict[int, Image] = {}
    if images is not None and settings.IMAGE_MAX_PER_REPLY:
        fresh = [m for m in _since_our_last_answer(messages) if message_is_image(m)]
        shown = images_download(messages=fresh[-settings.IMAGE_MAX_PER_REPLY :], cache=images, download=download_images)
    turns: list[Turn] = []
    for message in messages:
        text = model_text(image_caption(message) if message_is_image(message) else message.display_text.strip())
        if not text or (message.direction == Message.Direction.OUT and message.status == Message.Status.FAILED):
            continue  # nothing said, or never delivered: not part of what the customer saw
        role = "user" if message.direction == Message.Direction.IN else "model"
        pictures = (shown[message.pk],) if message.pk in shown else ()
        if turns and turns[-1].role == role:
            last = turns[-1]
            turns[-1] = Turn(role=role, text=f"{last.text}\n{text}", images=(*last.images, *pictures))
        else:
            turns.append(Turn(role=role, text=text, images=pictures))
    # A conversation the model reads starts with the customer.
    while turns and turns[0].role == "model":
        turns.pop(0)
    return turns


def _since_our_last_answer(messages: list[Message]) -> list[Message]:
    """The messages after our last message the customer saw that answered them (a fallback line
    during an outage does not count: the real answer is still to come)."""
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if (
            message.direction == Message.Direction.OUT
            and message.status != Message.Status.FAILED
            and message.purpose != Message.Purpose.FALLBACK
        ):
            return messages[index + 1 :]
    return messages


def model_text(text: str) -> str:
    """One message's text as the model may read it: at most LLM_MAX_MESSAGE_CHARS characters,
    then a marker saying how much was left out (the model then knows it saw the start only)."""
    limit = settings.LLM_MAX_MESSAGE_CHARS
    if len(text) <= limit:
        return text
    return f"{text[:limit].rstrip()} … [сообщение обрезано: показаны первые {limit} из {len(text)} символов]"


def contact_card(contact: Contact) -> ContactCard:
    return ContactCard(
        name=contact.name,
        full_name=contact.full_name,
        push_name=contact.push_name,
        business_name=contact.business_name,
        phone=contact.phone,
    )


def contact_language(contact: Contact) -> str:
    """The language to write to `contact` in ("ru" or "kk", one of REPLY_LANGUAGES): that of
    their newest message that shows one (ai.rules.language), Russian when unsure. Read from the
    conversation each time, so a customer who switches language is followed at once, and a
    fixed or proactive text days later still finds it."""
    return conversation_language(customer_texts_recent(contact=contact), allowed=settings.REPLY_LANGUAGES)
