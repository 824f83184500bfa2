"""/stats: today's counts from each app's selectors, and the depth of the Celery queues: the spec's
keys (messages_received_today, messages_sent_today, voice_transcribed_today, queue_size) and
the richer ones beside them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from ai.usage import usage_summary
from contacts.selectors import contact_counts
from followups.selectors import followup_stats
from messaging.selectors import message_counts, outbox_pending_count, voice_pending_count
from project.celery import app


def stats_today() -> dict[str, Any]:
    """Today's counts, "today" being the business's local day (TIME_ZONE)."""
    now = timezone.localtime()
    day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    day_end = day_start + timedelta(days=1)
    messages = message_counts(since=day_start, until=day_end)
    outbox_pending = outbox_pending_count()
    depths = queue_depths()
    return {
        # The spec's keys (its /stats contract).
        "messages_received_today": messages["inbound"],
        "messages_sent_today": messages["outbound_sent"],
        "voice_transcribed_today": messages["inbound_voice_transcribed"],
        "queue_size": {
            # Customer messages waiting to be stored (the ingest queue; None: the broker cannot say),
            # our messages waiting to go out (the outbox), voice notes waiting for their transcript.
            "incoming": depths.get("ingest"),
            "outgoing": outbox_pending,
            "voice": voice_pending_count(),
        },
        "date": day_start.date().isoformat(),
        "timezone": str(now.tzinfo),
        "contacts": contact_counts(since=day_start),
        "messages_today": messages,
        "outbox_pending": outbox_pending,
        "queue_depth": depths,
        "llm_today": usage_summary(since=day_start, until=day_end),
        # All time, not today: a touch's reply can come two days after it.
        "followups": followup_stats(),
    }


def queue_depths() -> dict[str, int | None]:
    """Messages waiting in each Celery queue (None when the broker cannot say)."""
    depths: dict[str, int | None] = {}
    try:
        with app.connection_for_read(connect_timeout=3) as conn:
            channel = conn.default_channel
            for queue in settings.CELERY_TASK_QUEUES:
                try:
                    depths[queue.name] = channel.queue_declare(queue=queue.name, passive=True).message_count
                except Exception:  # noqa: BLE001 - a queue not declared yet holds nothing
                    depths[queue.name] = 0
    except Exception:  # noqa: BLE001 - stats must answer even when the broker does not
        return {queue.name: None for queue in settings.CELERY_TASK_QUEUES}
    return depths
