"""The assistant's tasks: the inbound sweeper hands on the customer messages whose task was lost."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from assistant.tasks import sweep_inbound
from tests.factories import InboundMessageFactory


@pytest.mark.django_db
def test_a_message_whose_hand_off_was_lost_is_handed_over_by_the_sweeper(published_calls):
    lost = InboundMessageFactory(received_at=timezone.now() - timedelta(minutes=5))
    InboundMessageFactory(received_at=timezone.now())  # its task is still on the way
    InboundMessageFactory(received_at=timezone.now() - timedelta(minutes=5), processed_at=timezone.now())
    # Too old to answer now: reported to the managers instead (messaging.notify.unanswered_notify).
    InboundMessageFactory(received_at=timezone.now() - timedelta(days=3))
    voice = InboundMessageFactory(
        received_at=timezone.now() - timedelta(minutes=10), is_voice=True, voice_status="pending"
    )

    assert sweep_inbound() == "ai=1 voice=1 unanswered=1"

    assert sorted(published_calls) == [("ai.process_incoming", lost.pk), ("messaging.voice_transcribe", voice.pk)]
