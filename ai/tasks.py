from __future__ import annotations

import structlog
from celery import shared_task
from django.utils import timezone

from messaging.models import Message

log = structlog.get_logger(__name__)


@shared_task(name="ai.process_incoming", ignore_result=True)
def process_incoming(message_id: int) -> None:
    """The AI step's entry point for a new customer message. Whatever it decides, it marks the
    message processed (once): the inbound sweeper re-hands messages that stay unprocessed.
    Until the AI layer lands it only takes the message, so the gateway's hand-off is observable."""
    taken = Message.objects.filter(pk=message_id, direction=Message.Direction.IN, processed_at__isnull=True).update(
        processed_at=timezone.now()
    )
    log.info("ai.process_incoming", message_id=message_id, taken=bool(taken))
