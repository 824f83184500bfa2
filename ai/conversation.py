"""A contact's conversation as the model reads it: customer messages are `user` turns, ours
(bot and operator) are `model` turns, oldest first, consecutive messages of one side joined."""

from __future__ import annotations

from ai.llm import ContactCard, Turn
from contacts.models import Contact
from messaging.models import Message
from messaging.selectors import conversation_recent


def conversation_turns(*, contact: Contact, limit: int) -> list[Turn]:
    turns: list[Turn] = []
    for message in conversation_recent(contact=contact, limit=limit):
        text = message.display_text.strip()
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


def contact_card(contact: Contact) -> ContactCard:
    return ContactCard(
        name=contact.name,
        full_name=contact.full_name,
        push_name=contact.push_name,
        business_name=contact.business_name,
        phone=contact.phone,
    )
