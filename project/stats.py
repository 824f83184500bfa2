"""/stats: today's counts from each app's selectors, and the depth of the Celery queues."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from ai.usage import usage_summary
from contacts.selectors import contact_counts
from followups.selectors import followup_stats
from messaging.selectors import message_counts, outbox_pending_count
from project.celery import app


def stats_today() -> dict[str, Any]:
    """Today's counts, "today" being the business's local day (TIME_ZONE)."""
    now = timezone.localtime()
    day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    day_end = day_start + timedelta(days=1)
    return {
        "date": day_start.date().isoformat(),
        "timezone": str(now.tzinfo),
        "contacts": contact_counts(since=day_start),
        "messages_today": message_counts(since=day_start, until=day_end),
        "outbox_pending": outbox_pending_count(),
        "queue_depth": queue_depths(),
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
