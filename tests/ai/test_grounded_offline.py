"""With the demo knowledge base loaded, the offline assistant quotes the price asked about,
exactly as the price list writes it."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.utils import timezone

from ai.knowledge import knowledge_load
from assistant.pipeline import incoming_process
from messaging.models import Message
from tests.factories import ContactFactory, InboundMessageFactory

DEMO = Path(__file__).resolve().parents[2] / "knowledge_base" / "demo"


@pytest.mark.django_db
def test_the_offline_assistant_quotes_the_price_row_from_the_knowledge_base(settings):
    settings.LLM_BACKEND = "offline"
    knowledge_load(path=DEMO)
    contact = ContactFactory(is_client=True)
    moment = timezone.now() - timezone.timedelta(seconds=30)
    message = InboundMessageFactory(
        contact=contact, text="Сколько стоит аренда кулера?", timestamp=moment, received_at=moment
    )
    assert incoming_process(message_id=message.pk).status == "answered"
    reply = Message.objects.get(contact=contact, direction="out").text
    assert "2 500 ₸" in reply
    assert len(reply) < 700  # two short quotes at most, not the whole price list
