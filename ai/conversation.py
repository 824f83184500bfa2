"""A contact's conversation as the model reads it: customer messages are `user` turns, ours
(bot and operator) are `model` turns, oldest first, consecutive messages of one side joined.
Each message reaches the model cut to LLM_MAX_MESSAGE_CHARS (`model_text`): a customer pasting a
book costs what a long question costs; the stored message stays whole."""

from __future__ import annotations

from django.conf import settings

from ai.llm import ContactCard, Turn
from contacts.models import Contact
from messaging.models import Message
from messaging.selectors import conversation_recent


def conversation_turns(*, contact: Contact, limit: int) -> list[Turn]:
    turns: list[Turn] = []
    for message in conversation_recent(contact=contact, limit=limit):
        text = model_text(message.display_text.strip())
        if not text or (message.direction == Message.Direction.OUT and message.status == Message.Status.FAILED):
            continue  # nothing said, or never delivered: not part of what the customer saw
        role = "user" if message.direction == Message.Direction.IN else "model"
        if turns and turns[-1].role == role:
            turns[-1] = Turn(role=role, text=f"{turns[-1].text}\n{text}")
        else:
            turns.append(Turn(role=role, text=text))
    # A conversation the model reads starts with the customer.
    while turns and turns[0].role == "model":
        turns.pop(0)
    return turns


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
