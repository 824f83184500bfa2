from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import factory
from django.utils import timezone

from contacts.models import Contact, ScheduledCall, WhitelistEntry
from followups.models import FollowUp
from messaging.models import HandOff, Message

ALMATY = ZoneInfo("Asia/Almaty")


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    phone = factory.Sequence(lambda n: f"7701{n:07d}")
    chat_id = factory.LazyAttribute(lambda o: f"{o.phone}@c.us")
    name = factory.Faker("first_name", locale="ru_RU")
    full_name = factory.Faker("name", locale="ru_RU")


class ClientFactory(ContactFactory):
    """A contact the model recognised as a client (the ones the assistant and follow-ups serve)."""

    is_client = True
    classified_by = "model"


class WhitelistEntryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WhitelistEntry

    phone = factory.Sequence(lambda n: f"7707{n:07d}")
    note = "Личный номер"


class InboundMessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Message

    contact = factory.SubFactory(ContactFactory)
    direction = Message.Direction.IN
    author = Message.Author.CUSTOMER
    provider_message_id = factory.Sequence(lambda n: f"3EB0{n:016X}")
    text = "Здравствуйте, сколько стоит подключение?"
    timestamp = factory.LazyFunction(timezone.now)
    received_at = factory.LazyFunction(timezone.now)


class OutboundMessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Message

    contact = factory.SubFactory(ContactFactory)
    direction = Message.Direction.OUT
    author = Message.Author.BOT
    purpose = Message.Purpose.REPLY
    status = Message.Status.QUEUED
    text = "Спасибо за интерес! Расскажите, какую задачу хотите решить? 😊"
    timestamp = factory.LazyFunction(timezone.now)


class FollowUpFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FollowUp

    contact = factory.SubFactory(ContactFactory)
    touch_number = 1
    next_touch_at = factory.LazyFunction(lambda: timezone.now() + timedelta(hours=24))


class HandOffFactory(factory.django.DjangoModelFactory):
    """A hand-off to the managers opened five minutes ago, due in ten; `reason` names why and
    the brief repeats it, as the managers read it."""

    class Meta:
        model = HandOff

    contact = factory.SubFactory(ContactFactory)
    key = factory.Sequence(lambda n: f"handoff:{n}")
    reason = "Передача менеджеру: клиент просит человека"
    opened_at = factory.LazyFunction(lambda: timezone.now() - timedelta(minutes=5))
    due_at = factory.LazyAttribute(lambda o: o.opened_at + timedelta(minutes=15))
    brief = factory.LazyAttribute(lambda o: f"🔔 {o.reason}")


class ScheduledCallFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ScheduledCall

    contact = factory.SubFactory(ContactFactory)
    scheduled_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=1))


def customer_says(contact: Contact, text: str, *, seconds_ago: float = 30) -> Message:
    """A customer message that arrived `seconds_ago`: past the reply debounce (a few seconds),
    so the assistant step answers it at once."""
    moment = timezone.now() - timedelta(seconds=seconds_ago)
    return InboundMessageFactory(contact=contact, text=text, timestamp=moment, received_at=moment)


def wappi_incoming(
    msg_id: str = "3EB0000000000000A001",
    *,
    phone: str = "77012345678",
    text: str = "Здравствуйте! Сколько стоит тариф?",
    **fields: Any,
) -> dict[str, Any]:
    """A customer's text message as Wappi's webhook delivers it (one item of its `messages`);
    `fields` add keys or replace them."""
    return {
        "wh_type": "incoming_message",
        "id": msg_id,
        "type": "chat",
        "body": text,
        "from": f"{phone}@c.us",
        "to": "77000000000@c.us",
        "chatId": f"{phone}@c.us",
        "senderName": "Айгерим",
        "time": 1795410000,
        "timestamp": "2026-11-23T10:00:00+05:00",
        "is_me": False,
        "chat_type": "dialog",
        **fields,
    }


def local(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """A moment of the business's local time (Asia/Almaty)."""
    return datetime(year, month, day, hour, minute, tzinfo=ALMATY)


def silent_client(*, due: datetime, touch_number: int = 1, quiet_hours: float = 24, **contact_fields) -> FollowUp:
    """A client who asked, got the bot's answer `quiet_hours` before `due`, and went silent;
    their chain's touch `touch_number` is due at `due`."""
    contact = ClientFactory(**contact_fields)
    answered_at = due - timedelta(hours=quiet_hours)
    InboundMessageFactory(
        contact=contact,
        text="Здравствуйте, сколько стоит доставка воды в офис?",
        timestamp=answered_at - timedelta(minutes=5),
        received_at=answered_at - timedelta(minutes=5),
    )
    reply = OutboundMessageFactory(
        contact=contact,
        text="Здравствуйте! Доставим в любой район Алматы. Сколько бутылей нужно в неделю? 😊",
        status=Message.Status.SENT,
        timestamp=answered_at,
        sent_at=answered_at,
    )
    return FollowUpFactory(
        contact=contact, touch_number=touch_number, next_touch_at=due, anchor_message=reply, anchor_at=answered_at
    )
